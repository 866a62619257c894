"""The sound engine's wire: the messages between the bot and its sound-engine process.

One datagram per message on a Unix `SOCK_SEQPACKET` socket pair (bounded by the kernel's
socket buffer; a full buffer drops the message, never blocks a sound callback); the first byte
says what it is.

- bot → engine: `PACKET` (one received RTP packet of the call on the speaker), `FOCUS` (the
  call the speaker plays from now on; empty: none), `RING` (the ring on or off), `QUIT`.
- engine → bot: `MIC` (one processed 20 ms microphone block), `STATUS` (JSON: the devices, the
  playout, levels, echo cancellation), `LOG` (one log record, re-emitted by the bot).

The engine's configuration is one JSON argument on its command line (`EngineConfig`). Pure.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from agent_bot.media.echo import Processing
from agent_bot.media.frames import Pcm

PACKET = ord("P")
FOCUS = ord("F")
RING = ord("R")
QUIT = ord("Q")
MIC = ord("M")
STATUS = ord("S")
LOG = ord("L")

EXIT_QUIT = 0
EXIT_BAD_USAGE = 2
EXIT_LOST = 3
"""A device stopped under the engine."""
EXIT_NO_PORTAUDIO = 4
"""PortAudio cannot be loaded (said on stderr): restarting would not help."""

MAX_MESSAGE = 64 * 1024
"""Largest message either side sends or reads."""

_PACKET = struct.Struct("<HId")


class WireError(ValueError):
    """A message that does not parse."""


Spec = int | str | None
"""A device: index, name part, or None for the system default."""


@dataclass
class EngineConfig:
    """What one engine process opens, and how it processes the microphone."""

    speaker: bool = False
    speaker_spec: Spec = None
    microphone: bool = False
    microphone_spec: Spec = None
    ringer: bool = False
    ringer_spec: Spec = None
    ringing: bool = False
    processing: Processing = field(default_factory=Processing)
    focus: str | None = None
    """The call on the speaker when the engine starts."""
    log_level: int = 20

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EngineConfig:
        try:
            fields = json.loads(text)
            fields["processing"] = Processing(**fields.get("processing", {}))
            return cls(**fields)
        except (ValueError, TypeError, AttributeError) as exc:
            raise WireError(f"not an engine configuration: {exc}") from exc


def packet(seq: int, timestamp: int, arrival: float, payload: bytes) -> bytes:
    return bytes([PACKET]) + _PACKET.pack(seq, timestamp, arrival) + payload


def parse_packet(message: bytes) -> tuple[int, int, float, bytes]:
    """(seq, timestamp, arrival, payload) of a `PACKET` message."""
    if len(message) < 1 + _PACKET.size:
        raise WireError("short packet message")
    seq, timestamp, arrival = _PACKET.unpack_from(message, 1)
    return seq, timestamp, arrival, message[1 + _PACKET.size :]


def focus(call_id: str | None) -> bytes:
    return bytes([FOCUS]) + (call_id or "").encode()


def parse_focus(message: bytes) -> str | None:
    return message[1:].decode() or None


def ring(on: bool) -> bytes:
    return bytes([RING, int(on)])


def parse_ring(message: bytes) -> bool:
    if len(message) != 2:
        raise WireError("bad ring message")
    return bool(message[1])


def mic(pcm: Pcm) -> bytes:
    return bytes([MIC]) + pcm.astype("<i2", copy=False).tobytes()


def parse_mic(message: bytes) -> Pcm:
    if len(message) % 2 != 1:
        raise WireError("odd-length microphone block")
    pcm: Pcm = np.frombuffer(message, dtype="<i2", offset=1).astype(np.int16)
    return pcm


def status(fields: dict[str, Any]) -> bytes:
    return bytes([STATUS]) + json.dumps(fields).encode()


def log(name: str, level: int, text: str) -> bytes:
    return bytes([LOG]) + json.dumps([name, level, text]).encode()


def parse_json(message: bytes) -> Any:
    """The JSON body of a `STATUS` or `LOG` message."""
    try:
        return json.loads(message[1:])
    except ValueError as exc:
        raise WireError(f"bad JSON in a {chr(message[0])!r} message: {exc}") from exc


def parse_log(message: bytes) -> tuple[str, int, str]:
    body = parse_json(message)
    if not (isinstance(body, list) and len(body) == 3):
        raise WireError("bad log message")
    name, level, text = body
    return str(name), int(level), str(text)

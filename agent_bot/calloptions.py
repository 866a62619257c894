"""How the bot sets up its calls: ICE servers, timeouts, what is sent, recorded and played."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiortc import RTCIceServer, RTCRtpReceiver

from agent_bot.media.frames import Source
from agent_bot.media.playoutstats import PlayoutStats


class CallSpeaker(Protocol):
    """A sound device that plays calls (`media.speaker.Speaker`), seen from the call."""

    @property
    def call_id(self) -> str | None:
        """The call on the speaker, if any."""

    def attach(self, receiver: RTCRtpReceiver, call_id: str) -> None: ...

    def disconnect(self, call_id: str) -> None: ...

    def stats(self, call_id: str) -> PlayoutStats | None: ...

    def sound(self, call_id: str) -> dict[str, Any] | None:
        """Levels and echo-cancellation figures while `call_id` is on the speaker."""


@dataclass
class CallOptions:
    """How calls are set up: ICE servers, timeouts, what is sent and where it is recorded."""

    source: Source
    ice_servers: list[RTCIceServer] = field(default_factory=list)
    record_dir: Path | None = None
    speaker: CallSpeaker | None = None
    connect_timeout: float = 15.0
    media_timeout: float = 10.0
    hold_source: Source | None = None
    """What a held customer hears (`--hold-audio`); None: the generated hold pattern."""

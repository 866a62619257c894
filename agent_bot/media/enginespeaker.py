"""The engine's speaker as the calls see it: which call is on it, its packets, its figures.

One call at a time is on the speaker, the newest attached one; when it ends, the newest of the
calls still attached comes back on (as with the in-process `Speaker`). The call on the speaker
is the engine's focus: its packets go to the engine as they arrive, the others' are not sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agent_bot.media import enginewire as wire
from agent_bot.media.enginedevice import EngineDevice
from agent_bot.media.playoutstats import PlayoutStats
from agent_bot.media.speakerfeed import attach_speaker

if TYPE_CHECKING:
    from agent_bot.media.soundengine import SoundEngine

logger = logging.getLogger(__name__)


class EngineSpeaker:
    """The speaker of a `SoundEngine`: a `CallSpeaker` for the calls, a `Device` for the desk."""

    def __init__(self, engine: SoundEngine) -> None:
        self._engine = engine
        self._attached: list[str] = []

    @property
    def call_id(self) -> str | None:
        """The call on the speaker."""
        return self._engine.focus

    @property
    def device(self) -> EngineDevice:
        return self._engine.devices["speaker"]

    @property
    def running(self) -> bool:
        return self._engine.alive and self.device.running

    def start(self) -> None:
        self._engine.start()

    def close(self) -> None:
        self._engine.close()

    def attach(self, receiver: Any, call_id: str) -> None:
        """Put the call `receiver` receives on the speaker."""
        attach_speaker(receiver, self, call_id)

    def connect(self, call_id: str) -> None:
        if call_id in self._attached:
            self._attached.remove(call_id)
        self._attached.append(call_id)
        self._engine.set_focus(call_id)

    def disconnect(self, call_id: str) -> None:
        if call_id not in self._attached:
            return
        self._attached.remove(call_id)
        if self._engine.focus == call_id:
            self._engine.set_focus(self._attached[-1] if self._attached else None)

    def put(self, call_id: str, seq: int, timestamp: int, arrival: float, payload: bytes) -> None:
        if call_id == self._engine.focus:
            self._engine.send(wire.packet(seq, timestamp, arrival, payload))

    def stats(self, call_id: str) -> PlayoutStats | None:
        """Playout figures of `call_id` while it is on the speaker (the engine's last word)."""
        playout = self._focused(call_id).get("playout")
        return None if playout is None else PlayoutStats(**playout)

    def rms(self, call_id: str) -> float:
        return float(self._focused(call_id).get("speaker_rms", 0.0))

    def sound(self, call_id: str) -> dict[str, Any] | None:
        """Levels and echo-cancellation figures while `call_id` is on the speaker."""
        status = self._focused(call_id)
        if not status:
            return None
        return {
            "speaker_rms": status.get("speaker_rms", 0.0),
            "mic_rms": status.get("mic_rms", 0.0),
            "echo": status.get("echo"),
            "engine_restarts": self._engine.restarts,
        }

    def _focused(self, call_id: str) -> dict[str, Any]:
        status = self._engine.status
        return status if status.get("call") == call_id else {}

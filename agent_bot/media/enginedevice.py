"""The sound engine's devices as the bot sees them: state, retries, switching; the capture view.

`EngineDevice` follows one device (speaker or microphone) of the engine from its status
messages, counts the failed opens and gives up after the last retry, and switches the device
(the desk's device picker) by restarting the engine on the new one. `EngineCapture` is the
`Capture` a `Microphone` reads when its device is the engine's; `EngineRinger` the desk's ring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent_bot.media.frames import Pcm

if TYPE_CHECKING:
    from agent_bot.media.soundengine import SoundEngine

logger = logging.getLogger(__name__)


class EngineDevice:
    """One device of the sound engine: its state in the running engine, and its retries."""

    def __init__(self, role: str, spec: int | str | None, restart: Callable[[str], None]) -> None:
        self.role = role
        self._spec = spec
        self._restart = restart
        self.state = "off"
        """off (no engine), opening, open, unavailable (could not open), stopped."""
        self.reason: str | None = None
        self.index: int | None = None
        self.opened = 0
        """How many times an engine opened it."""
        self.gave_up = False
        self.stuck = False
        self._failures = 0

    @property
    def spec(self) -> int | str | None:
        return self._spec

    @property
    def running(self) -> bool:
        return self.state == "open"

    @property
    def unavailable(self) -> bool:
        return self.state == "unavailable"

    @property
    def stopped(self) -> bool:
        return self.state == "stopped"

    def update(self, fields: dict[str, Any]) -> None:
        """The engine's latest word on this device."""
        state = str(fields.get("state", "off"))
        if state == "open" and self.state != "open":
            self.opened += 1
            self._failures = 0
        self.state = state
        self.reason = fields.get("reason")
        self.index = fields.get("index")
        self.stuck = bool(fields.get("stuck"))

    def engine_gone(self) -> None:
        self.state = "off"
        self.stuck = False

    def failed(self, retries: int, retry_seconds: float) -> None:
        """The engine could not open it: retry, or give up after `retries`."""
        self._failures += 1
        if self._failures > retries:
            self.gave_up = True
            logger.error("%s: giving up on the sound device: %s", self.role, self.reason)
            return
        logger.warning(
            "%s: sound device unavailable (%s); retry %d/%d in %.0f s",
            self.role,
            self.reason,
            self._failures,
            retries,
            retry_seconds,
        )

    def renew(self) -> None:
        """Try it again from the first retry (the devices changed, or it was switched)."""
        self.gave_up = False
        self._failures = 0

    def switch(self, spec: int | str | None) -> None:
        """Use another device from now on (the engine restarts on it; calls go on)."""
        logger.info("%s: switching to device %r", self.role, spec)
        self._spec = spec
        self.renew()
        self._restart(f"{self.role} switched to device {spec!r}")


class EngineCapture:
    """The engine's microphone, as the `Capture` of a `Microphone`."""

    def __init__(self, engine: SoundEngine) -> None:
        self._engine = engine

    @property
    def device(self) -> EngineDevice:
        return self._engine.devices["microphone"]

    @property
    def running(self) -> bool:
        return self._engine.alive and self.device.running

    @property
    def rms(self) -> float:
        return float(self._engine.status.get("mic_rms", 0.0)) if self.running else 0.0

    def start(self, deliver: Callable[[Pcm], None]) -> None:
        self._engine.on_mic = deliver
        self._engine.start()

    def close(self) -> None:
        self._engine.on_mic = None
        self._engine.close()


class EngineRinger:
    """The engine's ring (the desk's `Ring`): on while a call rings."""

    def __init__(self, engine: SoundEngine) -> None:
        self._engine = engine

    @property
    def running(self) -> bool:
        return self._engine.alive and self._engine.devices["ringer"].running

    def ring(self, on: bool) -> None:
        self._engine.ring(on)

    def start(self) -> None:
        self._engine.start()

    def close(self) -> None:
        self._engine.close()

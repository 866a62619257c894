"""The ring: the generated ring pattern on an output device while a call rings.

The device stays open (it plays silence between rings), so a ring starts at once; it may be
another device than the call's (`--ring-device`: laptop speakers while a headset takes calls).
A missing or vanished device is retried like the speaker's; calls never wait. `agent-bot desk`
rings in the sound engine (`engineprocess`), like its speaker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from agent_bot.media.devices import DeviceKeeper, open_stream, sd
from agent_bot.media.patterns import ring_pattern

logger = logging.getLogger(__name__)

BLOCK_SAMPLES = 960


class Ringer:
    """`ring(True)` starts the pattern from its beginning, `ring(False)` stops it."""

    def __init__(
        self, device: int | str | None = None, *, on_lost: Callable[[str], None] | None = None
    ) -> None:
        """`on_lost`: see `DeviceKeeper`."""
        self._keeper = DeviceKeeper("ringer", device, "output", self._open, on_lost=on_lost)
        self._pattern = ring_pattern()
        self._lock = threading.Lock()
        self._position = 0
        self.ringing = False

    @property
    def running(self) -> bool:
        return self._keeper.running

    @property
    def device(self) -> DeviceKeeper:
        return self._keeper

    def start(self) -> None:
        """Opens the device (on the running event loop); failures are logged and retried."""
        self._keeper.start()

    def close(self) -> None:
        self._keeper.close()

    def ring(self, on: bool) -> None:
        with self._lock:
            if on and not self.ringing:
                self._position = 0
                logger.info("ringing")
            self.ringing = on

    def _open(self, index: int, on_stop: Any) -> sd.OutputStream:
        stream: sd.OutputStream = open_stream(
            "output", index, BLOCK_SAMPLES, self._callback, on_stop
        )
        return stream

    def _callback(self, outdata: Any, frames: int, time: Any, status: sd.CallbackFlags) -> None:
        self._keeper.beat()
        with self._lock:
            if not self.ringing:
                outdata.fill(0)
                return
            start = self._position
            self._position = (start + frames) % len(self._pattern)
        indices = (start + np.arange(frames)) % len(self._pattern)
        outdata[:, 0] = self._pattern[indices]

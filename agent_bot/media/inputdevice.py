"""An input device captured in this process: the microphone's blocks as PortAudio gives them.

`DeviceCapture` keeps an input stream open (`DeviceKeeper`: retries, stalls, stuck PortAudio)
and hands each 20 ms block on, with its capture delay. It is what a `Microphone` reads in
this process, and what the sound engine captures with. `Capture` is the interface a
`Microphone` reads (this, or the sound engine's `EngineCapture`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from agent_bot.media.devices import RETRIES, RETRY_SECONDS, DeviceKeeper, open_stream, sd
from agent_bot.media.frames import FRAME_SAMPLES, Pcm
from agent_bot.media.level import LevelMeter


class Capture(Protocol):
    """Where a `Microphone`'s blocks come from: a device here, or the sound engine's."""

    @property
    def running(self) -> bool:
        """Whether an open device is capturing."""

    @property
    def rms(self) -> float:
        """RMS level (full scale = 1.0) captured over the last ~100 ms."""

    def start(self, deliver: Callable[[Pcm], None]) -> None:
        """Starts capturing (on the running event loop); `deliver` gets each block on it."""

    def close(self) -> None: ...


class DeviceCapture:
    """An input device (index, name substring, or default) captured in this process.

    Each 20 ms block goes to `on_block` in PortAudio's thread, with the capture delay
    (seconds from the ADC to the callback); by default it is handed to the event loop.
    """

    def __init__(
        self,
        device: int | str | None = None,
        *,
        retries: int | None = None,
        retry_seconds: float | None = None,
        on_block: Callable[[Pcm, float], None] | None = None,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        self._keeper = DeviceKeeper(
            "microphone",
            device,
            "input",
            self._open,
            retries=RETRIES if retries is None else retries,
            retry_seconds=RETRY_SECONDS if retry_seconds is None else retry_seconds,
            on_lost=on_lost,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deliver: Callable[[Pcm], None] | None = None
        self._on_block = on_block
        self._level = LevelMeter()

    @property
    def device(self) -> DeviceKeeper:
        return self._keeper

    @property
    def running(self) -> bool:
        return self._keeper.running

    @property
    def rms(self) -> float:
        return self._level.rms

    def start(self, deliver: Callable[[Pcm], None] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        if deliver is not None:
            self._deliver = deliver
        self._keeper.start()

    def close(self) -> None:
        self._keeper.close()

    def _open(self, index: int, on_stop: Any) -> sd.InputStream:
        stream: sd.InputStream = open_stream("input", index, FRAME_SAMPLES, self._callback, on_stop)
        return stream

    def _callback(self, indata: Any, frames: int, time: Any, status: sd.CallbackFlags) -> None:
        self._keeper.beat()
        pcm: Pcm = indata[:, 0].copy()
        self._level.update(pcm)
        if self._on_block is not None:
            self._on_block(pcm, max(float(time.currentTime - time.inputBufferAdcTime), 0.0))
            return
        loop, deliver = self._loop, self._deliver
        if loop is None or deliver is None:
            return
        try:
            loop.call_soon_threadsafe(deliver, pcm)
        except RuntimeError:  # the event loop is closed
            return

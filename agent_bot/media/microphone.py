"""The microphone: a sound device's input sent as the local track of the call in focus.

A sounddevice `InputStream` (48 kHz mono, 20 ms blocks) hands each block to the event loop,
where it joins the queue of the newest live track (`create_track`: one call at a time has the
microphone; the other tracks send silence; when the newest track ends, the newest live one
left gets the microphone). A track sends its queued frames as they come,
paced by the microphone. Without a working device (missing, busy, vanished; or silent for
`STALL_SECONDS` although open) it sends silence on its own 20 ms schedule: the call never has a
gap. The queue is bounded (`QUEUE_FRAMES`): if the event loop stalls, the oldest frames are
dropped and counted.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from agent_bot.media.frames import FRAME_SAMPLES, FRAME_SECONDS, Pcm, SentReporter
from agent_bot.media.level import LevelMeter

if TYPE_CHECKING:
    from agent_bot.media.inputdevice import Capture
from agent_bot.media.sources import audio_frame

logger = logging.getLogger(__name__)

QUEUE_FRAMES = 10
"""Frames (200 ms) a track holds at most; beyond that the oldest are dropped."""

STALL_SECONDS = 0.2
"""How late a frame from an open microphone may be before the track sends silence instead."""

SILENCE: Pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16)


class MicrophoneTrack(MediaStreamTrack, SentReporter):
    """One call's audio track from the microphone: 20 ms mono frames, no gaps."""

    kind = "audio"

    def __init__(self, fed: Callable[[MicrophoneTrack], bool] = lambda track: False) -> None:
        MediaStreamTrack.__init__(self)
        SentReporter.__init__(self)
        self._fed = fed
        self._frames: collections.deque[Pcm] = collections.deque()
        self._ready = asyncio.Event()
        self._deadline: float | None = None
        self._pts = 0
        self._level = LevelMeter()
        self.dropped = 0
        """Frames dropped because the queue was full (the event loop stalled)."""
        self.silent = 0
        """Frames of silence sent because the microphone had nothing."""

    @property
    def rms(self) -> float:
        """RMS level (full scale = 1.0) sent over the last ~100 ms."""
        return self._level.rms

    def push(self, pcm: Pcm) -> None:
        """Queues one microphone frame (on the event loop)."""
        if len(self._frames) >= QUEUE_FRAMES:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(pcm)
        self._ready.set()

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now
        # an open device paces the track; without one, silence keeps the 20 ms schedule
        deadline = self._deadline + (STALL_SECONDS if self._fed(self) else 0.0)
        while not self._frames and self.readyState == "live":
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                break
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                break
        now = time.monotonic()
        if self._frames:
            pcm = self._frames.popleft()
            self._deadline = now + FRAME_SECONDS
        else:
            pcm = SILENCE
            self.silent += 1
            following = self._deadline + FRAME_SECONDS
            self._deadline = following if following > now else now + FRAME_SECONDS
        frame = audio_frame(pcm, self._pts)
        self._pts += len(pcm)
        self._level.update(pcm)
        self.report_sent(pcm)
        return frame


class Microphone:
    """A `Source` whose tracks send what a `Capture` captures (by default an input device:
    index, name substring, or the default)."""

    def __init__(
        self,
        device: int | str | None = None,
        *,
        retries: int | None = None,
        retry_seconds: float | None = None,
        capture: Capture | None = None,
    ) -> None:
        """Without `capture`: the `device` in this process (`inputdevice.DeviceCapture`; the
        sound engine's microphone is given as `capture`, and this process needs no PortAudio)."""
        if capture is None:
            from agent_bot.media.inputdevice import DeviceCapture  # noqa: PLC0415 (PortAudio)

            capture = DeviceCapture(device, retries=retries, retry_seconds=retry_seconds)
        self._capture: Capture = capture
        self._tracks: list[MicrophoneTrack] = []

    @property
    def device(self) -> Any:
        """The device the capture keeps open (`DeviceKeeper` or the engine's view of it)."""
        return getattr(self._capture, "device", None)

    @property
    def rms(self) -> float:
        """RMS level (full scale = 1.0) the device captured over the last ~100 ms."""
        return self._capture.rms

    def start(self) -> None:
        """Starts capturing (on the running event loop); failures are logged and retried."""
        self._capture.start(self._deliver)

    def create_track(self) -> MicrophoneTrack:
        """A new track, which takes the microphone from the previous one."""
        self.start()
        track = MicrophoneTrack(self._feeds)
        self._tracks = [t for t in self._tracks if t.readyState == "live"] + [track]
        return track

    def close(self) -> None:
        self._capture.close()
        self._tracks.clear()

    def _feeds(self, track: MicrophoneTrack) -> bool:
        """Whether an open device is feeding `track` (the newest live one)."""
        return self._capture.running and bool(self._tracks) and self._tracks[-1] is track

    def _deliver(self, pcm: Pcm) -> None:
        while self._tracks and self._tracks[-1].readyState != "live":
            self._tracks.pop()
        if self._tracks:
            self._tracks[-1].push(pcm)

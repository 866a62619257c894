"""Re-blocking of sample streams into fixed frames, and the echo canceller's stream delay.

Sound devices deliver blocks of whatever size PortAudio picks; the audio processing module
takes exactly 10 ms frames. A `Framer` cuts a stream into such frames and says how many samples
it holds back; a `SampleQueue` gives processed frames back in the device's block size, late by
less than a frame when blocks are not whole frames (zeros at first), on time when they are.
`DelayEstimate` turns device latencies and those holdings into the delay the echo canceller
is told (see `livekit.rtc.AudioProcessingModule.set_stream_delay_ms`).
"""

from __future__ import annotations

from collections import deque
from statistics import median

import numpy as np

from agent_bot.media.frames import Pcm

DELAY_WINDOW = 50
"""Blocks each side of the delay estimate takes the median of (1 s of 20 ms blocks)."""

MAX_DEVICE_DELAY_S = 1.0
"""A device latency beyond this (or negative, or not a number) is a host API that does not
report its timing (PortAudio gives 0 for the times then): the block is left out."""


class SampleQueue:
    """A FIFO of int16 samples, written and read in blocks of any size.

    The first read that finds too few samples gets zeros in front of them: the shortfall, or
    `slack` if that is more. Everything read afterwards comes that much later; fed from a
    `Framer`, a slack of one frame less a sample means no later read ever falls short.
    """

    def __init__(self, capacity: int = 2048, slack: int = 0) -> None:
        self._buffer = np.zeros(capacity, dtype=np.int16)
        self._held = 0
        self._slack = slack
        self.lag = 0
        """Zeros put in so far (samples): how far what is read lags what was written."""

    @property
    def held(self) -> int:
        """Samples written and not read yet."""
        return self._held

    def write(self, pcm: Pcm) -> None:
        self._reserve(self._held + len(pcm))
        self._buffer[self._held : self._held + len(pcm)] = pcm
        self._held += len(pcm)

    def read(self, count: int) -> Pcm:
        """The next `count` samples (zeros in front of them when too few are held)."""
        if count > self._held:
            zeros = max(count - self._held, self._slack if not self.lag else 0)
            self._reserve(self._held + zeros)
            self._buffer[zeros : zeros + self._held] = self._buffer[: self._held]
            self._buffer[:zeros] = 0
            self._held += zeros
            self.lag += zeros
        out = self._buffer[:count].copy()
        self._buffer[: self._held - count] = self._buffer[count : self._held]
        self._held -= count
        return out

    def _reserve(self, size: int) -> None:
        if size > len(self._buffer):
            grown = np.zeros(max(size, 2 * len(self._buffer)), dtype=np.int16)
            grown[: self._held] = self._buffer[: self._held]
            self._buffer = grown


class Framer:
    """Cuts a stream written in blocks of any size into frames of exactly `size` samples."""

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError(f"frame size must be positive, not {size}")
        self.size = size
        self._queue = SampleQueue(4 * size)

    @property
    def held(self) -> int:
        """Samples kept for the next frame (always fewer than `size`)."""
        return self._queue.held

    def push(self, pcm: Pcm) -> list[Pcm]:
        """The frames `pcm` completes, in order (possibly none)."""
        self._queue.write(pcm)
        return [self._queue.read(self.size) for _ in range(self._queue.held // self.size)]


class DelayEstimate:
    """The stream delay for the echo canceller: from a far-end frame's analysis to its echo's
    processing, the median of recent blocks.

    It is the sum of two spans, each measured for the first frame a block completes. Render:
    from the frame's analysis to the first of its samples reaching the DAC; samples the render
    framer held back were played earlier than the block, so they shorten it. Capture: from the
    ADC taking the frame's first sample to its processing; held samples were captured before
    the block, so they lengthen it.
    """

    def __init__(self, sample_rate: int, window: int = DELAY_WINDOW) -> None:
        self._sample_rate = sample_rate
        self._render: deque[float] = deque(maxlen=window)
        self._capture: deque[float] = deque(maxlen=window)

    def rendered(self, delay_s: float, held: int) -> None:
        """A block went to the device, due at the DAC `delay_s` from now, with `held` samples
        in the render framer before it."""
        if 0.0 <= delay_s <= MAX_DEVICE_DELAY_S:
            self._render.append(delay_s - held / self._sample_rate)

    def captured(self, delay_s: float, held: int) -> None:
        """A block came from the device, its first sample captured `delay_s` ago, with `held`
        samples in the capture framer before it."""
        if 0.0 <= delay_s <= MAX_DEVICE_DELAY_S:
            self._capture.append(delay_s + held / self._sample_rate)

    @property
    def ms(self) -> float | None:
        """The smoothed delay in ms; None until both directions have a block."""
        if not (self._render and self._capture):
            return None
        return (median(self._render) + median(self._capture)) * 1000.0

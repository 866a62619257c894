"""Audio level meter: the RMS level of the last ~100 ms, for status displays and reports."""

from __future__ import annotations

import numpy as np

from agent_bot.media.frames import SAMPLE_RATE, Pcm

WINDOW_SECONDS = 0.1


class LevelMeter:
    """Exponentially smoothed RMS level (full scale = 1.0) of the PCM it is fed."""

    def __init__(self) -> None:
        self._mean_square = 0.0

    @property
    def rms(self) -> float:
        return float(np.sqrt(self._mean_square))

    def update(self, pcm: Pcm) -> None:
        if not len(pcm):
            return
        mean_square = float(np.mean(np.square(pcm, dtype=np.float64))) / 32768.0**2
        weight = min(1.0, len(pcm) / (SAMPLE_RATE * WINDOW_SECONDS))
        self._mean_square += (mean_square - self._mean_square) * weight

    def reset(self) -> None:
        self._mean_square = 0.0


class CallLevels:
    """An `AudioTap` for one call: the level of what it receives and of what it sends."""

    def __init__(self) -> None:
        self.received = LevelMeter()
        self.sent = LevelMeter()

    def write(self, pcm: Pcm) -> None:
        self.received.update(pcm)

    def write_sent(self, pcm: Pcm) -> None:
        self.sent.update(pcm)

    def close(self) -> None:
        self.received.reset()
        self.sent.reset()

"""Capture: one call's received and sent audio kept in memory for the QA verdict.

The two streams are lined up on one clock exactly as in a recording (`StereoTimeline`), so
sample 0 of the received audio arrived while sample 0 of the sent audio was being sent. Only
the first `max_seconds` are kept: enough to judge a call, bounded for load runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.media.recorder import RECEIVED, SENT, StereoTimeline

TAKE_SECONDS = 0.5


class Capture:
    """An `AudioTap` that keeps the first `max_seconds` of both directions of a call."""

    def __init__(self, max_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._limit = round(max_seconds * SAMPLE_RATE)
        self._timeline: StereoTimeline | None = None
        self._chunks: list[Pcm] = []
        self._taken_at = 0.0
        self._closed = False

    def write(self, pcm: Pcm) -> None:
        """Received audio."""
        self._add(RECEIVED, pcm)

    def write_sent(self, pcm: Pcm) -> None:
        self._add(SENT, pcm)

    def close(self) -> None:
        if not self._closed and self._timeline is not None:
            self._chunks.append(self._timeline.finish())
        self._closed = True

    def channels(self) -> tuple[Pcm, Pcm]:
        """(received, sent), mono int16, at most `max_seconds` each."""
        stereo = np.concatenate([*self._chunks, np.zeros(0, np.int16)]).reshape(-1, 2)
        stereo = stereo[: self._limit]
        return stereo[:, RECEIVED].copy(), stereo[:, SENT].copy()

    def _add(self, channel: int, pcm: Pcm) -> None:
        if self._closed:
            return
        now = self._clock()
        if self._timeline is None:
            self._timeline = StereoTimeline(now - len(pcm) / SAMPLE_RATE)
            self._taken_at = now
        self._timeline.add(channel, pcm, now)
        if now - self._taken_at >= TAKE_SECONDS:
            self._taken_at = now
            self._chunks.append(self._timeline.take(now))
            if self._timeline.written >= self._limit:
                self._closed = True

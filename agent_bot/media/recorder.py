"""Recorder: one call's audio in a stereo 48 kHz 16-bit WAV, left = received, right = sent.

Format: a plain WAV whose RIFF and data sizes are rewritten after every write (the standard
`wave` module does this: it seeks back to the header, patches both sizes and seeks to the end),
and whose file object is flushed at least every `FLUSH_SECONDS`. Flushed data sits in the
kernel's page cache, which survives the death of the process, so a bot killed with SIGKILL
leaves a valid WAV holding everything but the last fraction of a second (no `fsync`: that only
matters for a machine crash). WAV rather than Ogg/Opus: no encoder on the event loop, every
player and `wave`/PyAV read it, and sample-exact audio for the QA correlation checks.

The two channels are aligned on the call's timeline (`StereoTimeline`): each side's samples
are placed one after the other by count, and when a side has sent nothing for more than
`GAP_SECONDS` (media not started yet, stalled, or ended) its gap is filled with silence up to
the wall clock, so the left/right delay in the file is the real one.
"""

from __future__ import annotations

import logging
import re
import time
import wave
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from agent_bot.media.frames import SAMPLE_RATE, Pcm

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
GAP_SECONDS = 0.1

RECEIVED = 0
SENT = 1


class RecorderError(Exception):
    """The recording file cannot be written."""


class StereoTimeline:
    """Lines up two mono streams (received, sent) into stereo on one clock; pure logic."""

    def __init__(self, start: float, gap: float = GAP_SECONDS) -> None:
        self._start = start
        self._gap = round(gap * SAMPLE_RATE)
        self._pending: list[list[Pcm]] = [[], []]
        self._ends = [0, 0]  # position after each channel's last sample
        self._started = [False, False]
        self.written = 0  # position up to which both channels have been taken

    def add(self, channel: int, pcm: Pcm, now: float) -> None:
        """Appends `pcm` to one channel, after silence if that channel fell behind the clock.

        A channel's first frame is placed exactly at its arrival time; later frames only when
        they are more than the gap late (jitter within the gap inserts nothing).
        """
        gap = self._gap if self._started[channel] else 0
        self._started[channel] = True
        self._catch_up(channel, self._position(now) - len(pcm), gap)
        self._append(channel, pcm)

    def take(self, now: float) -> Pcm:
        """Interleaved stereo samples ready on both channels; a channel silent for longer than
        the gap is first filled with silence up to the clock."""
        for channel in (RECEIVED, SENT):
            self._catch_up(channel, self._position(now), self._gap)
        return self._interleave(min(self._ends))

    def finish(self) -> Pcm:
        """Everything left, the shorter channel padded with silence."""
        end = max(self._ends)
        for channel in (RECEIVED, SENT):
            self._append(channel, np.zeros(end - self._ends[channel], dtype=np.int16))
        return self._interleave(end)

    def _position(self, now: float) -> int:
        return round((now - self._start) * SAMPLE_RATE)

    def _catch_up(self, channel: int, position: int, gap: int) -> None:
        missing = position - self._ends[channel]
        if missing > gap:
            self._append(channel, np.zeros(missing, dtype=np.int16))

    def _append(self, channel: int, pcm: Pcm) -> None:
        if len(pcm):
            self._pending[channel].append(pcm)
            self._ends[channel] += len(pcm)

    def _interleave(self, end: int) -> Pcm:
        count = end - self.written
        stereo = np.empty((count, 2), dtype=np.int16)
        for channel in (RECEIVED, SENT):
            samples = np.concatenate([*self._pending[channel], np.zeros(0, dtype=np.int16)])
            stereo[:, channel] = samples[:count]
            rest = samples[count:]
            self._pending[channel] = [rest] if len(rest) else []
        self.written = end
        return stereo.reshape(-1)


class Recorder:
    """Records one call; an `AudioSink` for the received audio, `write_sent` for the sent."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self._clock = clock
        try:
            self._file = self.path.open("wb")
        except OSError as exc:
            raise RecorderError(f"cannot record to {self.path}: {exc.strerror}") from exc
        self._wave = wave.open(self._file, "wb")  # noqa: SIM115 (open for the whole call)
        self._wave.setnchannels(2)
        self._wave.setsampwidth(2)
        self._wave.setframerate(SAMPLE_RATE)
        self._wave.writeframes(b"")  # a valid, empty WAV from the start
        self._file.flush()
        now = clock()
        self._timeline = StereoTimeline(now)
        self._flushed_at = now
        self._closed = False
        logger.info("recording to %s", self.path)

    @classmethod
    def for_call(cls, directory: str | Path, call_id: str) -> Recorder:
        """A recorder writing `<call id>-<UTC time>.wav` in `directory`."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", call_id) or "call"
        return cls(Path(directory) / f"{name}-{stamp}.wav")

    def write(self, pcm: Pcm) -> None:
        """Records received audio (left channel)."""
        self._add(RECEIVED, pcm)

    def write_sent(self, pcm: Pcm) -> None:
        """Records sent audio (right channel); a sent-listener of the call's track."""
        self._add(SENT, pcm)

    def close(self) -> None:
        """Writes what is left and closes the file; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        try:
            self._write(self._timeline.finish())
            self._wave.close()
            self._file.close()
        except OSError as exc:
            logger.error("recording %s: cannot finish: %s", self.path, exc)
            return
        logger.info("recording %s closed: %.2f s", self.path, self._timeline.written / SAMPLE_RATE)

    def _add(self, channel: int, pcm: Pcm) -> None:
        if self._closed:
            return
        now = self._clock()
        self._timeline.add(channel, pcm, now)
        if now - self._flushed_at >= FLUSH_SECONDS:
            self._flushed_at = now
            try:
                self._write(self._timeline.take(now))
            except OSError as exc:
                logger.error("recording %s: cannot write, recording stopped: %s", self.path, exc)
                self._closed = True
                self._file.close()

    def _write(self, stereo: Pcm) -> None:
        self._wave.writeframes(stereo.tobytes())
        self._file.flush()

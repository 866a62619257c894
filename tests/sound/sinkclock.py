"""When a null sink rendered each sample, from when its monitor's chunks were read.

A null sink's clock is not this machine's, and not even steady: PulseAudio's null sink advances
its clock by each rendered chunk's duration truncated to whole microseconds, so it runs 40-150
ppm fast while it renders in odd-sized chunks, and changes pace when the chunks change size
(docs/sound.md, "Drift"). One line fitted to a whole call then bends the latency measured in
its middle by several milliseconds. So the clock here is local: each sample's capture time
comes from a line fitted to the points within `SPAN_S` of it.

The points are the earliest arrival of each `BIN_S` of chunks (a chunk's last sample was
captured at the latest when it was read, so the least delayed chunks tell the clock), less
those over `OUTLIER_S` from the median of their neighbours (an idle sink renders seconds
ahead of time).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.ndimage import median_filter
from scipy.stats import theilslopes

from agent_bot.media.frames import SAMPLE_RATE

Seconds = npt.NDArray[np.float64]

BIN_S = 1.0
"""Recorded seconds per point."""

SPAN_S = 20.0
"""Recorded seconds of points each local line is fitted to (centred on the sample)."""

NEIGHBOURS = 11
"""Points (seconds) whose median a point is held to."""

OUTLIER_S = 0.002
"""A point this far off its neighbours' median is left out."""

MIN_POINTS = 3


class SinkClock:
    """Capture time of each recorded sample, and the sink's pace, from its chunks' arrivals."""

    def __init__(self, samples: Seconds, times: Seconds) -> None:
        """`samples`: samples recorded up to each chunk's end; `times`: when it was read."""
        if len(samples) == 0:
            raise ValueError("no chunks to tell the clock from")
        xs, ys = earliest_points(samples, times)
        if len(xs) >= NEIGHBOURS:
            keep = np.abs(ys - median_filter(ys, NEIGHBOURS, mode="nearest")) <= OUTLIER_S
            if np.count_nonzero(keep) >= MIN_POINTS:
                xs, ys = xs[keep], ys[keep]
        self._xs = xs
        self._ys = ys
        """(sample index, capture time minus index / rate) per point."""
        if len(xs) >= MIN_POINTS:
            slope, _, _, _ = theilslopes(ys, xs)
            self.slope = float(slope)
        else:
            self.slope = 0.0
        """Seconds per sample beyond the nominal rate, over the whole recording."""

    @property
    def rate_ppm(self) -> float:
        """How much faster than this machine's clock the sink rendered, over the recording."""
        return rate_ppm(self.slope)

    def time_of(self, index: float) -> float:
        """When recorded sample `index` was captured (the clock of the arrival times)."""
        half = SPAN_S * SAMPLE_RATE / 2
        near = np.flatnonzero(np.abs(self._xs - index) <= half)
        if len(near) < MIN_POINTS:
            near = np.argsort(np.abs(self._xs - index))[:MIN_POINTS]
        xs, ys = self._xs[near], self._ys[near]
        if len(near) < MIN_POINTS or np.ptp(xs) == 0:
            offset = float(np.min(ys))
        else:
            _, intercept = np.polyfit(xs - index, ys, 1)
            offset = float(intercept)
        return offset + index / SAMPLE_RATE


def earliest_points(samples: Seconds, times: Seconds) -> tuple[Seconds, Seconds]:
    """(samples, time − samples / rate) of the earliest arrival of each `BIN_S` of chunks."""
    offsets = times - samples / SAMPLE_RATE
    bins = (samples // (BIN_S * SAMPLE_RATE)).astype(np.int64)
    edges = [*np.flatnonzero(np.diff(bins)) + 1, len(bins)]
    xs, ys, start = [], [], 0
    for end in edges:
        best = start + int(np.argmin(offsets[start:end]))
        xs.append(samples[best])
        ys.append(offsets[best])
        start = end
    return np.array(xs), np.array(ys)


def rate_ppm(slope: float) -> float:
    """How much faster than nominal a clock runs whose samples come `slope` seconds each later
    than nominal."""
    return (1 / (1 + slope * SAMPLE_RATE) - 1) * 1e6

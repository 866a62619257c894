"""The null-sink monitor's clock fit (a test instrument: `tests/sound/pulse.py`)."""

from __future__ import annotations

import numpy as np

from tests.sound.pulse import SAMPLE_RATE, rate_ppm, sink_clock


def test_a_fast_sink_and_an_idle_tail_are_told_apart() -> None:
    """A sink 160 ppm fast, chunks read 0-8 ms late, and at the end 1.5 s rendered ahead (the
    sink went idle): the rate and the start come out right."""
    rng = np.random.default_rng(0)
    samples = 480.0 * np.arange(1, 30_000)
    times = 100 + samples / (SAMPLE_RATE * (1 + 160e-6)) + rng.uniform(0, 0.008, len(samples))
    times[-300:] -= 1.5
    start, slope = sink_clock(samples, times)
    assert abs(rate_ppm(slope) - 160) < 1
    assert abs(start - 100) < 0.001

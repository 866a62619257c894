"""The null-sink monitor's clock (a test instrument: `tests/sound/sinkclock.py`)."""

from __future__ import annotations

import numpy as np
import pytest

from agent_bot.media.frames import SAMPLE_RATE
from tests.sound.sinkclock import Seconds, SinkClock

CHUNK = 480.0
"""Samples per chunk read (10 ms)."""


def reads(capture: Seconds, seed: int = 0) -> tuple[Seconds, Seconds]:
    """(samples recorded, when read) per chunk for chunks whose last samples were captured at
    `capture`, each read 0-8 ms late."""
    rng = np.random.default_rng(seed)
    samples: Seconds = CHUNK * np.arange(1, len(capture) + 1, dtype=np.float64)
    return samples, capture + rng.uniform(0, 0.008, len(capture))


def worst_error(clock: SinkClock, capture: Seconds) -> float:
    """Largest error (s) of `time_of` over the chunk ends, but for the last 20 s."""
    indices = CHUNK * np.arange(1, len(capture) + 1)
    every = range(0, len(capture) - 2_000, 100)
    return max(abs(clock.time_of(float(indices[k])) - float(capture[k])) for k in every)


def test_a_fast_sink_and_an_idle_tail_are_told_apart() -> None:
    """A sink 160 ppm fast, and at the end 1.5 s rendered ahead (the sink went idle): the rate
    and the capture times come out right."""
    ends = CHUNK * np.arange(1, 30_000, dtype=np.float64)
    capture: Seconds = 100 + ends / (SAMPLE_RATE * (1 + 160e-6))
    samples, times = reads(capture)
    times[-300:] -= 1.5
    clock = SinkClock(samples, times)
    assert abs(clock.rate_ppm - 160) < 1
    assert abs(clock.time_of(0) - 100) < 0.001
    assert worst_error(clock, capture) < 0.0005


def test_a_sink_that_changes_pace_is_followed() -> None:
    """60 ppm fast for 100 s, then 200 ppm for 200 s (its chunks changed size): every sample's
    capture time within 0.5 ms, where one line for the whole recording is 3 ms off."""
    seconds = CHUNK / SAMPLE_RATE * np.ones(30_000)
    seconds[:10_000] /= 1 + 60e-6
    seconds[10_000:] /= 1 + 200e-6
    capture: Seconds = 50 + np.cumsum(seconds)
    samples, times = reads(capture, seed=1)
    clock = SinkClock(samples, times)
    assert worst_error(clock, capture) < 0.0005
    assert 100 < clock.rate_ppm < 200
    line = np.polyval(np.polyfit(samples, capture, 1), samples)
    assert np.max(np.abs(line - capture)) > 0.003


def test_no_chunks_is_an_error() -> None:
    with pytest.raises(ValueError, match="no chunks"):
        SinkClock(np.zeros(0), np.zeros(0))

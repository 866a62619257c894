"""The load benchmarks' figures: frame-rate bins, echo delay, delay growth, caller stalls; the
floor benchmark's steps."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from caller import (
    FRAME_RATE,
    STEP,
    LagMeter,
    SentAudio,
    Tally,
    decimated,
    growth_ms,
)
from calls_per_core import cpu_bound
from floor import per_call_us
from floor_steps import Floor, build, measure_floor, paced_floor, parse, srtp_pair
from load import LoadResult

from agent_bot.media.frames import FRAME_SAMPLES


async def test_a_steady_stream_gives_50_frames_per_bin_whatever_its_phase() -> None:
    tally = await stream([10.0 + 0.02 * k + 0.0193 for k in range(200)])
    assert tally.bins(10.5, 3) == [50.0, 50.0, 50.0]


async def test_a_stall_shows_in_its_bin_and_the_burst_in_the_next() -> None:
    # No packets from 11.9 s, then the five late ones at once just after 12 s.
    arrivals = [9.0 + 0.02 * k + 0.005 for k in range(250)]
    arrivals = [12.001 if 11.9 <= at < 12.0 else at for at in arrivals]
    tally = await stream(arrivals)
    first, stalled, burst = tally.bins(10.0, 3)
    assert first == 50.0
    assert 44 < stalled < 49.5
    assert burst > 50.5


async def stream(arrivals: list[float]) -> Tally:
    tally = Tally()
    for index, at in enumerate(arrivals):
        await tally.add(SimpleNamespace(payload=b"x", timestamp=index * FRAME_SAMPLES))
        tally.arrivals[-1] = at
    return tally


async def test_transit_growth_sees_a_send_schedule_slip() -> None:
    tally = Tally()
    for index in range(1000):  # 20 s; from 10 s on every packet arrives 100 ms later
        await tally.add(SimpleNamespace(payload=b"x", timestamp=index * FRAME_SAMPLES))
        tally.arrivals[-1] = index * 0.02 + (0.1 if index >= 500 else 0.0)
    assert growth_ms(tally.transits(0.0, 20.0), 0.0, 20.0) == pytest.approx(100, abs=1)
    assert growth_ms(tally.transits(0.0, 9.9), 0.0, 9.9) == pytest.approx(0, abs=1)


@pytest.mark.parametrize("delay", [0.0412, 0.2, 1.337])
def test_echo_delay_is_found_in_what_was_sent(delay: float) -> None:
    rng = np.random.default_rng(7)
    sample = (rng.standard_normal(FRAME_SAMPLES * 250) * 3000).astype(np.int16)  # 5 s
    sent = SentAudio(sample)
    sent.times = [100.0 + k * 0.02 for k in range(600)]  # 12 s sent, looping the sample
    # What arrives at `at`: the audio sent `delay` s before, one second of it.
    at = 106.0
    position = round((at - delay - 100.0) * 48_000)
    looped = np.concatenate([sample, sample, sample])
    received = looped[position : position + FRAME_SAMPLES * FRAME_RATE]
    found = sent.delay(decimated(received), at)
    assert found == pytest.approx(delay, abs=0.001)


def test_echo_delay_needs_enough_sent_audio() -> None:
    sent = SentAudio(np.ones(FRAME_SAMPLES * 10, dtype=np.int16))
    sent.times = [0.0, 0.02]
    assert sent.delay(np.ones(STEP * FRAME_RATE), 0.05) is None


def test_caller_stalls_mark_their_bin_and_the_next() -> None:
    meter = LagMeter()
    meter.stalls = [(12.9, 13.2), (20.5, 20.6), (25.05, 25.2)]
    assert meter.disturbed_bins(10.0, 20) == [2, 3, 4, 10, 11, 14, 15, 16]
    assert meter.disturbed_bins(10.0, 11) == [2, 3, 4, 10]


def result(calls: int, cpu: float, *, cores: int = 1) -> LoadResult:
    return LoadResult(
        agent="bot", calls=calls, connected=calls, cpu_percent=cpu, rss_per_call_mb=1.0,
        min_fps=50.0 if cpu < 85 * cores else 40.0, growth_ms=0.0, caller_cpu_percent=10.0,
        caller_lag_max_ms=0.0, disturbed_bins=0, load="", setup_s=1.0, cores=cores,
    )  # fmt: skip


def test_cpu_capacity_fits_a_fixed_cost_and_a_cost_per_call() -> None:
    # 10 % fixed, 1 % per call; the overloaded run is left out of the fit.
    assert cpu_bound([result(10, 20.0), result(40, 50.0), result(100, 99.0)]) == 90
    assert cpu_bound([result(20, 40.0, cores=2)]) == 100
    assert cpu_bound([result(20, 99.0)]) == 20


def test_cpu_capacity_leaves_out_runs_failed_by_a_starved_caller() -> None:
    starved = replace(result(60, 120.0, cores=2), min_fps=0.0, caller_lag_max_ms=300.0)
    assert cpu_bound([result(20, 50.0, cores=2), result(40, 90.0, cores=2), starved]) == 95


def test_the_floor_steps_do_the_real_work() -> None:
    tx, rx = srtp_pair()
    packet = build((7, b"opus"), 99)
    protected = tx.protect(packet)
    assert protected != packet
    (_, _, seq, _, ssrc), payload = parse(rx.unprotect(protected))
    assert (seq, ssrc, payload) == (7, 99, b"opus")


def test_the_floor_sums_both_directions_and_pools_passes() -> None:
    times: dict[str, list[float]] = {}
    floor = measure_floor(64, 2, times)
    steps = Floor.RECEIVE + Floor.SEND
    assert all(floor.steps[name] > 0 for name in steps)
    assert floor.per_call == pytest.approx(sum(floor.steps[name] for name in steps))
    measure_floor(64, 1, times)
    assert {len(values) for values in times.values()} == {3}


def test_the_paced_floor_and_cpu_per_call() -> None:
    assert paced_floor(2, 0.1) > 0
    assert per_call_us(10.0, 5) == pytest.approx(400.0)  # 2 % of a core each: 400 µs per 20 ms

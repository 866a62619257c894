"""The drift check's residual latency (a test instrument: `tests/sound/driftresult.py`)."""

from __future__ import annotations

from dataclasses import replace

from tests.sound.driftresult import DriftResult
from tests.sound.playoutgauges import PlayoutSample

SECONDS = 150


def result(latency: list[float], target: list[float], device: float = 30.0) -> DriftResult:
    """A call whose second k had `latency[k]` at the monitor and `target[k]` in the gauges,
    scraped 0.3 s into the second."""
    return DriftResult(
        ppm=300.0,
        sender_ppm=300.0,
        sink_ppm=0.0,
        stalls=0,
        stalled_frames=0,
        latencies=[(float(k), ms) for k, ms in enumerate(latency)],
        seconds=float(len(latency)),
        playout={},
        logged_drift_ppm=0.0,
        device_underruns=0,
        steal=[],
        gauges=[PlayoutSample(k + 0.3, ms, ms, device) for k, ms in enumerate(target)],
    )


def test_a_transient_in_part_of_a_minute_does_not_move_its_residual() -> None:
    """A disturbance raises the latency 25 ms for 35 s of the first minute and the target with
    it for the first 15 of them (the playout then takes 20 s to drain the excess): that minute's
    median latency less its median target would read 25 ms too high; its median second, not."""
    latency = [60.0 + (25.0 if 30 <= k < 65 else 0.0) for k in range(SECONDS)]
    target = [40.0 + (25.0 if 30 <= k < 45 else 0.0) for k in range(SECONDS)]
    run = result(latency, target)
    minutes = (run.first_minute, run.last_minute)
    assert run.moved("latency", *minutes) == -25.0
    assert run.moved("residual", *minutes) == 0.0
    assert run.value("residual", *run.last_minute) == -10.0


def test_depth_the_target_does_not_explain_moves_the_residual() -> None:
    """The latency creeps 12 ms over the call while the target holds: the residual says so."""
    run = result([50.0 + 12.0 * k / SECONDS for k in range(SECONDS)], [40.0] * SECONDS)
    moved = run.moved("residual", run.first_minute, run.last_minute)
    assert moved is not None and 5.5 < moved < 6.5


def test_seconds_without_gauges_near_them_have_no_residual() -> None:
    """Gauges only for the first 100 s: the last 50 s have no residual, not a stale one."""
    run = result([60.0] * SECONDS, [40.0] * 100)
    assert len(run.residuals()) == 100
    assert run.residual(110.0, 150.0) is None


def test_a_device_that_stepped_says_how_far() -> None:
    """The device's latency 29.5 ms, then 34.5 from 70 s (PortAudio's block phase after a
    stall): 5 ms; a steady device: 0."""
    steady = result([60.0] * SECONDS, [40.0] * SECONDS, device=29.5)
    assert steady.device_steps() == 0.0
    stepped = result([60.0] * SECONDS, [40.0] * SECONDS)
    stepped.gauges = [
        replace(sample, device=29.5 if sample.at < 70 else 34.5) for sample in stepped.gauges
    ]
    assert stepped.device_steps() == 5.0


def test_the_estimate_error_is_held_to_the_sender_against_the_sink() -> None:
    """Sender +300 ppm, sink +40 ppm fast: the truth is +260; an estimate of +275 is 15 off."""
    run = result([60.0] * SECONDS, [40.0] * SECONDS)
    run.sink_ppm, run.playout = 40.0, {"drift_ppm": 275.0}
    assert run.estimate_error == 15.0

"""The drift estimate apart from the playout: steps on either side are not drift."""

from __future__ import annotations

import numpy as np

from agent_bot.media.clockdrift import MAX_DRIFT_PPM, POINT_PACKETS, ClockDrift, Stretches
from agent_bot.media.frames import SAMPLE_RATE

PERIOD_S = 0.02


def feed(
    drift: ClockDrift,
    ppm: float,
    seconds: float,
    *,
    sender_step: tuple[float, float] = (0.0, 0.0),
    device_step: tuple[float, float] = (0.0, 0.0),
) -> None:
    """Packets every 20 ms of a sender `ppm` fast against a device on the arrival clock; from
    `sender_step[0]` s on they come `sender_step[1]` s later, and from `device_step[0]` s on the
    device is `device_step[1]` s ahead (after a late pull)."""
    for k in range(int(seconds / PERIOD_S)):
        at = 100.0 + k * PERIOD_S
        media = k * PERIOD_S * (1 + ppm / 1e6) * SAMPLE_RATE
        if at - 100 >= sender_step[0]:
            at += sender_step[1]
        ahead = device_step[1] if at - 100 >= device_step[0] else 0.0
        if device_step[1] and abs(at - 100 - device_step[0]) < PERIOD_S / 2:
            drift.late()
        drift.arrival(media, (at - 100 + ahead) * SAMPLE_RATE, at)


def test_stretches_share_one_slope_whatever_their_offsets() -> None:
    stretches = Stretches()
    for x in np.arange(0, 10, 0.5):
        stretches.add(x, 3 * x)
    stretches.cut()
    for x in np.arange(10, 20, 0.5):
        stretches.add(x, 3 * x - 500)
    assert abs(stretches.slope() - 3) < 1e-9


def test_no_estimate_before_enough_points() -> None:
    drift = ClockDrift()
    feed(drift, 1000, 2 * POINT_PACKETS * PERIOD_S)
    assert drift.drift == 0.0


def test_drift_is_measured_with_its_sign() -> None:
    for ppm in (300.0, -1000.0):
        drift = ClockDrift()
        feed(drift, ppm, 60)
        assert abs(drift.drift * 1e6 - ppm) < 2


def test_a_sender_step_and_a_device_step_are_not_drift() -> None:
    drift = ClockDrift()
    feed(drift, -300, 90, sender_step=(30, 0.15), device_step=(60, 0.008))
    assert abs(drift.drift * 1e6 - -300) < 5


def test_the_estimate_is_bounded() -> None:
    drift = ClockDrift()
    feed(drift, 5000, 30)
    assert drift.drift * 1e6 == MAX_DRIFT_PPM

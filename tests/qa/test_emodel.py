"""E-model: G.107 reference points, monotonicity, and refusals of impossible inputs."""

import itertools

import pytest

from agent_bot.qa.emodel import (
    OPUS_NO_PLC,
    OPUS_PLC,
    Codec,
    delay_impairment,
    estimate,
    loss_impairment,
    mos_from_r,
    mouth_to_ear_ms,
    r_factor,
)


def test_defaults_give_the_g107_reference_rating() -> None:
    # G.107: with every parameter at its default, R = 93.2 (MOS 4.41).
    assert r_factor(0, 0) == pytest.approx(93.2, abs=0.05)
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.005)


@pytest.mark.parametrize(("r", "mos"), [(-5, 1.0), (0, 1.0), (50, 2.58), (80, 4.02), (120, 4.5)])
def test_mos_mapping_points(r: float, mos: float) -> None:
    assert mos_from_r(r) == pytest.approx(mos, abs=0.01)


@pytest.mark.parametrize("delay", [0, 50, 100, 177.3, 200, 250, 300])
def test_delay_impairment_agrees_with_the_published_linear_fit(delay: float) -> None:
    # Cole & Rosenbluth (2001) fitted G.107's Id (defaults, up to ~300 ms):
    # Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3).
    fit = 0.024 * delay + 0.11 * max(0.0, delay - 177.3)
    assert delay_impairment(delay) == pytest.approx(fit, abs=1.5)


def test_mos_falls_with_delay_and_with_loss() -> None:
    delays = [mos_from_r(r_factor(d, 0)) for d in range(0, 801, 25)]
    assert all(a > b for a, b in itertools.pairwise(delays))
    losses = [mos_from_r(r_factor(100, p)) for p in (0, 0.5, 1, 2, 5, 10, 20)]
    assert all(a > b for a, b in itertools.pairwise(losses))


def test_loss_impairment_formula() -> None:
    assert loss_impairment(0, OPUS_NO_PLC) == 0
    # Ie,eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl)
    codec = Codec("test", ie=10, bpl=20)
    assert loss_impairment(5, codec) == pytest.approx(10 + 85 * 5 / 25)
    assert loss_impairment(5, codec, burst_ratio=2) == pytest.approx(10 + 85 * 5 / 22.5)
    # Concealment makes the same loss hurt less.
    assert loss_impairment(5, OPUS_PLC) < loss_impairment(5, OPUS_NO_PLC)


def test_mouth_to_ear_delay_adds_framing_lookahead_and_buffer() -> None:
    assert mouth_to_ear_ms(40) == pytest.approx(20 + 20 + 6.5 + 80)
    assert mouth_to_ear_ms(40, jitter_ms=60) == pytest.approx(20 + 20 + 6.5 + 120)


def test_estimate_carries_its_inputs() -> None:
    quality = estimate(150, 1)
    assert (quality.one_way_ms, quality.loss_percent) == (150, 1)
    assert quality.mos == pytest.approx(mos_from_r(quality.r))


@pytest.mark.parametrize(
    "call",
    [
        lambda: delay_impairment(-1),
        lambda: loss_impairment(-0.1, OPUS_NO_PLC),
        lambda: loss_impairment(101, OPUS_NO_PLC),
        lambda: loss_impairment(1, OPUS_NO_PLC, burst_ratio=0),
        lambda: mouth_to_ear_ms(-5),
    ],
)
def test_impossible_inputs_are_refused(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]

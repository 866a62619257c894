"""Verdict: which checks fail, and the reasons given, for the situations a QA run meets."""

import numpy as np
import pytest

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.qa.verdict import Thresholds, judge_call
from tests.qa.records import Call, Transport
from tests.qa.signals import delayed, opus_round_trip

STRICT = Thresholds(min_mos=4.0, min_correlation=0.8, max_delay_ms=400)


def test_a_clean_echo_passes_every_check(speech: Pcm) -> None:
    received = delayed(opus_round_trip(speech), 180)
    verdict = judge_call(Call(), STRICT, reference=speech, received=received, echo=True)
    assert verdict.passed, verdict.failures
    assert verdict.audio is not None and verdict.audio.delay_ms == pytest.approx(186.5, abs=1)
    # Echo: half the measured round trip is the one-way delay the E-model rates.
    assert verdict.quality is not None
    assert verdict.quality.one_way_ms == pytest.approx(verdict.audio.delay_ms / 2)


def test_a_silent_far_end_fails_correlation_and_delay(speech: Pcm) -> None:
    silence = np.zeros(len(speech), np.int16)
    verdict = judge_call(Call(), STRICT, reference=speech, received=silence, echo=True)
    assert not verdict.passed and not verdict.errored
    reasons = {f.check: f.reason for f in verdict.failures}
    assert set(reasons) == {"correlation", "delay"}
    assert "silence" in reasons["correlation"]


def test_nothing_received_at_all_fails_without_error(speech: Pcm) -> None:
    verdict = judge_call(Call(), STRICT, reference=speech, received=None)
    assert {f.check for f in verdict.failures} == {"correlation", "delay"}


def test_a_silent_reference_says_so(speech: Pcm) -> None:
    silence = np.zeros(2 * SAMPLE_RATE, np.int16)
    verdict = judge_call(Call(), STRICT, reference=silence, received=speech)
    assert [f.reason for f in verdict.failures] == [
        "no reference signal: the reference is silent"
    ] * 2


def test_low_correlation_names_figures(speech: Pcm) -> None:
    received = delayed(speech, 50)[: len(speech) // 3]
    verdict = judge_call(
        Call(), Thresholds(min_correlation=0.8), reference=speech, received=received
    )
    (failure,) = verdict.failures
    assert failure.check == "correlation"
    assert "< 0.80" in failure.reason and "% of windows silent or missing" in failure.reason


def test_late_audio_fails_the_delay_check(speech: Pcm) -> None:
    received = delayed(speech, 650)
    verdict = judge_call(Call(), STRICT, reference=speech, received=received)
    assert [f.reason for f in verdict.failures] == ["delay 650 ms > 400 ms"]


def test_loss_lowers_mos_below_the_threshold() -> None:
    lossy = Call(stats=Transport(packets_received=475, packets_lost=25))
    verdict = judge_call(lossy, Thresholds(min_mos=4.0))
    assert verdict.quality is not None and verdict.quality.loss_percent == pytest.approx(5)
    (failure,) = verdict.failures
    assert failure.check == "mos" and "5.0 % loss" in failure.reason
    assert judge_call(Call(), Thresholds(min_mos=4.0)).passed


def test_an_echo_hears_the_loss_of_both_legs() -> None:
    stats = Transport(
        packets_sent=1000, remote_packets_lost=50, packets_received=950, packets_lost=50
    )
    echoed = judge_call(Call(stats=stats), Thresholds(), echo=True).quality
    one_way = judge_call(Call(stats=stats), Thresholds(), echo=False).quality
    assert echoed is not None and one_way is not None
    assert echoed.loss_percent == pytest.approx(100 * (1 - 0.95 * 0.95))
    assert one_way.loss_percent == pytest.approx(5)


def test_without_a_measured_delay_mos_uses_rtt_and_buffers() -> None:
    quality = judge_call(Call(stats=Transport(rtt_ms=100, jitter_ms=5)), Thresholds()).quality
    assert quality is not None and quality.one_way_ms == pytest.approx(50 + 26.5 + 80)


def test_a_call_that_did_not_run_is_an_error_not_a_quality_failure(speech: Pcm) -> None:
    verdict = judge_call(Call(error="no agent answered"), STRICT, reference=speech)
    assert verdict.errored and [f.reason for f in verdict.failures] == ["no agent answered"]
    assert verdict.quality is None and verdict.audio is None
    unconnected = judge_call(Call(connected=False), STRICT)
    assert [f.reason for f in unconnected.failures] == ["the call never connected"]


def test_thresholds_without_a_reference_fail_rather_than_pass_silently() -> None:
    verdict = judge_call(Call(), Thresholds(min_correlation=0.5))
    assert [f.reason for f in verdict.failures] == [
        "no reference to compare the received audio with"
    ]


def test_a_lagging_caller_makes_the_call_inconclusive_not_failed(speech: Pcm) -> None:
    thresholds = Thresholds(min_correlation=0.8, max_caller_lag_ms=100)
    received = delayed(speech, 200)
    calm = judge_call(Call(), thresholds, reference=speech, received=received, caller_lag_ms=20)
    assert calm.passed
    busy = judge_call(Call(), thresholds, reference=speech, received=received, caller_lag_ms=450)
    assert busy.errored and [f.check for f in busy.failures] == ["caller"]
    assert "450 ms" in busy.failures[0].reason
    unmeasured = judge_call(Call(), thresholds, reference=speech, received=received)
    assert unmeasured.passed

"""Verdict: which checks fail, with which reason code, for the situations a QA run meets."""

import numpy as np
import pytest

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.qa.score import LISTENING, MOS_LQO, Score
from agent_bot.qa.verdict import (
    OFF,
    Thresholds,
    Verdict,
    judge,
    judge_call,
    measure,
)
from tests.qa.records import Call, Transport
from tests.qa.signals import SAMPLES, delayed, opus_round_trip, read_wav

STRICT = Thresholds(min_mos=4.0, min_correlation=0.8, max_delay_ms=400)


def codes(verdict: Verdict) -> list[str]:
    return [f.code for f in verdict.failures]


def test_a_clean_echo_passes_the_defaults(speech: Pcm) -> None:
    received = delayed(opus_round_trip(speech), 180)
    verdict = judge_call(Call(), Thresholds(), reference=speech, received=received, echo=True)
    assert verdict.passed, verdict.failures
    assert verdict.audio is not None and verdict.audio.delay_ms == pytest.approx(186.5, abs=1)
    # Echo: half the measured round trip is the one-way delay the E-model rates.
    assert verdict.quality is not None
    assert verdict.quality.one_way_ms == pytest.approx(verdict.audio.delay_ms / 2)
    assert [s.label for s in verdict.scores] == ["MOS-CQE"]


def test_a_silent_far_end_fails_by_default(speech: Pcm) -> None:
    silence = np.zeros(len(speech), np.int16)
    verdict = judge_call(Call(), Thresholds(), reference=speech, received=silence, echo=True)
    assert not verdict.passed and not verdict.errored
    assert codes(verdict) == ["far-end-silent"]
    assert "silence" in verdict.failures[0].reason
    assert codes(judge_call(Call(), Thresholds(), reference=speech, received=None)) == [
        "far-end-silent"
    ]


def test_silent_in_most_speaking_windows_is_a_silent_far_end(speech: Pcm) -> None:
    received = delayed(speech, 50)[: len(speech) // 3]
    verdict = judge_call(Call(), Thresholds(), reference=speech, received=received)
    assert codes(verdict) == ["far-end-silent"]
    assert "% of the windows where the reference speaks" in verdict.failures[0].reason


def test_another_sample_is_wrong_content(speech: Pcm) -> None:
    other = read_wav(SAMPLES / "weather-48k.wav")
    received = np.resize(other, len(speech))
    verdict = judge_call(Call(), Thresholds(), reference=speech, received=received)
    assert codes(verdict) == ["wrong-content"]
    assert verdict.failures[0].check == "correlation"


def test_a_listening_score_under_its_floors(speech: Pcm) -> None:
    measured = measure(Call(), reference=speech, received=speech, echo=False)
    low = Score(LISTENING, MOS_LQO, "ViSQOL", "test", {}, 1.4)
    verdict = judge(Call(), measured, Thresholds(), scores=(low,))
    assert codes(verdict) == ["low-quality"]
    wrong = judge(Call(), measured, Thresholds(min_content_lqo=2.0), scores=(low,))
    assert codes(wrong) == ["wrong-content"]
    unscored = Score(LISTENING, MOS_LQO, "ViSQOL", "test", {}, None, "too short")
    assert judge(Call(), measured, Thresholds(), scores=(unscored,)).passed


def test_a_silent_reference_is_inconclusive(speech: Pcm) -> None:
    silence = np.zeros(2 * SAMPLE_RATE, np.int16)
    verdict = judge_call(Call(), STRICT, reference=silence, received=speech)
    assert codes(verdict) == ["inconclusive"] and verdict.errored
    assert verdict.failures[0].reason == "no reference signal: the reference is silent"


def test_late_audio_is_too_late(speech: Pcm) -> None:
    verdict = judge_call(Call(), STRICT, reference=speech, received=delayed(speech, 650))
    assert [(f.code, f.reason) for f in verdict.failures] == [("too-late", "delay 650 ms > 400 ms")]


def test_no_media_and_one_way(speech: Pcm) -> None:
    nothing = judge_call(Call(frames_received=0), Thresholds(), reference=speech)
    assert codes(nothing) == ["no-media"]
    unsent = judge_call(Call(frames_sent=0), Thresholds(), reference=speech, received=speech)
    assert codes(unsent) == ["one-way"]
    unreported = Call(stats=Transport(rtt_ms=None, remote_packets_lost=None))
    verdict = judge_call(unreported, Thresholds(), reference=speech, received=speech)
    assert codes(verdict) == ["one-way"] and "RTCP" in verdict.failures[0].reason


def test_an_unknown_far_end_fails_silence_and_one_way_only(speech: Pcm) -> None:
    unknown = Thresholds(reference_known=False)
    other = read_wav(SAMPLES / "weather-48k.wav")
    assert judge_call(Call(), unknown, received=other).passed
    silent = judge_call(Call(), unknown, received=np.zeros(len(speech), np.int16))
    assert codes(silent) == ["far-end-silent"]
    assert codes(judge_call(Call(frames_sent=0), unknown, received=other)) == ["one-way"]


def test_loss_lowers_mos_below_the_threshold() -> None:
    lossy = Call(stats=Transport(packets_received=475, packets_lost=25))
    verdict = judge_call(lossy, Thresholds(min_mos=4.0, reference_known=False),
                         received=read_wav(SAMPLES / "hello-48k.wav"))  # fmt: skip
    assert verdict.quality is not None and verdict.quality.loss_percent == pytest.approx(5)
    (failure,) = verdict.failures
    assert (failure.check, failure.code) == ("mos", "low-quality")
    assert "5.0 % loss" in failure.reason
    assert verdict.scores[0].value == pytest.approx(verdict.quality.mos)


def test_an_echo_hears_the_loss_of_both_legs() -> None:
    stats = Transport(
        packets_sent=1000, remote_packets_lost=50, packets_received=950, packets_lost=50
    )
    echoed = judge_call(Call(stats=stats), OFF, echo=True).quality
    one_way = judge_call(Call(stats=stats), OFF, echo=False).quality
    assert echoed is not None and one_way is not None
    assert echoed.loss_percent == pytest.approx(100 * (1 - 0.95 * 0.95))
    assert one_way.loss_percent == pytest.approx(5)


def test_without_a_measured_delay_mos_uses_rtt_and_buffers() -> None:
    quality = judge_call(Call(stats=Transport(rtt_ms=100, jitter_ms=5)), OFF).quality
    assert quality is not None and quality.one_way_ms == pytest.approx(50 + 26.5 + 80)


def test_a_call_that_did_not_run_is_an_error_not_a_quality_failure(speech: Pcm) -> None:
    verdict = judge_call(Call(error="no agent answered"), STRICT, reference=speech)
    assert verdict.errored and [f.reason for f in verdict.failures] == ["no agent answered"]
    assert codes(verdict) == ["no-media"]
    assert verdict.quality is None and verdict.audio is None
    unconnected = judge_call(Call(connected=False), STRICT)
    assert [f.reason for f in unconnected.failures] == ["the call never connected"]


def test_a_lagging_caller_makes_the_call_inconclusive_not_failed(speech: Pcm) -> None:
    thresholds = Thresholds(min_correlation=0.8, max_caller_lag_ms=100)
    received = delayed(speech, 200)
    calm = judge_call(Call(), thresholds, reference=speech, received=received, caller_lag_ms=20)
    assert calm.passed
    busy = judge_call(Call(), thresholds, reference=speech, received=received, caller_lag_ms=450)
    assert busy.errored and [f.check for f in busy.failures] == ["caller"]
    assert codes(busy) == ["inconclusive"] and "450 ms" in busy.failures[0].reason
    unmeasured = judge_call(Call(), thresholds, reference=speech, received=received)
    assert unmeasured.passed

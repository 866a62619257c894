"""Audio comparison: delay, windowed correlation and silent share on real speech and Opus."""

import numpy as np
import pytest

from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from agent_bot.qa.comparison import compare, estimate_delay, has_signal
from tests.qa.signals import delayed, opus_round_trip


@pytest.mark.parametrize(("delay_ms", "gain"), [(0, 1.0), (137.3, 0.3), (200, 1.0), (1234, 0.05)])
def test_delay_is_found_to_the_sample_whatever_the_level(
    speech: Pcm, delay_ms: float, gain: float
) -> None:
    found = estimate_delay(speech, delayed(speech, delay_ms, gain))
    assert found == pytest.approx(delay_ms, abs=1000 / SAMPLE_RATE)


def test_leading_silence_and_noise_do_not_move_the_delay(speech: Pcm) -> None:
    rng = np.random.default_rng(7)
    reference = np.concatenate([np.zeros(SAMPLE_RATE, np.int16), speech])
    received = delayed(reference, 250, 0.5).astype(np.float64)
    received += rng.normal(0, 200, len(received))  # about -44 dBFS of noise
    comparison = compare(reference, received.astype(np.int16))
    assert comparison.delay_ms == pytest.approx(250, abs=0.1)
    assert comparison.correlation is not None and comparison.correlation > 0.95


def test_opus_round_trip_correlates_in_every_window(speech: Pcm) -> None:
    comparison = compare(speech, opus_round_trip(speech))
    assert comparison.delay_ms is not None and 0 <= comparison.delay_ms <= 10  # codec lookahead
    assert len(comparison.windows) == 11  # 10.9 s in windows of about 1 s
    assert min(w.correlation for w in comparison.windows) > 0.95
    assert comparison.silent_share == 0


def test_lost_frames_lower_the_correlation(speech: Pcm) -> None:
    frames = len(speech) // FRAME_SAMPLES
    clean = compare(speech, opus_round_trip(speech))
    lossy = compare(speech, opus_round_trip(speech, frozenset(range(0, frames, 5))))
    assert clean.correlation is not None and lossy.correlation is not None
    assert lossy.correlation < clean.correlation - 0.05


def test_silent_received_audio_correlates_zero_without_error(speech: Pcm) -> None:
    comparison = compare(speech, np.zeros(len(speech), np.int16))
    assert comparison.received_silent
    assert comparison.delay_ms is None
    assert comparison.correlation == 0
    assert comparison.silent_share == 1


def test_nothing_received_counts_every_window_missing(speech: Pcm) -> None:
    comparison = compare(speech, np.zeros(0, np.int16))
    assert comparison.silent_share == 1 and comparison.correlation == 0


def test_short_received_audio_counts_the_missing_windows(speech: Pcm) -> None:
    received = delayed(speech, 100)[: len(speech) // 2]
    comparison = compare(speech, received)
    assert comparison.delay_ms == pytest.approx(100, abs=0.1)
    assert comparison.silent_share == pytest.approx(6 / 11)
    present = [w for w in comparison.windows if w.lag_ms is not None]
    assert all(w.correlation > 0.99 for w in present)


def test_unrelated_audio_does_not_correlate(speech: Pcm) -> None:
    noise = np.random.default_rng(3).normal(0, 3000, len(speech)).astype(np.int16)
    comparison = compare(speech, noise)
    assert comparison.correlation is not None and comparison.correlation < 0.2


def test_silent_reference_is_reported_not_judged(speech: Pcm) -> None:
    comparison = compare(np.zeros(3 * SAMPLE_RATE, np.int16), speech)
    assert comparison.reference_silent
    assert comparison.correlation is None and comparison.delay_ms is None
    assert not has_signal(np.zeros(SAMPLE_RATE, np.int16))


def test_windows_follow_slow_playout_drift(speech: Pcm) -> None:
    # The far end's playout stretches: 4 ms of silence inserted every second (44 ms in all).
    pieces = []
    for start in range(0, len(speech), SAMPLE_RATE):
        pieces += [speech[start : start + SAMPLE_RATE], np.zeros(192, np.int16)]
    stretched = np.concatenate(pieces)
    comparison = compare(speech, stretched)
    assert comparison.correlation is not None and comparison.correlation > 0.95
    lags = [w.lag_ms for w in comparison.windows if w.lag_ms is not None]
    assert lags[-1] - lags[0] > 30  # the search window moved beyond its ±20 ms


def test_a_long_call_is_compared(speech: Pcm) -> None:
    reference = np.tile(speech, 12)  # 2.2 minutes of a looping sample
    comparison = compare(reference, delayed(reference, 320))
    assert comparison.delay_ms == pytest.approx(320, abs=0.1)
    assert len(comparison.windows) > 120


@pytest.mark.parametrize(
    "bad",
    [np.zeros(10, np.float32), np.zeros((10, 2), np.int16), [0, 1, 2]],
)
def test_wrong_pcm_is_refused_with_a_clear_error(speech: Pcm, bad: object) -> None:
    with pytest.raises(ValueError, match="1-D int16"):
        compare(speech, bad)  # type: ignore[arg-type]


def test_windows_relock_after_a_step_in_the_delay(speech: Pcm) -> None:
    # A receive buffer grows by 150 ms at 5 s: the rest of the call arrives that much later.
    step = 5 * SAMPLE_RATE
    received = np.concatenate(
        [delayed(speech[:step], 100), np.zeros(150 * 48, np.int16), speech[step:]]
    )
    comparison = compare(speech, received)
    lags = [w.lag_ms for w in comparison.windows]
    assert lags[:4] == [pytest.approx(100, abs=0.1)] * 4
    assert lags[-4:] == [pytest.approx(250, abs=0.1)] * 4
    assert comparison.correlation is not None and comparison.correlation > 0.9


def test_a_window_whose_received_part_is_a_pause_counts_as_missing(speech: Pcm) -> None:
    # Speech only in the second half of the last window, and the recording stops mid-window.
    reference = np.concatenate([speech[: 2 * SAMPLE_RATE], np.zeros(SAMPLE_RATE // 2, np.int16),
                                speech[: SAMPLE_RATE // 2]])  # fmt: skip
    received = reference[: 2 * SAMPLE_RATE + SAMPLE_RATE // 2 + 100]
    with np.errstate(all="raise"):
        comparison = compare(reference, received)
    assert [w.lag_ms is None for w in comparison.windows] == [False, False, True]

"""The windowed correlation the browser tests judge audio with (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser.similarity import SAMPLE_RATE, window_correlations


def noise_bursts(seconds: float, seed: int) -> np.ndarray:
    """Speech-like test signal: noise whose loudness changes every 100 ms."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SAMPLE_RATE)
    envelope = np.repeat(rng.uniform(0.05, 0.5, n // 4800 + 1), 4800)[:n]
    return rng.standard_normal(n) * envelope * 0.3


def test_a_shifted_looping_copy_matches() -> None:
    reference = noise_bursts(5, seed=1)
    # Starts 2.3 s into the reference and wraps around, as a looping fake microphone does.
    start = round(2.3 * SAMPLE_RATE)
    received = 0.5 * np.concatenate([reference[start:], reference, reference[:start]])
    scores = window_correlations(received, reference)
    assert len(scores) == 10
    assert min(scores) > 0.999


def test_each_window_is_aligned_on_its_own() -> None:
    reference = noise_bursts(6, seed=2)
    # 10 ms dropped mid-stream (playout squeezing): one global alignment would miss half.
    cut = round(3.0 * SAMPLE_RATE)
    received = np.concatenate([reference[:cut], reference[cut + 480 :]])
    scores = window_correlations(received, reference)
    assert np.median(scores) > 0.99


def test_other_audio_does_not_match() -> None:
    scores = window_correlations(noise_bursts(4, seed=3), noise_bursts(4, seed=4))
    assert len(scores) == 4
    assert max(scores) < 0.1


def test_silent_windows_are_not_judged() -> None:
    received = np.concatenate([np.zeros(2 * SAMPLE_RATE), noise_bursts(2, seed=5)])
    assert len(window_correlations(received, noise_bursts(2, seed=5))) == 2


def test_a_reference_shorter_than_a_window_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than one window"):
        window_correlations(noise_bursts(2, seed=6), noise_bursts(0.5, seed=6))

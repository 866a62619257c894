"""How well received audio matches a looping reference, in 1-s windows aligned one by one.

Unlike `agent_bot.qa.comparison`, the two signals share no time origin here: Chromium's fake
microphone starts its file when the page opens the microphone, and loops it. So each active
window of the received audio is searched for anywhere in the reference (taken as looping), and
keeps its best normalised correlation: browser playout stretches and squeezes audio by a few
ms, so one alignment for the whole call would not do.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

SAMPLE_RATE = 48_000
ACTIVE_DBFS = -45.0
"""A received window quieter than this (RMS, dB full scale) is a pause, not judged."""


def read_wav(path: Path) -> tuple[Floats, ...]:
    """The channels of a 16-bit PCM WAV at 48 kHz, as floats in [-1, 1]."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getframerate() != SAMPLE_RATE:
            raise ValueError(f"{path}: expected 16-bit PCM at {SAMPLE_RATE} Hz")
        channels = wav.getnchannels()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    samples = pcm.astype(np.float64).reshape(-1, channels) / 32768
    return tuple(samples[:, c] for c in range(channels))


def window_correlations(
    received: Floats, reference: Floats, *, window_s: float = 1.0
) -> list[float]:
    """Best normalised correlation of each active window of `received` within `reference`."""
    size = round(window_s * SAMPLE_RATE)
    if len(reference) < size:
        raise ValueError("the reference is shorter than one window")
    looped = np.concatenate([reference, reference[:size]])
    n = 1 << int(np.ceil(np.log2(len(looped) + size)))
    looped_spectrum = np.fft.rfft(looped, n)
    energy = np.concatenate(([0.0], np.cumsum(looped * looped)))
    sliding = energy[size:] - energy[:-size]  # energy of looped[k : k + size] for each k
    scores = []
    for start in range(0, len(received) - size + 1, size):
        window = received[start : start + size]
        window_energy = float(np.dot(window, window))
        if 10 * np.log10(window_energy / size + 1e-20) < ACTIVE_DBFS:
            continue
        dots = np.fft.irfft(np.conj(np.fft.rfft(window, n)) * looped_spectrum, n)[: len(sliding)]
        correlation = dots / np.sqrt(np.maximum(sliding, 1e-12) * window_energy)
        scores.append(float(np.clip(correlation.max(), -1.0, 1.0)))
    return scores


def assert_heard(
    scores: list[float], figures: object, *, min_windows: int = 5, min_median: float = 0.9
) -> None:
    """Window correlations `scores` show the reference was heard; failures show `figures`."""
    assert len(scores) >= min_windows, figures
    assert float(np.median(scores)) >= min_median, figures

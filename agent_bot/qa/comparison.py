"""What was received compared with a reference: delay, windowed correlation, silent share.

Both signals are mono int16 at 48 kHz and share a time origin: sample 0 of `received` is what
arrived while sample 0 of `reference` was being sent (the recorder fills gaps with silence).
The delay is the lag of the cross-correlation peak, found with an FFT on an 8 kHz decimation
and refined at full rate. After that global alignment the reference is cut into windows of
about 1 s; each window is matched against the received audio within a small search range
(playout stretches and squeezes audio by a few ms), wider when it is not found there (receive
buffers grow in steps), and keeps its best normalised correlation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent_bot.media.frames import SAMPLE_RATE, Pcm

SILENCE_DBFS = -55.0
"""A window whose RMS level is below this is silent."""
_SILENCE_RMS = 32768 * 10 ** (SILENCE_DBFS / 20)
_DECIMATION = 6  # 48 kHz -> 8 kHz for the coarse delay search
_TRACK_CORRELATION = 0.5  # a window matched at least this well is "found" and recentres the search

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Window:
    """One window of the reference and how it came through."""

    start_s: float
    lag_ms: float | None
    """Where it was found in the received audio (None: silent or missing there)."""
    correlation: float
    """Best normalised correlation within the search range; 0 when silent or missing."""


@dataclass(frozen=True)
class AudioComparison:
    """Delay and damage of the received audio against the reference."""

    reference_silent: bool
    """The reference has no signal at all: nothing can be judged."""
    received_silent: bool
    """Nothing above the silence level arrived."""
    delay_ms: float | None
    """Lag of the received audio behind the reference; None when it cannot be measured."""
    correlation: float | None
    """Mean normalised correlation of the reference's active windows (silent/missing: 0)."""
    silent_share: float | None
    """Share of the reference's active windows that arrived silent or not at all."""
    windows: tuple[Window, ...]
    """The reference's active windows (those above the silence level)."""


def rms(pcm: Pcm) -> float:
    """Root-mean-square level of int16 samples (0 for an empty array)."""
    if len(pcm) == 0:
        return 0.0
    samples = pcm.astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples)))


def has_signal(pcm: Pcm) -> bool:
    """True when some window of `pcm` (about 1 s) is above the silence level."""
    return any(rms(pcm[a:b]) >= _SILENCE_RMS for a, b in _windows(len(pcm), SAMPLE_RATE))


def estimate_delay(reference: Pcm, received: Pcm, max_delay_s: float = 5.0) -> float | None:
    """Lag in ms (received behind reference) of the cross-correlation peak, within ±max_delay_s.

    None when either signal is silent. Level differences do not matter; a periodic reference
    (a pure tone) gives a lag that is only meaningful modulo its period.
    """
    if not (has_signal(reference) and has_signal(received)):
        return None
    ref = reference.astype(np.float64)
    rec = received.astype(np.float64)
    max_lag = int(max_delay_s * SAMPLE_RATE)
    coarse = _coarse_lag(ref, rec, max_lag // _DECIMATION) * _DECIMATION
    lags = np.arange(coarse - 2 * _DECIMATION, coarse + 2 * _DECIMATION + 1)
    lags = lags[np.abs(lags) <= max_lag]
    scores = [_overlap_dot(ref, rec, int(lag)) for lag in lags]
    return float(lags[int(np.argmax(scores))]) * 1000 / SAMPLE_RATE


def compare(
    reference: Pcm,
    received: Pcm,
    *,
    window_s: float = 1.0,
    search_ms: float = 20.0,
    relock_ms: float = 500.0,
    max_delay_s: float = 5.0,
) -> AudioComparison:
    """Compare the received audio with the reference (see the module docstring).

    Each window is searched for within ±search_ms of where the previous well-matched window
    was found (at first: the global delay), so slow playout drift is followed. A window not
    matched well there is searched for within ±relock_ms: a receive buffer that grows after a
    loss or a stall moves the rest of the call by tens or hundreds of ms at once.
    """
    _check_pcm("reference", reference)
    _check_pcm("received", received)
    received_silent = not has_signal(received)
    active = [
        (a, b)
        for a, b in _windows(len(reference), round(window_s * SAMPLE_RATE))
        if rms(reference[a:b]) >= _SILENCE_RMS
    ]
    if not active:
        return AudioComparison(True, received_silent, None, None, None, ())
    delay_ms = estimate_delay(reference, received, max_delay_s)
    lag = round((delay_ms or 0.0) * SAMPLE_RATE / 1000)
    search = round(search_ms * SAMPLE_RATE / 1000)
    relock = round(relock_ms * SAMPLE_RATE / 1000)
    ref = reference.astype(np.float64)
    rec = received.astype(np.float64)
    windows = []
    for a, b in active:
        found = None if received_silent else _match(ref[a:b], rec, a + lag, search)
        if not received_silent and (found is None or found[1] < _TRACK_CORRELATION):
            wider = _match(ref[a:b], rec, a + lag, relock)
            if wider is not None and wider[1] >= max(_TRACK_CORRELATION, found[1] if found else 0):
                found = wider
        if found is None:
            windows.append(Window(a / SAMPLE_RATE, None, 0.0))
            continue
        position, correlation = found
        if correlation >= _TRACK_CORRELATION:
            lag = position - a
        windows.append(Window(a / SAMPLE_RATE, (position - a) * 1000 / SAMPLE_RATE, correlation))
    return AudioComparison(
        reference_silent=False,
        received_silent=received_silent,
        delay_ms=delay_ms,
        correlation=float(np.mean([w.correlation for w in windows])),
        silent_share=sum(w.lag_ms is None for w in windows) / len(windows),
        windows=tuple(windows),
    )


def _windows(length: int, size: int) -> list[tuple[int, int]]:
    """[start, end) bounds cutting `length` samples into equal windows of about `size`."""
    if length == 0:
        return []
    count = max(1, round(length / size))
    bounds = np.linspace(0, length, count + 1).round().astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def _check_pcm(name: str, pcm: Pcm) -> None:
    if not isinstance(pcm, np.ndarray) or pcm.ndim != 1 or pcm.dtype != np.int16:
        raise ValueError(f"{name} audio must be a 1-D int16 array (mono PCM at {SAMPLE_RATE} Hz)")


def _decimate(samples: Floats) -> Floats:
    """Block means of `_DECIMATION` samples: a crude low-pass, enough to find the peak."""
    usable = len(samples) - len(samples) % _DECIMATION
    means: Floats = samples[:usable].reshape(-1, _DECIMATION).mean(axis=1)
    return means


def _coarse_lag(ref: Floats, rec: Floats, max_lag: int) -> int:
    """Lag (decimated samples) maximising sum(ref[t] * rec[t + lag]), via one real FFT."""
    a, b = _decimate(ref), _decimate(rec)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    xcorr = np.fft.irfft(np.conj(np.fft.rfft(a, n)) * np.fft.rfft(b, n), n)
    # xcorr[k] holds lag k for k >= 0 and lag k - n for the wrapped negative lags.
    positive = xcorr[: min(max_lag, len(b) - 1) + 1]
    negative = xcorr[n - min(max_lag, len(a) - 1) :] if min(max_lag, len(a) - 1) > 0 else xcorr[:0]
    best_pos = int(np.argmax(positive))
    if len(negative) and negative.max() > positive[best_pos]:
        return int(np.argmax(negative)) - len(negative)
    return best_pos


def _overlap_dot(ref: Floats, rec: Floats, lag: int) -> float:
    """sum(ref[t] * rec[t + lag]) over the overlap."""
    if lag >= 0:
        n = min(len(ref), len(rec) - lag)
        return _dot(ref[:n], rec[lag : lag + n]) if n > 0 else 0.0
    n = min(len(ref) + lag, len(rec))
    return _dot(ref[-lag : -lag + n], rec[:n]) if n > 0 else 0.0


def _dot(a: Floats, b: Floats) -> float:
    """Σ a·b in this thread (np.dot's multi-threaded BLAS is many times slower on a busy host)."""
    return float(np.einsum("i,i->", a, b))


def _match(chunk: Floats, rec: Floats, centre: int, search: int) -> tuple[int, float] | None:
    """Best (position, normalised correlation) of `chunk` in `rec` within centre ± search.

    Only the part of `chunk` that has received audio at `centre` is compared; None when that
    is under half the window (missing), a pause in the reference, or silent when received.
    """
    first = max(0, -centre)
    last = min(len(chunk), len(rec) - centre)
    if last - first < len(chunk) // 2:
        return None
    part = chunk[first:last]
    part_energy = _dot(part, part)
    if np.sqrt(part_energy / len(part)) < _SILENCE_RMS:  # what can be compared is a pause
        return None
    lo = max(centre + first - search, 0)
    segment = rec[lo : min(centre + last + search, len(rec))]
    energy = np.concatenate(([0.0], np.cumsum(segment * segment)))
    sliding = energy[len(part) :] - energy[: len(energy) - len(part)]
    if np.sqrt(sliding.max() / len(part)) < _SILENCE_RMS:
        return None
    # Circular correlation is exact for the lags wanted once n covers the segment.
    n = 1 << int(np.ceil(np.log2(len(segment))))
    dots = np.fft.irfft(np.conj(np.fft.rfft(part, n)) * np.fft.rfft(segment, n), n)
    norm = np.sqrt(np.maximum(sliding, 1e-9) * part_energy)
    scores = dots[: len(sliding)] / norm
    best = int(np.argmax(scores))
    return lo + best - first, float(np.clip(scores[best], -1.0, 1.0))

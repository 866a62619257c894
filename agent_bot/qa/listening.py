"""Full-reference listening quality: ViSQOL v3 in speech mode (MOS-LQO), via `visqol-python`.

The received audio is first lined up on the reference by the delay the comparison measured
(`qa/comparison.py`), both cut to the reference's span and resampled to 16 kHz (speech mode's
rate); ViSQOL then does its own global alignment and per-patch realignment. Scores run in a
scoring worker process (`qa/scoring.py`), never on the call's event loop.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.qa.comparison import has_signal
from agent_bot.qa.score import LISTENING, MOS_LQO, Score, unscored

if TYPE_CHECKING:
    from visqol import VisqolApi

logger = logging.getLogger(__name__)

RATE = 16_000
"""ViSQOL speech mode's sample rate."""
MIN_SECONDS = 3.0
"""Shortest reference scored: ViSQOL compares 240 ms patches of the active speech, and a
few seconds are needed for a stable mean."""
SEARCH_WINDOW = 60
VISQOL_VERSION = "3.8.0"

TEMPLATE = Score(
    kind=LISTENING,
    label=MOS_LQO,
    algorithm="ViSQOL v3 speech mode (visqol-python, pure-Python port of Google ViSQOL 3.3.3)",
    version=f"visqol-python {VISQOL_VERSION}",
    parameters={
        "mode": "speech",
        "sampleRate": RATE,
        "mapper": "lattice (ViSQOL's default deep-lattice model, bundled)",
        "searchWindow": SEARCH_WINDOW,
        "alignment": "comparison delay, then ViSQOL global alignment and realignment",
    },
)

Floats = npt.NDArray[np.float64]


def to_16k(pcm: Pcm) -> Floats:
    """int16 48 kHz → float 16 kHz in [-1, 1] (polyphase low-pass)."""
    from scipy.signal import resample_poly  # noqa: PLC0415 (worker-side import)

    out: Floats = resample_poly(pcm.astype(np.float64) / 32768, 1, SAMPLE_RATE // RATE)
    return np.clip(out, -1.0, 1.0)


def aligned(received: Pcm, delay_ms: float | None, length: int) -> Pcm:
    """`length` samples of `received` from `delay_ms` on (silence where there are none)."""
    start = round((delay_ms or 0.0) * SAMPLE_RATE / 1000)
    out = np.zeros(length, np.int16)
    lo, hi = max(start, 0), min(start + length, len(received))
    if hi > lo:
        out[lo - start : hi - start] = received[lo:hi]
    return out


@cache
def _api() -> VisqolApi:
    from visqol import VisqolApi  # noqa: PLC0415 (heavy: imported in the worker only)

    api = VisqolApi()
    api.create(mode="speech", search_window=SEARCH_WINDOW, use_lattice_model=True)
    return api


def score(reference: Pcm, received: Pcm, delay_ms: float | None) -> Score:
    """MOS-LQO of `received` against `reference`, or None with the reason."""
    seconds = len(reference) / SAMPLE_RATE
    if seconds < MIN_SECONDS:
        return unscored(TEMPLATE, f"too short: {seconds:.1f} s < {MIN_SECONDS:.0f} s")
    if not has_signal(reference):
        return unscored(TEMPLATE, "no speech in the reference")
    degraded = aligned(received, delay_ms, len(reference))
    if not has_signal(degraded):
        return unscored(TEMPLATE, "no speech received")
    result = _api().measure_from_arrays(to_16k(reference), to_16k(degraded), RATE)
    parameters = {**TEMPLATE.parameters, "seconds": round(seconds, 2)}
    return Score(
        TEMPLATE.kind, TEMPLATE.label, TEMPLATE.algorithm, TEMPLATE.version, parameters,
        float(result.moslqo),
    )  # fmt: skip

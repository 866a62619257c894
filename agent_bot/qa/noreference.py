"""No-reference scores of the received audio alone: DNSMOS (P.835 overall) and PLCMOS v2.

Both are Microsoft's ONNX models shipped inside the `speechmos` package, run with
onnxruntime on one thread on 16 kHz audio. For far ends whose content is not known (a live
agent, a TTS reply). Scores run in a scoring worker process (`qa/scoring.py`).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import numpy as np

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.qa.comparison import has_signal
from agent_bot.qa.listening import RATE, to_16k
from agent_bot.qa.score import DNSMOS_OVRL, NO_REFERENCE, PLCMOS, Score, unscored

SPEECHMOS_VERSION = "0.0.1.1"
DNSMOS_SECONDS = 9.01
"""DNSMOS scores 9.01-s clips (hop 1 s); shorter audio would be looped by speechmos, so it
is not scored."""
PLCMOS_MIN_SECONDS = 3.0
PLCMOS_ROUNDS = 15
"""PLCMOS v2 averages this many random rater embeddings (seeded here: reproducible)."""

DNSMOS = Score(
    kind=NO_REFERENCE,
    label=DNSMOS_OVRL,
    algorithm="DNSMOS P.835 (sig_bak_ovr.onnx) + P.808 (model_v8.onnx), overall (OVRL)",
    version=f"speechmos {SPEECHMOS_VERSION}",
    parameters={"sampleRate": RATE, "clipSeconds": DNSMOS_SECONDS, "hopSeconds": 1.0,
                "personalized": False},
)  # fmt: skip
PLC = Score(
    kind=NO_REFERENCE,
    label=PLCMOS,
    algorithm="PLCMOS v2 (plcmos_v2.onnx, INTERSPEECH 2023)",
    version=f"speechmos {SPEECHMOS_VERSION}",
    parameters={"sampleRate": RATE, "raterEmbeddings": PLCMOS_ROUNDS, "seed": 0},
)


def _session(path: str) -> Any:
    import onnxruntime as ort  # noqa: PLC0415 (worker-side import)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


@cache
def _dnsmos() -> Any:
    from speechmos import dnsmos  # noqa: PLC0415 (heavy: librosa, onnxruntime)

    models = os.path.join(os.path.dirname(dnsmos.__file__), "dnsmos_models")
    model = dnsmos.DNSMOS.__new__(dnsmos.DNSMOS)  # its __init__ takes no session options
    model.primary_model_path = os.path.join(models, "sig_bak_ovr.onnx")
    model.onnx_sess = _session(model.primary_model_path)
    model.p808_onnx_sess = _session(os.path.join(models, "model_v8.onnx"))
    return model


@cache
def _plcmos() -> Any:
    from speechmos import plcmos  # noqa: PLC0415 (heavy: onnxruntime)

    model = plcmos.PLCMOS.__new__(plcmos.PLCMOS)  # its __init__ takes no session options
    model.model_name = "plcmos_v2"
    model.onnx_name = "plcmos_v2.onnx"
    model.max_lens = 999999999999
    model.embed_rounds = PLCMOS_ROUNDS
    model.model_path = os.path.join(os.path.dirname(plcmos.__file__), "plcmos_models",
                                    model.onnx_name)  # fmt: skip
    model.session = _session(model.model_path)
    return model


def _unusable(template: Score, received: Pcm, minimum_s: float) -> Score | None:
    seconds = len(received) / SAMPLE_RATE
    if seconds < minimum_s:
        return unscored(template, f"too short: {seconds:.1f} s < {minimum_s:g} s")
    if not has_signal(received):
        return unscored(template, "no speech: the received audio is silent")
    return None


def dnsmos(received: Pcm) -> Score:
    """DNSMOS overall quality (1..5) of `received`; SIG, BAK and P.808 in the parameters."""
    unusable = _unusable(DNSMOS, received, DNSMOS_SECONDS)
    if unusable is not None:
        return unusable
    result = _dnsmos()(to_16k(received).astype(np.float32), RATE, False)
    parameters = {
        **DNSMOS.parameters,
        "seconds": round(len(received) / SAMPLE_RATE, 2),
        "SIG": round(float(result["sig_mos"]), 3),
        "BAK": round(float(result["bak_mos"]), 3),
        "P808": round(float(result["p808_mos"]), 3),
    }
    return Score(DNSMOS.kind, DNSMOS.label, DNSMOS.algorithm, DNSMOS.version, parameters,
                 float(result["ovrl_mos"]))  # fmt: skip


def plcmos(received: Pcm) -> Score:
    """PLCMOS v2 (1..5) of `received`: how well lost audio was concealed."""
    unusable = _unusable(PLC, received, PLCMOS_MIN_SECONDS)
    if unusable is not None:
        return unusable
    np.random.seed(0)  # PLCMOS draws its rater embeddings from numpy's global generator
    value = _plcmos().get_mos(to_16k(received).astype(np.float32))
    parameters = {**PLC.parameters, "seconds": round(len(received) / SAMPLE_RATE, 2)}
    return Score(PLC.kind, PLC.label, PLC.algorithm, PLC.version, parameters, float(value))

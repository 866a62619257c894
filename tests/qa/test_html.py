"""The HTML report's content, from report data: rows, score columns, plots, failed calls."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from agent_bot.media.frames import Pcm
from agent_bot.qa.html import call_scores, envelope, render, score_labels


def call(call_id: str, *, passed: bool, scores: list[dict[str, Any]] | None) -> dict[str, Any]:
    verdict: dict[str, Any] = {
        "passed": passed,
        "failures": []
        if passed
        else [{"check": "audio", "code": "far-end-silent", "reason": "nothing but silence"}],
        "quality": {"r": 90.0, "mos": 4.3, "oneWayMs": 40.0, "lossPercent": 0.0},
        "audio": {
            "delayMs": 90.0,
            "correlation": 0.95 if passed else 0.0,
            "windows": [
                {"startS": float(s), "lagMs": 90.0 + s, "correlation": 0.9} for s in range(5)
            ],
        },
    }
    if scores is not None:
        verdict["scores"] = scores
    return {
        "call_id": call_id,
        "end_reason": "local-hangup",
        "setup_ms": {"connected": 40.0, "first_audio_in": 120.0},
        "verdict": verdict,
    }


def scores(network: float, listening: float | None) -> list[dict[str, Any]]:
    return [
        {"kind": "network", "label": "MOS-CQE", "value": network, "reason": None},
        {"kind": "listening", "label": "MOS-LQO", "value": listening, "reason": "too short"},
    ]


def test_one_row_per_call_with_each_score_and_the_failed_waveform(speech: Pcm) -> None:
    calls = [
        call("good", passed=True, scores=scores(4.4, 4.1)),
        call("bad", passed=False, scores=scores(4.3, None)),
        call("old-report", passed=True, scores=None),
    ]
    report = {"calls": calls, "summary": {"calls": 3, "passed": 2, "failed": 1, "errors": 0}}
    page = render(report, {"bad": (speech, np.zeros_like(speech))})
    assert page.count('<tr class="call ') == 3
    assert page.count('<tr class="call failed">') == 1
    assert "<th>MOS-CQE</th>" in page and "<th>MOS-LQO</th>" in page
    assert "far-end-silent" in page
    assert 'id="failed-bad"' in page
    # three plots, plus the failed call's waveform, each a PNG embedded in the page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4
    assert "http" not in page.replace("http-equiv", "")  # nothing to fetch


def test_scores_by_label_fall_back_to_the_e_model() -> None:
    calls = [call("a", passed=True, scores=scores(4.0, 3.5)), call("b", passed=True, scores=None)]
    assert score_labels(calls) == ["MOS-CQE", "MOS-LQO"]
    assert call_scores(calls[1]) == {"MOS-CQE": 4.3}


def test_envelope_keeps_the_extremes() -> None:
    pcm = np.zeros(48_000, np.int16)
    pcm[1000] = 32767
    pcm[30_000] = -32768
    seconds, low, high = envelope(pcm, points=100)
    assert len(seconds) == 100 and seconds[-1] < 1.0
    assert high.max() > 0.99 and low.min() == -1.0
    assert len(envelope(np.zeros(0, np.int16))[0]) == 0


def test_the_run_verdict_follows_the_run_rules() -> None:
    calls = [call("good", passed=True, scores=None), call("bad", passed=False, scores=None)]
    summary = {"calls": 2, "passed": 1, "failed": 1, "errors": 0}
    rule = {"rule": "min-pass-rate 0.5", "passed": True, "reason": "1 of 2 calls passed"}
    assert "Run passed." in render({"calls": calls, "summary": {**summary, "rules": [rule]}}, {})
    failed = {**rule, "passed": False}
    assert "Run failed." in render({"calls": calls, "summary": {**summary, "rules": [failed]}}, {})
    assert "Run failed." in render({"calls": calls, "summary": summary}, {})

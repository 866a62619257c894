"""The wrong-far-end matrix with default flags: what a new user's first run must get right.

Real `agent-bot call` processes against real answering bots through the real server, no
threshold given: an echo and a bot playing the expected file pass; a silent bot, a tone bot
and a bot playing another sample each fail with their reason code; a live agent judged
`--far-end unknown` still fails when silent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.qa import listening
from tests.qa.conftest import QaRun
from tests.qa.signals import SAMPLES, opus_round_trip

HELLO = str(SAMPLES / "hello-48k.wav")
WEATHER = str(SAMPLES / "weather-48k.wav")
CALLS = 2
CODEC_MARGIN = 0.2
"""A clean loopback call's MOS-LQO is within this of the sample scored against itself through
libopus alone (docs/quality.md)."""

CodecAlone = Callable[[float], float]


@pytest.fixture(scope="module")
def codec_alone_lqo(speech: Pcm) -> CodecAlone:
    """MOS-LQO of the first S seconds of the sample against their libopus round trip."""

    @cache
    def score(seconds: float) -> float:
        reference = speech[: round(seconds * SAMPLE_RATE)]
        value = listening.score(reference, opus_round_trip(reference), 6.5).value
        assert value is not None
        return value

    return score


def run(qa_run: QaRun, tmp_path: Path, name: str, far_end: list[str], *caller: str
        ) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """One far end and one caller with default thresholds; exit status and JSON report."""
    bot = qa_run.far_end(*far_end, "--max-calls", str(CALLS), name=name)
    report = tmp_path / f"{name}.json"
    status, call = qa_run.dial(
        "--play", HELLO, "--calls", str(CALLS), "--concurrency", str(CALLS), "--duration", "5",
        "--report", str(report), *caller, name=f"{name}-caller",
    )  # fmt: skip
    bot.close()
    assert report.exists(), call.text()[-4000:]
    data: dict[str, Any] = json.loads(report.read_text())
    return status, data


def codes(report: dict[str, Any]) -> list[set[str]]:
    return [{f["code"] for f in c["verdict"]["failures"]} for c in report["calls"]]


def scores(report: dict[str, Any], label: str) -> list[float | None]:
    return [
        next(s["value"] for s in c["verdict"]["scores"] if s["label"] == label)
        for c in report["calls"]
    ]


@dataclass(frozen=True)
class FarEnd:
    name: str
    bot: tuple[str, ...]
    caller: tuple[str, ...]
    expected: frozenset[str]


MATRIX = [
    FarEnd("echo", ("--echo",), (), frozenset()),
    FarEnd("expected-file", ("--play", HELLO), ("--expect", HELLO), frozenset()),
    FarEnd("silent", ("--silence",), (), frozenset({"far-end-silent"})),
    FarEnd("tone", ("--tone", "440"), (), frozenset({"wrong-content"})),
    FarEnd("other-sample", ("--play", WEATHER), ("--expect", HELLO), frozenset({"wrong-content"})),
]


@pytest.mark.parametrize("case", MATRIX, ids=[m.name for m in MATRIX])
def test_default_flags_judge_the_far_end(
    qa_run: QaRun, tmp_path: Path, case: FarEnd, codec_alone_lqo: CodecAlone
) -> None:
    status, report = run(qa_run, tmp_path, case.name, list(case.bot), *case.caller)
    summary = report["summary"]
    assert codes(report) == [case.expected] * CALLS, summary["failures"]
    assert status == (1 if case.expected else 0)
    assert {f["code"] for f in summary["failures"]} == case.expected
    assert all(s is not None for s in scores(report, "MOS-CQE"))
    lqo = scores(report, "MOS-LQO")
    if case.name == "silent":
        assert lqo == [None] * CALLS
    elif case.expected:
        assert all(v is not None and v < 2.5 for v in lqo), lqo
    else:  # within the documented margin of the sample through the codec alone
        for call in report["calls"]:
            (score,) = [s for s in call["verdict"]["scores"] if s["label"] == "MOS-LQO"]
            alone = codec_alone_lqo(score["parameters"]["seconds"])
            assert abs(score["value"] - alone) <= CODEC_MARGIN, (score["value"], alone)


def test_unknown_far_end_judges_silence_without_a_reference(qa_run: QaRun, tmp_path: Path) -> None:
    status, report = run(qa_run, tmp_path, "unknown-silent", ["--silence"], "--far-end", "unknown")
    assert status == 1
    assert codes(report) == [{"far-end-silent"}] * CALLS
    assert all(c["verdict"]["audio"] is None for c in report["calls"])
    labels = {s["label"]: s for s in report["calls"][0]["verdict"]["scores"]}
    assert set(labels) == {"MOS-CQE", "DNSMOS-OVRL", "PLCMOS"}
    assert labels["PLCMOS"]["value"] is None and "silent" in labels["PLCMOS"]["reason"]

"""Report files: the JSON and JUnit XML of a run parse back with the right counts and reasons."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from agent_bot.media.frames import Pcm
from agent_bot.qa.report import (
    Outcome,
    percentile,
    report_dict,
    summary_lines,
    write_json,
    write_junit,
)
from agent_bot.qa.verdict import Thresholds, judge_call
from tests.qa.records import Call
from tests.qa.signals import delayed

THRESHOLDS = Thresholds(min_mos=3.5, min_correlation=0.8, max_delay_ms=500)


@pytest.fixture
def outcomes(speech: Pcm) -> list[Outcome]:
    """Three good calls, one with a silent far end, one that never ran."""
    calls: list[Outcome] = []
    for index, delay in enumerate((100, 200, 300)):
        call = Call(call_id=f"good-{index}", setup_ms=100.0 + index)
        received = delayed(speech, delay)
        calls.append((call, judge_call(call, THRESHOLDS, reference=speech, received=received)))
    silent = Call(call_id="silent")
    verdict = judge_call(silent, THRESHOLDS, reference=speech, received=np.zeros(10, np.int16))
    calls.append((silent, verdict))
    failed = Call(call_id="unanswered", error="no agent answered", setup_ms=None, duration_ms=None)
    calls.append((failed, judge_call(failed, THRESHOLDS, reference=speech)))
    return calls


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, p) for p in (50, 90, 99)] == [50, 90, 99]
    assert percentile([7.0], 99) == 7 and percentile([], 50) is None


def test_json_report_has_one_object_per_call_and_a_summary(
    tmp_path: Path, outcomes: list[Outcome]
) -> None:
    path = tmp_path / "report.json"
    write_json(path, report_dict(outcomes, [{"rule": "min-pass-rate 1", "passed": False,
                                            "reason": "3 of 5 calls passed"}]))  # fmt: skip
    report = json.loads(path.read_text())
    assert [c["call_id"] for c in report["calls"]] == [
        "good-0",
        "good-1",
        "good-2",
        "silent",
        "unanswered",
    ]
    good = report["calls"][1]["verdict"]
    assert good["passed"] and good["audio"]["delayMs"] == pytest.approx(200)
    assert len(good["audio"]["windows"]) == 11
    summary = report["summary"]
    assert (summary["calls"], summary["passed"], summary["failed"], summary["errors"]) == (
        5,
        3,
        1,
        1,
    )
    assert summary["setupMs"] == {
        "min": 100.0, "p50": 101.0, "p90": 120.0, "p99": 120.0, "max": 120.0,
    }  # fmt: skip
    assert summary["delayMs"]["p50"] == pytest.approx(200)
    assert summary["mos"]["p50"] > 4
    checks = {(f["callId"], f["check"], f["code"]) for f in summary["failures"]}
    assert checks == {("silent", "silence", "far-end-silent"), ("unanswered", "call", "no-media")}
    assert all(f["reason"] for f in summary["failures"])
    assert summary["scores"]["MOS-CQE"]["kind"] == "network"
    assert summary["scores"]["MOS-CQE"]["p50"] > 4
    (score,) = good["scores"]
    assert (score["kind"], score["label"], score["parameters"]["Bpl"]) == (
        "network",
        "MOS-CQE",
        4.3,
    )
    lines = summary_lines(report)
    assert lines[0] == "5 calls: 3 passed, 1 failed, 1 errors"
    assert lines[1].startswith("MOS-CQE (network: ITU-T G.107 E-model")
    assert "call=silent far-end-silent: nothing but silence was received" in lines
    assert lines[-1] == "rule min-pass-rate 1: FAILED: 3 of 5 calls passed"


def test_junit_has_one_testcase_per_call(tmp_path: Path, outcomes: list[Outcome]) -> None:
    path = tmp_path / "junit.xml"
    write_junit(path, outcomes)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "agent-bot call"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("5", "1", "1")
    assert float(suite.get("time") or "nan") == pytest.approx(40.0)
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == ["good-0", "good-1", "good-2", "silent", "unanswered"]
    assert all(case.get("classname") and case.get("time") for case in cases.values())
    for name in ("good-0", "good-1", "good-2"):
        properties, out = cases[name]  # no failure: the scores and the figures
        values = {p.get("name"): p.get("value") for p in properties}
        assert values["MOS-CQE.kind"] == "network" and float(values["MOS-CQE"] or 0) > 4
        assert out.tag == "system-out" and "MOS-CQE 4." in (out.text or "")
        assert "delay " in (out.text or "") and "correlation 1.00" in (out.text or "")
    failure, _, _ = cases["silent"]
    assert failure.tag == "failure" and "silence" in (failure.get("message") or "")
    (error,) = cases["unanswered"]
    assert error.tag == "error" and error.get("message") == "no agent answered"


def test_an_empty_run_still_writes_valid_files(tmp_path: Path) -> None:
    write_json(tmp_path / "r.json", report_dict([]))
    write_junit(tmp_path / "j.xml", [])
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["mos"]["p50"] is None
    assert ET.parse(tmp_path / "j.xml").getroot().find("testsuite").get("tests") == "0"  # type: ignore[union-attr]

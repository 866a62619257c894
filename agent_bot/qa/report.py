"""The QA run's report files: JSON (one object per call + a summary) and JUnit XML.

Input: each finished call (anything shaped like `CallRecord`, e.g. `agent_bot.report.
CallReport`) with its `Verdict`. Pure: the functions build text; `write_*` only save it.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from agent_bot.qa.verdict import Verdict


class CallRecord(Protocol):
    """What the report reads of a finished call."""

    @property
    def call_id(self) -> str: ...

    def since_request_ms(self, milestone: str) -> float | None:
        """Milliseconds from the call request to a milestone ("connected", "ended", …)."""

    def to_dict(self) -> dict[str, Any]:
        """The call's own figures, JSON-serialisable."""


Outcome = tuple[CallRecord, Verdict]
PERCENTILES = (50, 90, 99)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (a value that occurred); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """min, p50, p90, p99 and max of `values` (for MOS the low end is the news)."""
    return {
        "min": min(values, default=None),
        **{f"p{p}": percentile(values, p) for p in PERCENTILES},
        "max": max(values, default=None),
    }


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    """A verdict as JSON-ready data (window details included)."""
    quality = verdict.quality
    audio = verdict.audio
    return {
        "passed": verdict.passed,
        "failures": [{"check": f.check, "reason": f.reason} for f in verdict.failures],
        "quality": None
        if quality is None
        else {
            "r": round(quality.r, 2),
            "mos": round(quality.mos, 3),
            "oneWayMs": round(quality.one_way_ms, 1),
            "lossPercent": round(quality.loss_percent, 3),
        },
        "audio": None
        if audio is None
        else {
            "referenceSilent": audio.reference_silent,
            "receivedSilent": audio.received_silent,
            "delayMs": None if audio.delay_ms is None else round(audio.delay_ms, 2),
            "correlation": None if audio.correlation is None else round(audio.correlation, 4),
            "silentShare": audio.silent_share,
            "windows": [
                {
                    "startS": round(w.start_s, 3),
                    "lagMs": None if w.lag_ms is None else round(w.lag_ms, 2),
                    "correlation": round(w.correlation, 4),
                }
                for w in audio.windows
            ],
        },
    }


def figures_line(verdict: Verdict) -> str:
    """The call's figures in one line, e.g. `MOS 4.34 (R 90.1) · delay 267 ms · …`."""
    parts = []
    if verdict.quality is not None:
        q = verdict.quality
        parts.append(f"MOS {q.mos:.2f} (R {q.r:.1f}, {q.loss_percent:.1f} % loss)")
    audio = verdict.audio
    if audio is not None and audio.delay_ms is not None:
        parts.append(f"delay {audio.delay_ms:.0f} ms")
    if audio is not None and audio.correlation is not None:
        parts.append(f"correlation {audio.correlation:.2f}")
        parts.append(f"{100 * (audio.silent_share or 0.0):.0f} % of windows silent or missing")
    return " · ".join(parts)


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Counts, percentiles of setup time, delay and MOS, and every failure with its reason."""
    setup = [ms for call, _ in outcomes if (ms := call.since_request_ms("connected")) is not None]
    delays = [
        v.audio.delay_ms
        for _, v in outcomes
        if v.audio is not None and v.audio.delay_ms is not None
    ]
    mos = [v.quality.mos for _, v in outcomes if v.quality is not None]
    return {
        "calls": len(outcomes),
        "passed": sum(v.passed for _, v in outcomes),
        "failed": sum(not v.passed and not v.errored for _, v in outcomes),
        "errors": sum(v.errored for _, v in outcomes),
        "setupMs": spread(setup),
        "delayMs": spread(delays),
        "mos": spread(mos),
        "failures": [
            {"callId": call.call_id, "check": f.check, "reason": f.reason}
            for call, v in outcomes
            for f in v.failures
        ],
    }


def json_report(outcomes: Sequence[Outcome]) -> str:
    """The JSON report: {"calls": [one object per call], "summary": {...}}."""
    calls = [{**call.to_dict(), "verdict": verdict_dict(v)} for call, v in outcomes]
    return json.dumps({"calls": calls, "summary": summary(outcomes)}, indent=2)


def junit_xml(outcomes: Sequence[Outcome], suite: str = "agent-bot call") -> str:
    """One <testcase> per call: <error> when it failed to run, <failure> when under a threshold."""
    durations = [_seconds(call) for call, _ in outcomes]
    counts = summary(outcomes)
    root = ET.Element("testsuites", name=suite)
    testsuite = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(counts["calls"]),
        failures=str(counts["failed"]),
        errors=str(counts["errors"]),
        skipped="0",
        time=f"{sum(durations):.3f}",
    )
    root.set("tests", str(counts["calls"]))
    root.set("failures", str(counts["failed"]))
    root.set("errors", str(counts["errors"]))
    root.set("time", f"{sum(durations):.3f}")
    for (call, verdict), seconds in zip(outcomes, durations, strict=True):
        case = ET.SubElement(
            testsuite, "testcase", classname=suite, name=call.call_id, time=f"{seconds:.3f}"
        )
        if verdict.failures:
            tag = "error" if verdict.errored else "failure"
            reasons = "; ".join(f.reason for f in verdict.failures)
            element = ET.SubElement(
                case, tag, message=reasons, type=",".join(f.check for f in verdict.failures)
            )
            element.text = "\n".join(f"{f.check}: {f.reason}" for f in verdict.failures)
        figures = figures_line(verdict)
        if figures:
            ET.SubElement(case, "system-out").text = figures
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_json(path: Path, outcomes: Sequence[Outcome]) -> None:
    path.write_text(json_report(outcomes) + "\n", encoding="utf-8")


def write_junit(path: Path, outcomes: Sequence[Outcome], suite: str = "agent-bot call") -> None:
    path.write_text(junit_xml(outcomes, suite), encoding="utf-8")


def _seconds(call: CallRecord) -> float:
    ended = call.since_request_ms("ended")
    return 0.0 if ended is None else max(0.0, ended / 1000)

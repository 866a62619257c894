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

from agent_bot.qa.score import LABELS
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
        "failures": [
            {"check": f.check, "code": f.code, "reason": f.reason} for f in verdict.failures
        ],
        "scores": [score.to_dict() for score in verdict.scores],
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
    """The call's figures in one line, e.g. `MOS-CQE 4.34 (network) · MOS-LQO 4.5 (…) · …`."""
    parts = [score.text() for score in verdict.scores]
    if verdict.quality is not None:
        q = verdict.quality
        parts.append(f"R {q.r:.1f}, {q.loss_percent:.1f} % loss")
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
    labels = {s.label: s for _, v in outcomes for s in v.scores}
    scores = {
        label: {
            "kind": score.kind,
            "algorithm": score.algorithm,
            "version": score.version,
            **spread([s.value for _, v in outcomes for s in v.scores
                      if s.label == label and s.value is not None]),
            "unscored": sum(s.label == label and s.value is None
                            for _, v in outcomes for s in v.scores),
        }
        for label, score in sorted(labels.items(), key=lambda item: list(LABELS).index(item[0]))
    }  # fmt: skip
    return {
        "calls": len(outcomes),
        "passed": sum(v.passed for _, v in outcomes),
        "failed": sum(not v.passed and not v.errored for _, v in outcomes),
        "errors": sum(v.errored for _, v in outcomes),
        "setupMs": spread(setup),
        "delayMs": spread(delays),
        "mos": spread(mos),
        "scores": scores,
        "failures": [
            {"callId": call.call_id, "check": f.check, "code": f.code, "reason": f.reason}
            for call, v in outcomes
            for f in v.failures
        ],
    }


def call_dict(call: CallRecord, verdict: Verdict) -> dict[str, Any]:
    """One call's object of the JSON report: its own figures and its verdict."""
    return {**call.to_dict(), "verdict": verdict_dict(verdict)}


def report_dict(
    outcomes: Sequence[Outcome], rules: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The JSON report as data: {"calls": [...], "summary": {..., "rules": [...]}}."""
    calls = [call_dict(call, v) for call, v in outcomes]
    return {"calls": calls, "summary": {**summary(outcomes), "rules": list(rules)}}


def json_report(outcomes: Sequence[Outcome], rules: Sequence[dict[str, Any]] = ()) -> str:
    """The JSON report: {"calls": [one object per call], "summary": {...}}."""
    return json.dumps(report_dict(outcomes, rules), indent=2)


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
        _properties(case, verdict)
        figures = figures_line(verdict)
        if figures:
            ET.SubElement(case, "system-out").text = figures
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _properties(case: ET.Element, verdict: Verdict) -> None:
    """Each score as JUnit properties: `MOS-LQO` = value, and its kind, algorithm, version."""
    if not verdict.scores:
        return
    properties = ET.SubElement(case, "properties")
    for score in verdict.scores:
        value = "null" if score.value is None else f"{score.value:.3f}"
        for name, text in (
            (score.label, value),
            (f"{score.label}.kind", score.kind),
            (f"{score.label}.algorithm", score.algorithm),
            (f"{score.label}.version", score.version),
            (f"{score.label}.reason", score.reason),
        ):
            if text is not None:
                ET.SubElement(properties, "property", name=name, value=text)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Save `report_dict(...)`."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def write_junit(path: Path, outcomes: Sequence[Outcome], suite: str = "agent-bot call") -> None:
    path.write_text(junit_xml(outcomes, suite), encoding="utf-8")


def _seconds(call: CallRecord) -> float:
    ended = call.since_request_ms("ended")
    return 0.0 if ended is None else max(0.0, ended / 1000)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The run summary as text lines: counts, each score with its label, failures, rules."""
    s = report["summary"]
    lines = [f"{s['calls']} calls: {s['passed']} passed, {s['failed']} failed, "
             f"{s['errors']} errors"]  # fmt: skip
    for label, figures in s.get("scores", {}).items():
        values = " ".join(
            f"{key} {figures[key]:.2f}" for key in ("min", "p50", "max")
            if figures[key] is not None
        ) or "no value"  # fmt: skip
        lines.append(
            f"{label} ({figures['kind']}: {figures['algorithm']}; {figures['version']}): "
            f"{values}" + (f"; {figures['unscored']} calls unscored" if figures["unscored"] else "")
        )
    lines += [f"call={f['callId']} {f['code']}: {f['reason']}" for f in s["failures"]]
    lines += [
        f"rule {r['rule']}: {'passed' if r['passed'] else 'FAILED'}: {r['reason']}"
        for r in s.get("rules", [])
    ]
    return lines

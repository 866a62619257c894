"""Run-level rules: the share of calls that must pass and percentile assertions.

`--min-pass-rate 0.95` (default 1.0: every call passes), `--max-p95-setup-ms MS` (p95 of the
request → connected time) and `--min-p5-score LABEL=VALUE` (p5 of a score, e.g.
`MOS-LQO=3.5`). The run's exit status follows them. Pure: figures in, results out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_bot.qa.report import percentile


@dataclass(frozen=True)
class RunRules:
    """What a run as a whole must meet."""

    min_pass_rate: float = 1.0
    max_p95_setup_ms: float | None = None
    min_p5_scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleResult:
    """One rule held against the run."""

    rule: str
    """E.g. "min-pass-rate 0.95", "max-p95-setup-ms 2000", "min-p5-score MOS-LQO=3.50"."""
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "passed": self.passed, "reason": self.reason}


def check(rules: RunRules, calls: Sequence[Mapping[str, Any]]) -> list[RuleResult]:
    """Hold `calls` (the JSON report's call objects) against `rules`."""
    results = [_pass_rate(rules.min_pass_rate, calls)]
    if rules.max_p95_setup_ms is not None:
        setup = [
            float(ms) for call in calls if (ms := (call.get("setup_ms") or {}).get("connected"))
        ]
        rule = f"max-p95-setup-ms {rules.max_p95_setup_ms:g}"
        limit = rules.max_p95_setup_ms
        results.append(_percentile(rule, "setup time", setup, 95, limit, below=True, unit=" ms"))
    for label, minimum in rules.min_p5_scores.items():
        values = [
            float(score["value"])
            for call in calls
            for score in (call.get("verdict") or {}).get("scores", [])
            if score.get("label") == label and score.get("value") is not None
        ]
        rule = f"min-p5-score {label}={minimum:.2f}"
        results.append(_percentile(rule, label, values, 5, minimum, below=False, unit=""))
    return results


def _pass_rate(minimum: float, calls: Sequence[Mapping[str, Any]]) -> RuleResult:
    rule = f"min-pass-rate {minimum:g}"
    if not calls:
        return RuleResult(rule, False, "no calls were placed")
    passed = sum(bool((call.get("verdict") or {}).get("passed")) for call in calls)
    rate = passed / len(calls)
    sign = ">=" if rate >= minimum else "<"
    return RuleResult(
        rule, rate >= minimum, f"{passed} of {len(calls)} calls passed ({rate:.2f} {sign} "
        f"{minimum:g})",
    )  # fmt: skip


def _percentile(
    rule: str, what: str, values: list[float], p: float, limit: float, *, below: bool, unit: str
) -> RuleResult:
    value = percentile(values, p)
    if value is None:
        return RuleResult(rule, False, f"no {what} to judge")
    ok = value <= limit if below else value >= limit
    sign = ("<=" if ok else ">") if below else (">=" if ok else "<")
    return RuleResult(
        rule, ok, f"p{p:g} {what} {value:.2f}{unit} {sign} {limit:g}{unit} ({len(values)} calls)"
    )

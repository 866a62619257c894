"""Run rules: pass rate and percentile assertions over the JSON report's calls."""

from typing import Any

from agent_bot.qa.rules import RunRules, check


def call(passed: bool, setup_ms: float | None, lqo: float | None) -> dict[str, Any]:
    score = {"label": "MOS-LQO", "value": lqo}
    return {"setup_ms": {"connected": setup_ms}, "verdict": {"passed": passed, "scores": [score]}}


CALLS = [call(True, 100.0 + i, 4.5) for i in range(18)] + [
    call(False, 3000.0, 2.0),
    call(False, None, None),
]


def test_default_every_call_must_pass() -> None:
    (rule,) = check(RunRules(), CALLS)
    assert not rule.passed and rule.rule == "min-pass-rate 1"
    assert rule.reason == "18 of 20 calls passed (0.90 < 1)"
    assert check(RunRules(), CALLS[:18])[0].passed
    assert not check(RunRules(), [])[0].passed


def test_pass_rate_and_percentiles() -> None:
    rules = RunRules(min_pass_rate=0.9, max_p95_setup_ms=200, min_p5_scores={"MOS-LQO": 3.0})
    rate, setup, lqo = check(rules, CALLS)
    assert rate.passed
    # 19 setup times: the nearest-rank p95 is the 19th, the 3 s one
    assert not setup.passed and "p95 setup time 3000.00 ms > 200 ms" in setup.reason
    # 19 scores: p5 is the lowest
    assert not lqo.passed and lqo.reason == "p5 MOS-LQO 2.00 < 3 (19 calls)"
    assert check(RunRules(min_p5_scores={"PLCMOS": 3.0}), CALLS)[1].reason == "no PLCMOS to judge"

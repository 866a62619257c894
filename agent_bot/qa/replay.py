"""A QA replay run: capture what crossed in each call, score and judge it when it ends, report.

A `Replay` follows a `Dialer` as its observer. The reference for the audio checks is the
`--expect` file when given (cut to the length received), else what the call sent (the far end
is taken to echo); with `--far-end unknown` there is none. Measuring runs in a thread and
scoring in a process pool (`qa/scoring.py`), so judging one call never delays another's audio;
`wait()` returns once the last call's scores are in, after the calls ended.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agent_bot.call import Call
from agent_bot.media.capture import Capture
from agent_bot.media.frames import Pcm
from agent_bot.qa import rules as run_rules
from agent_bot.qa.emodel import network_score
from agent_bot.qa.evidence import CallAudio, keep_failed
from agent_bot.qa.progress import Progress
from agent_bot.qa.report import Outcome, report_dict, summary_lines, write_json, write_junit
from agent_bot.qa.scoring import ScoringJob, ScoringPool
from agent_bot.qa.verdict import Thresholds, Verdict, judge, measure, not_run
from agent_bot.report import CallReport

logger = logging.getLogger(__name__)

WriteHtml = Callable[[Path, dict[str, Any], dict[str, tuple[Pcm, Pcm]]], None]


@dataclass(frozen=True)
class Outputs:
    """Where a run's results go; None: not written."""

    report: Path | None = None
    junit: Path | None = None
    html: Path | None = None
    keep_failed: Path | None = None


@dataclass(frozen=True)
class ReplayPlan:
    """What the replay judges against, how it scores, and what the run must meet."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    rules: run_rules.RunRules = field(default_factory=run_rules.RunRules)
    expect: Pcm | None = None
    echo: bool = True
    """The far end echoes (ignored with `expect`); False and no `expect`: no reference."""
    scorers: tuple[str, ...] = ("listening",)
    scoring_workers: int = 1
    capture_seconds: float = 30.0


class Replay:
    """Observer of a dialer: one `Outcome` (report, verdict) per call."""

    def __init__(self, plan: ReplayPlan, progress: Progress, outputs: Outputs = Outputs()):
        self.plan = plan
        self.progress = progress
        self.outputs = outputs
        self.outcomes: list[Outcome] = []
        self._echo = plan.echo and plan.expect is None
        self._pool = ScoringPool(plan.scoring_workers)
        self._failed_audio: dict[str, CallAudio] = {}
        self._captures: dict[str, Capture] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._watchers: set[asyncio.Task[None]] = set()

    def placing(self, index: int) -> None:
        self.progress.started(f"#{index + 1}")

    def answered(self, call: Call) -> None:
        capture = Capture(self.plan.capture_seconds)
        call.add_tap(capture)
        self._captures[call.call_id] = capture
        watcher = asyncio.create_task(self._watch(call))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    def finished(self, report: CallReport) -> None:
        capture = self._captures.pop(report.call_id, None)
        received, sent = capture.channels() if capture is not None else (None, None)
        reference = sent if self._echo else None
        if self.plan.expect is not None:
            reference = self.plan.expect[: len(received) if received is not None else 0]
        task = asyncio.create_task(self._conclude(report, reference, received))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def wait(self) -> list[Outcome]:
        """Every verdict, once the last call's is computed (scoring included)."""
        await asyncio.gather(*self._pending)
        await asyncio.get_running_loop().run_in_executor(None, self._pool.close)
        for watcher in self._watchers:
            watcher.cancel()
        self.progress.close()
        return self.outcomes

    def conclude_run(self) -> int:
        """Write the outputs, log the summary; the exit status (0: every rule held)."""
        calls = report_dict(self.outcomes)["calls"]
        results = run_rules.check(self.plan.rules, calls)
        report = report_dict(self.outcomes, [r.to_dict() for r in results])
        out = self.outputs
        if out.report is not None:
            write_json(out.report, report)
        if out.junit is not None:
            write_junit(out.junit, self.outcomes)
        if out.keep_failed is not None:
            for call in report["calls"]:
                if not call["verdict"]["passed"]:
                    keep_failed(out.keep_failed, call, self._audio(call["call_id"]))
        if out.html is not None:
            audio = {
                call["call_id"]: (self._audio(call["call_id"]).reference,
                                  self._audio(call["call_id"]).received)
                for call in report["calls"] if not call["verdict"]["passed"]
            }  # fmt: skip
            html_writer()(out.html, report, audio)
        for line in summary_lines(report):
            logger.info("summary: %s", line)
        return 0 if all(result.passed for result in results) else 1

    def _audio(self, call_id: str) -> CallAudio:
        return self._failed_audio.get(call_id) or CallAudio.of(None, None)

    async def _conclude(
        self, report: CallReport, reference: Pcm | None, received: Pcm | None
    ) -> None:
        verdict = not_run(report)
        if verdict is None:
            verdict = await self._judge(report, reference, received)
        if not verdict.passed and (self.outputs.keep_failed or self.outputs.html):
            self._failed_audio[report.call_id] = CallAudio.of(reference, received)
        self.outcomes.append((report, verdict))
        log_verdict(report, verdict)
        self.progress.finished(report.call_id, verdict)

    async def _judge(
        self, report: CallReport, reference: Pcm | None, received: Pcm | None
    ) -> Verdict:
        measured = await asyncio.get_running_loop().run_in_executor(
            None,
            functools.partial(
                measure, report, reference=reference, received=received, echo=self._echo
            ),
        )
        scorers = self.plan.scorers
        if reference is None:
            scorers = tuple(name for name in scorers if name != "listening")
        heard = received if received is not None else np.zeros(0, np.int16)
        delay_ms = None if measured.audio is None else measured.audio.delay_ms
        job = ScoringJob(report.call_id, scorers, heard, reference, delay_ms)
        scores = (network_score(measured.quality), *await self._pool.score(job))
        return judge(report, measured, self.plan.thresholds, scores=scores,
                     caller_lag_ms=report.loop_lag_ms)  # fmt: skip

    async def _watch(self, call: Call) -> None:
        await call.connected.wait()
        self.progress.connected(call.call_id)


def html_writer() -> WriteHtml:
    """`agent_bot.qa.html.write_html`, imported on demand (matplotlib is heavy)."""
    from agent_bot.qa.html import write_html  # noqa: PLC0415

    return write_html


def log_verdict(report: CallReport, verdict: Verdict) -> None:
    scores = " · ".join(score.text() for score in verdict.scores)
    if verdict.passed:
        logger.info("call=%s passed: %s", report.call_id, scores)
    else:
        reasons = "; ".join(f"{f.code}: {f.reason}" for f in verdict.failures)
        logger.warning("call=%s failed: %s (%s)", report.call_id, reasons, scores)

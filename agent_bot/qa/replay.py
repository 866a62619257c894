"""A QA replay run: capture what crossed in each call, judge it when it ends, report.

A `Replay` follows a `Dialer` as its observer. The reference for the audio checks is the
`--expect` file when given, else what the call sent (the far end is taken to echo).
Verdicts are computed off the event loop, so judging one call never delays another's audio.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path

from agent_bot.call import Call
from agent_bot.media.capture import Capture
from agent_bot.media.frames import Pcm
from agent_bot.qa.progress import Progress
from agent_bot.qa.report import Outcome, write_json, write_junit
from agent_bot.qa.verdict import Thresholds, Verdict, judge_call
from agent_bot.report import CallReport

logger = logging.getLogger(__name__)


class Replay:
    """Observer of a dialer: one `Outcome` (report, verdict) per call."""

    def __init__(
        self,
        thresholds: Thresholds,
        progress: Progress,
        *,
        expect: Pcm | None = None,
        echo: bool = False,
        capture_seconds: float = 30.0,
    ) -> None:
        self.thresholds = thresholds
        self.progress = progress
        self.outcomes: list[Outcome] = []
        self._expect = expect
        self._echo = echo and expect is None
        self._capture_seconds = capture_seconds
        self._captures: dict[str, Capture] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._watchers: set[asyncio.Task[None]] = set()

    @property
    def judges_audio(self) -> bool:
        return self._expect is not None or self._echo

    def placing(self, index: int) -> None:
        self.progress.started(f"#{index + 1}")

    def answered(self, call: Call) -> None:
        if self.judges_audio:
            capture = Capture(self._capture_seconds)
            call.add_tap(capture)
            self._captures[call.call_id] = capture
        watcher = asyncio.create_task(self._watch(call))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    def finished(self, report: CallReport) -> None:
        capture = self._captures.pop(report.call_id, None)
        received, sent = capture.channels() if capture is not None else (None, None)
        reference = self._expect if self._expect is not None else sent
        task = asyncio.create_task(self._conclude(report, reference, received))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def wait(self) -> list[Outcome]:
        """Every verdict, once the last call's is computed."""
        await asyncio.gather(*self._pending)
        for watcher in self._watchers:
            watcher.cancel()
        self.progress.close()
        return self.outcomes

    def write(self, report: Path | None, junit: Path | None) -> None:
        if report is not None:
            write_json(report, self.outcomes)
        if junit is not None:
            write_junit(junit, self.outcomes)

    async def _conclude(
        self, report: CallReport, reference: Pcm | None, received: Pcm | None
    ) -> None:
        verdict = await asyncio.get_running_loop().run_in_executor(
            None,
            functools.partial(
                judge_call,
                report,
                self.thresholds,
                reference=reference if self.judges_audio else None,
                received=received,
                echo=self._echo,
                caller_lag_ms=report.loop_lag_ms,
            ),
        )
        self.outcomes.append((report, verdict))
        log_verdict(report, verdict)
        self.progress.finished(report.call_id, verdict)

    async def _watch(self, call: Call) -> None:
        await call.connected.wait()
        self.progress.connected(call.call_id)


def log_verdict(report: CallReport, verdict: Verdict) -> None:
    if verdict.passed:
        logger.info("call=%s passed", report.call_id)
    else:
        reasons = "; ".join(f"{f.check}: {f.reason}" for f in verdict.failures)
        logger.warning("call=%s failed: %s", report.call_id, reasons)

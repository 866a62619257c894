"""Live progress of a QA run: one rewritten status line on a terminal, JSON lines otherwise.

`RunProgress` counts and formats (pure); `Progress` writes to a stream: on a TTY it rewrites
one line with `\\r` after every event, elsewhere it writes one JSON line per finished call.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from agent_bot.qa.report import percentile
from agent_bot.qa.verdict import Verdict


@dataclass
class RunProgress:
    """Counts of a run so far."""

    total: int
    started: int = 0
    connected: int = 0
    passed: int = 0
    failed: int = 0
    mos: list[float] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return self.passed + self.failed

    def record(self, verdict: Verdict) -> None:
        """Count one finished call."""
        if verdict.passed:
            self.passed += 1
        else:
            self.failed += 1
        if verdict.quality is not None:
            self.mos.append(verdict.quality.mos)

    def status_line(self) -> str:
        """E.g. `calls 12/20 started · 10 connected · 8 done: 7 passed, 1 failed · MOS …`."""
        line = (
            f"calls {self.started}/{self.total} started · {self.connected} connected · "
            f"{self.finished} done: {self.passed} passed, {self.failed} failed"
        )
        if self.mos:
            line += (
                f" · MOS min {min(self.mos):.2f} p50 {percentile(self.mos, 50):.2f} "
                f"max {max(self.mos):.2f}"
            )
        return line


def call_line(call_id: str, verdict: Verdict, progress: RunProgress) -> str:
    """One finished call as a JSON line (no newline)."""
    data: dict[str, Any] = {
        "event": "call-finished",
        "callId": call_id,
        "passed": verdict.passed,
        "mos": None if verdict.quality is None else round(verdict.quality.mos, 3),
        "delayMs": None
        if verdict.audio is None or verdict.audio.delay_ms is None
        else round(verdict.audio.delay_ms, 1),
        "correlation": None
        if verdict.audio is None or verdict.audio.correlation is None
        else round(verdict.audio.correlation, 3),
        "scores": {s.label: None if s.value is None else round(s.value, 3) for s in verdict.scores},
        "failures": [f"{f.code}: {f.reason}" for f in verdict.failures],
        "done": progress.finished,
        "total": progress.total,
    }
    return json.dumps(data)


class Progress:
    """Reports a run's progress on `stream` (stderr by default)."""

    def __init__(self, total: int, stream: TextIO | None = None, *, tty: bool | None = None):
        self.state = RunProgress(total)
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty() if tty is None else tty

    def started(self, call_id: str) -> None:
        self.state.started += 1
        self._redraw()

    def connected(self, call_id: str) -> None:
        self.state.connected += 1
        self._redraw()

    def finished(self, call_id: str, verdict: Verdict) -> None:
        self.state.record(verdict)
        if self._tty:
            self._redraw()
        else:
            self._stream.write(call_line(call_id, verdict, self.state) + "\n")
            self._stream.flush()

    def close(self) -> None:
        """End the status line (on a TTY)."""
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def _redraw(self) -> None:
        if self._tty:
            # \x1b[K clears what a longer previous line left behind.
            self._stream.write("\r" + self.state.status_line() + "\x1b[K")
            self._stream.flush()

"""Problems for the screen: log records of level WARNING and up, one line each, no traceback."""

from __future__ import annotations

import collections
import logging


class ProblemLog(logging.Handler):
    """Keeps the newest warnings and errors (from any thread) for the desk to show."""

    def __init__(self, keep: int = 20) -> None:
        super().__init__(logging.WARNING)
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)

    def emit(self, record: logging.LogRecord) -> None:
        # the message only: a traceback (exc_info) stays in the --log file
        self.lines.append(f"{record.levelname.lower()}: {record.getMessage()}"[:200])

    def take(self) -> list[str]:
        """The lines logged since the last call."""
        taken = list(self.lines)
        self.lines.clear()
        return taken

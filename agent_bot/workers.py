"""Worker processes: W answering agents behind one agent name, one per core.

Each worker is the same `agent-bot answer` command run again with `AGENT_BOT_WORKER=i` in its
environment; it pins itself to one core and registers its own capacity (`--max-calls` each).
The supervisor forwards SIGINT/SIGTERM, so every worker hangs up and closes its recordings,
and restarts a worker that dies unexpectedly (a few times, then gives up on it).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

logger = logging.getLogger(__name__)

WORKER_ENV = "AGENT_BOT_WORKER"
MAX_RESTARTS = 3
RESTART_DELAY = 1.0


def worker_index() -> int | None:
    """This process's worker index, or None when it is not a worker."""
    value = os.environ.get(WORKER_ENV)
    return None if value is None else int(value)


def pin_to_core(index: int) -> None:
    """Run this process on one core, chosen round-robin among those allowed."""
    cores = sorted(os.sched_getaffinity(0))
    core = cores[index % len(cores)]
    os.sched_setaffinity(0, {core})
    logger.info("worker %d pinned to core %d", index, core)


def default_workers() -> int:
    return len(os.sched_getaffinity(0))


class Supervisor:
    """Runs and watches the worker processes."""

    def __init__(self, argv: Sequence[str], workers: int) -> None:
        self.argv = list(argv)
        self.workers = workers
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._restarts = dict.fromkeys(range(workers), 0)
        self._stopping = False
        self._gave_up = False

    def run(self) -> int:
        """Start the workers and wait for them; return 0 after a clean stop."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        for index in range(self.workers):
            self._spawn(index)
        while self._procs:
            for index, proc in list(self._procs.items()):
                code = proc.poll()
                if code is None:
                    continue
                del self._procs[index]
                if not self._stopping:
                    self._died(index, code)
            time.sleep(0.2)
        return 1 if self._gave_up else 0

    def _spawn(self, index: int) -> None:
        env = dict(os.environ, **{WORKER_ENV: str(index)})
        self._procs[index] = subprocess.Popen(
            [sys.executable, "-m", "agent_bot", *self.argv], env=env
        )
        logger.info("worker %d started pid=%d", index, self._procs[index].pid)

    def _died(self, index: int, code: int) -> None:
        if self._restarts[index] >= MAX_RESTARTS:
            logger.error(
                "worker %d exited with %d; restarted %d times, giving up on it",
                index,
                code,
                MAX_RESTARTS,
            )
            self._gave_up = True
            return
        self._restarts[index] += 1
        logger.warning("worker %d exited with %d; restarting", index, code)
        time.sleep(RESTART_DELAY)
        self._spawn(index)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

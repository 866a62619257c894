"""The scoring pool's workers go with the bot that started them, even a SIGKILLed one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

POOL = f"""
import os, sys, time
sys.path.insert(0, {str(ROOT)!r})
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from agent_bot.qa.scoring import _init_worker
pool = ProcessPoolExecutor(
    1, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
    initargs=(os.getpid(),),
)
"""

BOT = (
    POOL
    + """
print(pool.submit(os.getpid).result(), flush=True)
time.sleep(60)
"""
)

HASTY_BOT = (
    POOL
    + """
pool.submit(os.getpid)
print(*pool._processes, flush=True)  # started, still importing
os._exit(0)
"""
)
"""A bot that is gone before its worker has started (a dialer whose calls all ended at once)."""


def test_a_worker_outlives_no_sigkilled_bot() -> None:
    bot = subprocess.Popen([sys.executable, "-c", BOT], stdout=subprocess.PIPE, text=True)
    assert bot.stdout is not None
    worker = int(bot.stdout.readline())
    assert running(worker)
    bot.kill()
    bot.wait()
    assert gone(worker), f"scoring worker {worker} outlived its bot"


def test_a_worker_outlives_no_bot_that_left_while_it_started() -> None:
    bot = subprocess.Popen([sys.executable, "-c", HASTY_BOT], stdout=subprocess.PIPE, text=True)
    assert bot.stdout is not None
    worker = int(bot.stdout.readline())  # (the worker holds the pipe: read no further)
    assert bot.wait(30) == 0
    bot.stdout.close()
    assert gone(worker), f"scoring worker {worker} outlived the bot that left as it started"


def gone(pid: int, within: float = 15.0) -> bool:
    """Whether `pid` ends within `within` seconds."""
    deadline = time.monotonic() + within
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not running(pid)


def running(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for a PID 1 that does not reap has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"

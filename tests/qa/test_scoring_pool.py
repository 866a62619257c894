"""The scoring pool's workers go with the bot that started them, even a SIGKILLed one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BOT = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from agent_bot.qa.scoring import _init_worker
pool = ProcessPoolExecutor(
    1, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
)
print(pool.submit(__import__("os").getpid).result(), flush=True)
time.sleep(60)
"""


def test_a_worker_outlives_no_sigkilled_bot() -> None:
    bot = subprocess.Popen([sys.executable, "-c", BOT], stdout=subprocess.PIPE, text=True)
    assert bot.stdout is not None
    worker = int(bot.stdout.readline())
    assert running(worker)
    bot.kill()
    bot.wait()
    deadline = time.monotonic() + 10
    while running(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(worker), f"scoring worker {worker} outlived its bot"


def running(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for a PID 1 that does not reap has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"

"""The sound engine's priority: raised for the threads started after it, or said not to be."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent_bot.media import priority
from agent_bot.media.priority import NICE

CHECK = """
import threading
said = raise_priority()
nice = []
thread = threading.Thread(target=lambda: nice.append(os.getpriority(os.PRIO_PROCESS, 0)))
thread.start()
thread.join()
print(said, "|", nice[0])
"""
CHILD = Path(priority.__file__).read_text() + CHECK


def run_child(*prefix: str) -> tuple[str, int]:
    """What `raise_priority` says in a fresh process, and the nice value of a thread it starts
    afterwards. The child is the system's Python running the module's source: an unprivileged
    user may not be able to read this checkout."""
    python = os.path.realpath(sys.executable)
    done = subprocess.run(
        [*prefix, python, "-I", "-c", CHILD],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    said, nice = done.stdout.strip().rsplit("|", 1)
    return said.strip(), int(nice)


def allowed() -> bool:
    """Whether this process's children may lower their nice value to `NICE`."""
    hard = resource.getrlimit(resource.RLIMIT_NICE)[1]
    return os.geteuid() == 0 or (hard != resource.RLIM_INFINITY and 20 - hard <= NICE)


def test_threads_started_afterwards_get_the_raised_priority() -> None:
    if not allowed():
        pytest.fail("run as root (CAP_SYS_NICE) or with an RLIMIT_NICE down to -10 to test this")
    said, nice = run_child()
    assert said == f"nice {NICE}"
    assert nice == NICE


def test_says_so_when_it_is_not_permitted() -> None:
    prefix = ["prlimit", "--nice=0:0"]
    if os.geteuid() == 0:  # root keeps CAP_SYS_NICE: run as nobody
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("setpriv (util-linux) is needed to test this as root")
        prefix += [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    said, nice = run_child(*prefix)
    assert said.startswith("nice 0: -10 not permitted (needs CAP_SYS_NICE or RLIMIT_NICE)")
    assert nice == 0

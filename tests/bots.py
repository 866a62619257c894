"""Agent bot processes for tests: `agent-bot` run as real subprocesses, their logs kept."""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from agent_bot.media.frames import Pcm

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


REPEATS_KEPT = 20
"""A log line seen this many times is not written again: a C library stuck printing the same
error in a loop (PortAudio's ALSA backend when the sound server dies) would fill the disk."""
MAX_LOG_BYTES = 50_000_000


class Bot:
    """One `python -m agent_bot ...` process with its log file."""

    def __init__(
        self,
        args: list[str],
        log: Path,
        *,
        console: bool = False,
        launcher: Sequence[str] = ("agent_bot",),
    ) -> None:
        self.args = args
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *launcher, *args],
            cwd=SAMPLES.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if console else subprocess.DEVNULL,
        )
        self._copier = threading.Thread(target=self._copy_log, daemon=True)
        self._copier.start()

    def _copy_log(self) -> None:
        """Copies the bot's output to its log, bar lines repeated over `REPEATS_KEPT` times."""
        assert self.proc.stdout is not None
        seen: collections.Counter[bytes] = collections.Counter()
        written = 0
        for line in self.proc.stdout:
            seen[line] += 1
            if seen[line] > REPEATS_KEPT or written > MAX_LOG_BYTES:
                continue
            self._out.write(line)
            self._out.flush()
            written += len(line)

    def type(self, line: str) -> None:
        """Write one line to the bot's console (started with `console=True`)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, pattern: str, timeout: float = 30.0, count: int = 1) -> list[str]:
        """Wait until `pattern` (a regex) matched `count` log lines; fail with the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exited = self.proc.poll() is not None
            if exited:
                self._copier.join(5)  # the last lines are in the log
            found = re.findall(f".*{pattern}.*", self.text())
            if len(found) >= count:
                return found
            if exited:
                break
            time.sleep(0.05)
        pytest.fail(f"{pattern!r} not seen (x{count}) in {self.log.name}:\n{self.text()[-4000:]}")

    def wait(self, timeout: float = 60.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.args[0]} did not exit in {timeout} s:\n{self.text()[-4000:]}")
        self._copier.join(5)  # the last lines are in the log
        return code

    def signal(self, sig: signal.Signals) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._copier.join(5)
        self._out.close()


class Bots:
    """Starts bots against one server and stops them all at teardown."""

    def __init__(self, tmp_path: Path, url: str, token: str) -> None:
        self.tmp_path = tmp_path
        self.url = url
        self.token = token
        self.started: list[Bot] = []

    def answer(self, *args: str, name: str = "answer", console: bool = False) -> Bot:
        bot = self.run(
            "answer", "--token", self.token, "--name", name, *args, log=name, console=console
        )
        bot.wait_log("agent registered")
        return bot

    def call(self, *args: str, name: str = "call") -> Bot:
        return self.run("call", *args, log=name)

    def run(self, command: str, *args: str, log: str, console: bool = False) -> Bot:
        index = len(self.started)
        bot = Bot(
            [command, "--server", self.url, *args],
            self.tmp_path / f"{index}-{log}.log",
            console=console,
        )
        self.started.append(bot)
        return bot

    def close(self) -> None:
        for bot in self.started:
            bot.close()


def read_recording(path: Path) -> tuple[Pcm, Pcm]:
    """A call recording as (received, sent) mono int16 arrays."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 2
        assert wav.getframerate() == 48_000
        assert wav.getsampwidth() == 2
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    stereo = frames.reshape(-1, 2)
    return stereo[:, 0].copy(), stereo[:, 1].copy()


def recordings(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wav"))

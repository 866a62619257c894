"""`agent-bot desk` in a real terminal: tmux (its own server socket) runs it, the test types
keys with `send-keys` and reads the screen with `capture-pane` while it takes a call."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.conftest import bots
from tests.bots import SAMPLES, Bots
from tests.desk.test_desk import ARTIFACTS
from tests.procs import SignalingServer

__all__ = ["bots"]  # the fixture, imported


class Tmux:
    """One tmux server of its own (`-L`), one session running a command."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, "-f", "/dev/null", *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "desk")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "desk", *keys)

    def wait_for(self, text: str, within: float = 30.0) -> str:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        pytest.fail(f"{text!r} never showed; the screen:\n{self.screen()}")

    def alive(self) -> bool:
        command = ["tmux", "-L", self.socket, "has-session", "-t", "desk"]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: install the Debian package tmux", pytrace=False)
    server = Tmux(f"desk-test-{tmp_path.name}")
    yield server
    subprocess.run(["tmux", "-L", server.socket, "kill-server"], capture_output=True, check=False)


def test_the_desk_takes_a_call_in_tmux(
    tmux: Tmux, signaling_server: SignalingServer, bots: Bots, tmp_path: Path
) -> None:
    log = tmp_path / "desk.log"
    desk = [
        sys.executable, "-m", "agent_bot", "desk", "--server", signaling_server.url,
        "--token", signaling_server.agent_token, "--name", "Tess", "--tone", "440",
        "--no-speaker", "--no-ring", "--log", str(log),
    ]  # fmt: skip
    tmux.run(
        "new-session", "-d", "-s", "desk", "-x", "100", "-y", "30", "-c", str(SAMPLES.parent),
        " ".join(desk),
    )  # fmt: skip
    tmux.wait_for("server: connected")
    bots.call("--tone", "300", "--duration", "40")
    tmux.wait_for("is calling")
    tmux.keys("a")
    tmux.wait_for("☏ agent-bot-caller-1")
    screen = tmux.wait_for("MOS 4")
    (ARTIFACTS / "tmux-in-call.txt").parent.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "tmux-in-call.txt").write_text(screen)
    tmux.keys("e")
    screen = tmux.wait_for("local-hangup")
    (ARTIFACTS / "tmux-history.txt").write_text(screen)
    tmux.keys("q")
    deadline = time.monotonic() + 10
    while tmux.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not tmux.alive(), tmux.screen()
    text = log.read_text()
    assert "accepted from" in text and "Traceback" not in text

"""Fixtures of the QA tests: the speech sample, far-end bots and callers as processes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from agent_bot.media.frames import Pcm
from tests.bots import Bot
from tests.procs import SignalingServer
from tests.qa.signals import SAMPLES, read_wav


@pytest.fixture(scope="session")
def speech() -> Pcm:
    """10.9 s of synthetic speech (samples/hello-48k.wav)."""
    return read_wav(SAMPLES / "hello-48k.wav")


class QaBot(Bot):
    """`agent-bot` as a subprocess, optionally behind the test-only impairment launcher."""

    def __init__(self, args: list[str], log: Path, impairment: Sequence[str] = ()) -> None:
        launcher = ["tests.qa.impaired_bot", *impairment, "--"] if impairment else ["agent_bot"]
        super().__init__(args, log, launcher=launcher)


class QaRun:
    """Far-end bots and callers of QA runs against one signaling server; all stopped at the end."""

    def __init__(self, tmp_path: Path, server: SignalingServer) -> None:
        self.tmp_path = tmp_path
        self.server = server
        self.started: list[QaBot] = []

    def far_end(self, *args: str, name: str, impairment: Sequence[str] = ()) -> QaBot:
        """An answering bot (`--echo`, `--silence`, …) registered with the server."""
        bot = self._start(
            ["answer", "--token", self.server.agent_token, "--name", name, *args], name, impairment
        )
        bot.wait_log("agent registered")
        return bot

    def dial(self, *args: str, name: str = "call") -> tuple[int, QaBot]:
        """Run `agent-bot call` to its end; its exit status and process."""
        caller = self._start(["call", *args], name)
        return caller.wait(timeout=240), caller

    def _start(self, args: list[str], name: str, impairment: Sequence[str] = ()) -> QaBot:
        log = self.tmp_path / f"{len(self.started)}-{name}.log"
        bot = QaBot(
            ["--log-level", "INFO", *args[:1], "--server", self.server.url, *args[1:]],
            log,
            impairment,
        )
        self.started.append(bot)
        return bot

    def close(self) -> None:
        for bot in self.started:
            bot.close()


@pytest.fixture
def qa_run(tmp_path: Path, signaling_server: SignalingServer) -> Iterator[QaRun]:
    run = QaRun(tmp_path, signaling_server)
    yield run
    run.close()

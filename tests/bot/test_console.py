"""The --manual console: a person accepts, rejects and hangs up calls."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bots import Bots


def test_reject_then_accept_then_hang_up(bots: Bots, tmp_path: Path) -> None:
    agent = bots.answer("--manual", "--tone", "440", console=True)
    agent.wait_log("commands: accept")
    first = bots.call("--tone", "300", "--duration", "60", name="first")
    agent.wait_log("from agent-bot-caller-1: accept/reject")
    agent.type("calls")
    agent.wait_log("ringing  [0-9a-f]+  from agent-bot-caller-1$")
    agent.type("reject")
    agent.wait_log("rejected")
    # The only agent declined: the server ends the call with reason no-agent.
    assert first.wait(timeout=30) == 1
    assert "no-agent" in first.text()

    second = bots.call("--tone", "300", "--duration", "60", "--report", str(tmp_path / "r.json"))
    agent.wait_log("accept/reject", count=2)
    agent.type("accept")
    agent.wait_log("accepted [0-9a-f]+")
    agent.wait_log("first audio in")
    agent.type("hangup")
    agent.wait_log("hung up")
    second.wait(timeout=30)  # (its verdict: a call this short cannot pass)
    [report] = json.loads((tmp_path / "r.json").read_text())["calls"]
    assert report["end_reason"] == "hangup"


def test_console_explains_itself(bots: Bots) -> None:
    agent = bots.answer("--manual", console=True)
    agent.type("accept")
    agent.wait_log("no call ringing")
    agent.type("dance")
    agent.wait_log("commands: accept", count=2)

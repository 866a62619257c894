"""Calls that need no received PCM are not decoded: no aiortc decoder thread per call."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

from tests.bots import Bot, Bots

CALLS = 5


def threads(bot: Bot) -> int:
    return len(list(Path(f"/proc/{bot.proc.pid}/task").iterdir()))


def reports(bot: Bot) -> list[dict[str, object]]:
    return [json.loads(m) for m in re.findall(r"report (\{.*\})", bot.text())]


def calls_to(bots: Bots, tmp_path: Path, agent: Bot, name: str) -> int:
    """The agent's thread count while CALLS echo calls run (each sends a tone for 4 s)."""
    caller = bots.call("--tone", "440", "--calls", str(CALLS), "--concurrency", str(CALLS),
                       "--duration", "4", "--report", str(tmp_path / f"{name}.json"),
                       name=f"call-{name}")  # fmt: skip
    agent.wait_log("first audio in", count=CALLS)
    time.sleep(1)
    during = threads(agent)
    assert caller.wait() == 0, caller.text()
    agent.wait_log("ended reason=hangup", count=CALLS)
    return during


def test_echo_calls_run_no_decoder_threads(bots: Bots, tmp_path: Path) -> None:
    plain = bots.answer("--echo", "--max-calls", str(CALLS), name="plain")
    idle = threads(plain)
    plain_during = calls_to(bots, tmp_path, plain, "plain")
    plain.wait_log("nothing needs the received PCM: not decoded", count=CALLS)
    plain.signal(signal.SIGTERM)  # the next calls must all go to the next bot
    assert plain.wait() == 0
    # the same calls into a bot that records them: it needs PCM, so aiortc decodes
    recording = bots.answer("--echo", "--max-calls", str(CALLS), "--record", str(tmp_path / "r"),
                            name="recording")  # fmt: skip
    recording_during = calls_to(bots, tmp_path, recording, "recording")
    assert "not decoded" not in recording.text()
    assert recording_during - plain_during >= CALLS, (idle, plain_during, recording_during)
    # packets stand for frames: each call counted what it received, about 50 a second
    for report in reports(plain):
        frames = report["frames_received"]
        assert isinstance(frames, int) and frames >= 0.8 * 4 * 50, report
    # and the echo still carried the tone back: every caller's call passed its verdict
    for name in ("plain", "recording"):
        calls = json.loads((tmp_path / f"{name}.json").read_text())["calls"]
        assert all(c["verdict"]["passed"] for c in calls), [c["verdict"] for c in calls]

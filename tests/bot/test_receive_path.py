"""No aiortc decoder thread per call: calls that need no received PCM are not decoded, calls
that record it decode the packets on the event loop."""

from __future__ import annotations

import json
import re
import signal
import time
import wave
from pathlib import Path

import numpy as np
import pytest

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
    # (the caller's hang-up, or its connection closing if that reaches the bot first)
    agent.wait_log("ended reason=(hangup|remote-closed)", count=CALLS)
    return during


@pytest.mark.solo  # five calls that must all pass their verdicts (delay, MOS) as QA runs would
def test_echo_calls_run_no_decoder_threads(bots: Bots, tmp_path: Path) -> None:
    plain = bots.answer("--echo", "--max-calls", str(CALLS), name="plain")
    idle = threads(plain)
    plain_during = calls_to(bots, tmp_path, plain, "plain")
    plain.wait_log("nothing needs the received PCM: not decoded", count=CALLS)
    plain.signal(signal.SIGTERM)  # the next calls must all go to the next bot
    assert plain.wait() == 0
    # the same calls into a bot that records them: it needs PCM, decoded on the event loop
    recording = bots.answer("--echo", "--max-calls", str(CALLS), "--record", str(tmp_path / "r"),
                            name="recording")  # fmt: skip
    recording_during = calls_to(bots, tmp_path, recording, "recording")
    recording.wait_log("received audio decoded on the event loop", count=CALLS)
    assert "not decoded" not in recording.text()
    assert recording_during - plain_during < CALLS, (idle, plain_during, recording_during)
    # packets (or frames decoded from them) counted: about 50 a second
    for report in reports(plain) + reports(recording):
        frames = report["frames_received"]
        assert isinstance(frames, int) and frames >= 0.8 * 4 * 50, report
    # each recording holds the caller's tone (left: received) for the whole call
    files = sorted((tmp_path / "r").glob("*.wav"))
    assert len(files) == CALLS, files
    for file in files:
        with wave.open(str(file)) as w:
            left = np.frombuffer(w.readframes(w.getnframes()), np.int16)[0::2]
        spectrum = np.abs(np.fft.rfft(left.astype(np.float64)))
        assert abs(np.argmax(spectrum) * 48_000 / len(left) - 440) < 5, file
        frames = left[: len(left) // 960 * 960].reshape(-1, 960).astype(np.float64)
        voiced = np.sqrt(np.mean(frames**2, axis=1)) > 300
        assert voiced.sum() >= 0.9 * 4 * 50, (file, voiced.sum())
    # and the echo still carried the tone back: every caller's call passed its verdict
    for name in ("plain", "recording"):
        calls = json.loads((tmp_path / f"{name}.json").read_text())["calls"]
        assert all(c["verdict"]["passed"] for c in calls), [c["verdict"] for c in calls]

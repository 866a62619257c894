"""Evidence kept for failed calls only, the HTML hook, run rules, and bad input as usage errors.

Real `agent-bot call` processes: against an echo and a silent far end through the real
server (`--keep-failed`, `--html`, `--min-pass-rate`), and with bad flags, which must stop
with exit status 2 before any call is placed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.bots import read_recording
from tests.qa.conftest import QaRun
from tests.qa.signals import SAMPLES

HELLO = str(SAMPLES / "hello-48k.wav")
CALLS = 4


def test_keep_failed_keeps_exactly_the_failed_calls(qa_run: QaRun, tmp_path: Path) -> None:
    qa_run.far_end("--echo", "--max-calls", "2", name="echo")
    qa_run.far_end("--silence", "--max-calls", "2", name="silent")
    kept, report = tmp_path / "kept", tmp_path / "run.json"
    status, caller = qa_run.dial(
        "--play", HELLO, "--calls", str(CALLS), "--concurrency", str(CALLS), "--duration", "4",
        "--report", str(report), "--keep-failed", str(kept), "--html", str(tmp_path / "r.html"),
        "--min-pass-rate", "0.25", "--min-p5-score", "MOS-CQE=1",
    )  # fmt: skip
    data = json.loads(report.read_text())
    failed = [c for c in data["calls"] if not c["verdict"]["passed"]]
    assert 0 < len(failed) < CALLS, [c["verdict"]["failures"] for c in data["calls"]]
    rules = {r["rule"]: r for r in data["summary"]["rules"]}
    assert rules["min-pass-rate 0.25"]["passed"] and rules["min-p5-score MOS-CQE=1.00"]["passed"]
    assert status == 0, caller.text()[-3000:]  # failed calls, but the run's rules held
    assert "summary: rule min-pass-rate 0.25: passed" in caller.text()

    expected = {
        f"{c['call_id']}{ext}" for c in failed for ext in (".wav", ".windows.json", ".json")
    }
    assert {p.name for p in kept.iterdir()} == expected
    for call in failed:
        assert call["verdict"]["failures"][0]["code"] == "far-end-silent"
        received, reference = read_recording(kept / f"{call['call_id']}.wav")
        assert len(received) == len(reference) > 3 * 48_000
        assert np.abs(received).max() == 0 and np.abs(reference).max() > 10_000
        windows = json.loads((kept / f"{call['call_id']}.windows.json").read_text())
        assert windows["windows"] and {s["label"] for s in windows["scores"]} >= {"MOS-CQE"}
        assert json.loads((kept / f"{call['call_id']}.json").read_text()) == call
    page = (tmp_path / "r.html").read_text()
    assert all(c["call_id"] in page for c in data["calls"])


def usage_error(tmp_path: Path, *args: str) -> str:
    """`agent-bot call ARGS` must exit 2 before placing a call; its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "agent_bot", "call", "--server", "http://127.0.0.1:9",
         "--play", HELLO, "--duration", "3", *args],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "requested" not in result.stderr  # no call was placed
    return result.stderr


@pytest.fixture
def short_sample(tmp_path: Path) -> Path:
    path = tmp_path / "short.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes((np.sin(np.arange(48_000) / 8) * 8000).astype("<i2").tobytes())
    return path


def test_bad_input_is_a_usage_error_before_any_call(tmp_path: Path, short_sample: Path) -> None:
    unreadable = tmp_path / "garbage.wav"
    unreadable.write_bytes(b"not audio at all")
    assert "garbage.wav" in usage_error(tmp_path, "--expect", str(unreadable))
    assert "missing.wav" in usage_error(tmp_path, "--expect", str(tmp_path / "missing.wav"))
    nowhere = tmp_path / "no" / "such" / "dir"
    assert "--html" in usage_error(tmp_path, "--html", str(nowhere / "r.html"))
    assert "--report" in usage_error(tmp_path, "--report", str(nowhere / "r.json"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert "--keep-failed" in usage_error(tmp_path, "--keep-failed", str(blocker / "sub"))
    assert "too short to score" in usage_error(tmp_path, "--expect", str(short_sample))

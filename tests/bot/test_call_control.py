"""Hold, mute, away / ready and transfer refusals from the line console, with real bots.

The caller records what it receives: the agent's 440 Hz tone, the hold pattern while held
(523 / 659 Hz, quiet), silence while muted; the stream never stops.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from tests.bots import Bots, read_recording, recordings


def dominant_hz(pcm: Pcm) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(pcm))


def rms(pcm: Pcm) -> float:
    return float(np.sqrt(np.mean(np.square(pcm.astype(np.float64))))) / 32768


def marks(bot_log: str, pattern: str) -> None:
    assert pattern in bot_log, bot_log[-3000:]


def test_hold_mute_away_ready_and_refused_transfer(bots: Bots, tmp_path: Path) -> None:
    agent = bots.answer("--manual", "--tone", "440", name="alice", console=True)
    agent.wait_log("commands: accept")
    record = tmp_path / "caller"
    caller = bots.call("--tone", "300", "--duration", "14", "--record", str(record))
    agent.wait_log("accept/reject")
    agent.type("accept")
    agent.wait_log("first audio in")
    time.sleep(2)
    agent.type("hold")
    caller.wait_log("held by the peer")
    time.sleep(3)
    agent.type("resume")
    caller.wait_log("resumed by the peer")
    time.sleep(2)
    agent.type("mute")
    agent.wait_log("muted [0-9a-f]+")
    time.sleep(2)
    agent.type("unmute")
    agent.type("transfer nobody")
    agent.wait_log("refused: unknown-agent")
    agent.type("transfer queue-less")
    agent.wait_log("refused: unknown-agent", count=2)
    caller.wait(timeout=40)  # (its QA verdict judges other things)
    assert "ended reason=local-hangup" in caller.text()
    agent.type("away")
    agent.wait_log("state away")
    agent.type("ready")
    agent.wait_log("state available")

    [path] = recordings(record)
    received, _sent = read_recording(path)
    text = caller.text() + agent.text()
    held_at = _line_time(text, "held by the peer")
    resumed_at = _line_time(text, "resumed by the peer")
    assert resumed_at - held_at > 2.5
    # half-second windows of what the caller got: tone, the quiet hold notes, tone, silence
    half = SAMPLE_RATE // 2
    windows = [received[i : i + half] for i in range(0, len(received) - half, half)]
    assert 440 in [round(dominant_hz(w)) for w in windows if rms(w) > 0.1]
    held = [dominant_hz(w) for w in windows if 0.005 < rms(w) < 0.05]
    assert any(abs(hz - 523) < 10 or abs(hz - 659) < 10 for hz in held), held
    assert any(rms(w) == 0 for w in windows[2:]), "muted: silence expected"


def _line_time(text: str, needle: str) -> float:
    """The time of day (seconds) of the first log line containing `needle`."""
    line = next(line for line in text.splitlines() if needle in line)
    clock = line.split()[1].replace(",", ".")
    hours, minutes, seconds = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)

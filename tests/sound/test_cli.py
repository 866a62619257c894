"""`agent-bot devices` and `agent-bot answer --speaker` as a support agent runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent_bot.media.sources import decode
from agent_bot.qa.comparison import compare
from tests.bots import SAMPLES, Bot, Bots
from tests.sound.pulse import PulseDaemon

pytestmark = pytest.mark.sound

HELLO = SAMPLES / "hello-48k.wav"


def test_devices_lists_the_sound_server(pulse: PulseDaemon, tmp_path: Path) -> None:
    listing = Bot(["devices"], tmp_path / "devices.log")
    assert listing.wait() == 0
    text = listing.text()
    listing.close()
    assert "pulse" in text and "output" in text.lower()


def test_caller_is_heard_on_the_speaker(bots: Bots, pulse: PulseDaemon, tmp_path: Path) -> None:
    agent = bots.answer("--speaker", "--silence")
    monitor = pulse.monitor()
    caller = bots.call("--play", str(HELLO), "--report", str(tmp_path / "r.json"))
    caller.wait()  # its exit status is its QA verdict, which fails a silent far end
    agent.wait_log("ended reason=hangup")
    monitor.stop()
    played = monitor.pcm()
    # Short windows, each aligned on its own: the playout resamples (drift) and catches up.
    result = compare(decode(HELLO), played, window_s=0.25, search_ms=150)
    correlations = [w.correlation for w in result.windows]
    assert len(correlations) >= 20
    assert float(np.median(correlations)) >= 0.9
    [report] = json.loads((tmp_path / "r.json").read_text())["calls"]
    assert report["end_reason"] == "local-hangup"
    assert report["frames_sent"] > 0
    assert "speaker" in agent.text()

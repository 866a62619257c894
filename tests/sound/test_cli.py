"""`agent-bot devices` and `agent-bot answer --speaker` as a support agent runs them."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from agent_bot.media.playout import MAX_TARGET_MS, MIN_TARGET_MS
from agent_bot.media.sources import decode
from agent_bot.qa.comparison import compare
from tests.bots import SAMPLES, Bot, Bots
from tests.metrics import Scrape
from tests.procs import free_port, wait_http
from tests.sound.playoutgauges import GAUGES, PlayoutGauges
from tests.sound.pulse import PulseDaemon

pytestmark = [pytest.mark.sound, pytest.mark.solo]

HELLO = SAMPLES / "hello-48k.wav"


def test_devices_lists_the_sound_server(pulse: PulseDaemon, tmp_path: Path) -> None:
    listing = Bot(["devices"], tmp_path / "devices.log")
    assert listing.wait() == 0
    text = listing.text()
    listing.close()
    assert "pulse" in text and "output" in text.lower()


def test_caller_is_heard_on_the_speaker(bots: Bots, pulse: PulseDaemon, tmp_path: Path) -> None:
    """... and the playout of the call on the speaker is on the metrics port while it plays."""
    port = free_port()
    agent = bots.answer("--speaker", "--silence", "--metrics-port", str(port))
    gauges = PlayoutGauges(f"http://127.0.0.1:{port}/metrics")
    wait_http(gauges.url, proc=agent.proc)
    idle = Scrape.of(gauges.url)
    assert all(math.isnan(idle.value(gauge)) for gauge in GAUGES.values())  # no call on it
    monitor = pulse.monitor()
    caller = bots.call("--play", str(HELLO), "--report", str(tmp_path / "r.json"))
    deadline = time.monotonic() + 20
    while not gauges.samples and caller.proc.poll() is None and time.monotonic() < deadline:
        gauges.scrape()
        time.sleep(0.2)
    assert gauges.samples, f"no speaker gauges during the call:\n{agent.text()[-2000:]}"
    playing = gauges.samples[0]
    assert MIN_TARGET_MS <= playing.target <= MAX_TARGET_MS
    assert 0 < playing.depth <= 2 * MAX_TARGET_MS
    assert 1 <= playing.device <= 500
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

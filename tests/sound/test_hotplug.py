"""Hot-plug: a sound device that appears is picked up, one that goes is let go, mid-run.

The device is an ALSA one, as a USB headset is: `headset`, defined in the user's ALSA
configuration (`~/.asoundrc`, the test's private HOME) as PulseAudio's `mic` sink. Writing the
file plugs it in; removing it unplugs it. The bot (`answer --speaker headset`) starts without
it and is never restarted.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from agent_bot.media.frames import SAMPLE_RATE
from tests.bots import SAMPLES, Bots
from tests.sound.pulse import MIC_SINK, PulseDaemon

pytestmark = [pytest.mark.sound, pytest.mark.solo]

HEADSET = f'pcm.headset {{ type pulse\n device "{MIC_SINK}" }}\nctl.headset {{ type pulse }}\n'


def test_a_headset_plugged_in_and_out_while_the_bot_runs(
    bots: Bots, pulse: PulseDaemon, tmp_path: Path
) -> None:
    asoundrc = Path(os.environ["HOME"]) / ".asoundrc"
    agent = bots.answer("--speaker", "headset", "--silence")
    agent.wait_log(r"speaker: sound device unavailable \(no output device named like 'headset'")

    asoundrc.write_text(HEADSET)  # plugged in
    agent.wait_log(r"sound engine: restarting \(the sound devices changed\)", timeout=10)
    agent.wait_log(r"speaker: device \d+ \(headset\) open", timeout=10)

    on_headset = pulse.monitor(MIC_SINK)
    caller = bots.call(
        "--play", str(SAMPLES / "hello-48k.wav"), "--report", str(tmp_path / "r.json")
    )
    agent.wait_log("on the speaker")
    agent.wait_log("first audio in")
    time.sleep(3)
    heard = on_headset.pcm()[-2 * SAMPLE_RATE :]
    assert np.sqrt(np.mean(heard.astype(np.float64) ** 2)) > 100, "not heard on the headset"

    asoundrc.unlink()  # unplugged, mid-call
    agent.wait_log(r"sound engine: restarting \(the sound devices changed\)", count=2, timeout=10)
    agent.wait_log(r"speaker: sound device unavailable", count=2, timeout=10)
    on_headset.stop()
    caller.wait(60)
    [report] = json.loads((tmp_path / "r.json").read_text())["calls"]
    assert report["end_reason"] == "local-hangup", report  # the call went on
    assert agent.proc.poll() is None

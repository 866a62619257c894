"""No echo back to the caller through a speaker-to-microphone loop (laptop speakers).

The loop is PulseAudio's: a loopback module plays the speaker sink's monitor into the
microphone's sink, delayed and attenuated, as a room would. The caller (`agent-bot call`)
plays speech and records what comes back; the bot is `agent-bot answer --speaker --mic`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.media.sources import decode
from agent_bot.qa.comparison import compare
from tests.bots import SAMPLES, Bots, read_recording, recordings
from tests.sound.pulse import MIC_SINK, SPEAKER_SINK, PulseDaemon

pytestmark = [pytest.mark.sound, pytest.mark.solo]

logger = logging.getLogger(__name__)

FAR = SAMPLES / "hello-48k.wav"
"""What the caller says (10.9 s)."""
NEAR = SAMPLES / "weather-48k.wav"
"""What the agent says into the microphone, from `NEAR_AT_S` on (double talk)."""
NEAR_AT_S = 6.0
ECHO_ONLY_S = (2.5, 5.5)
"""Seconds of the call with only the echo on the microphone, after 2 s of convergence."""
LOOP_DELAY_MS = 80
LOOP_VOLUME = "40%"
"""PulseAudio's volume scale is cubic: 40 % is about -24 dB."""


@pytest.fixture
def acoustic_loop(pulse: PulseDaemon) -> Iterator[None]:
    """The speaker sink's monitor played into the microphone's sink, delayed and quieter."""
    module = pulse.pactl(
        "load-module",
        "module-loopback",
        f"source={SPEAKER_SINK}.monitor",
        f"sink={MIC_SINK}",
        f"latency_msec={LOOP_DELAY_MS}",
        "source_dont_move=true",
        "sink_dont_move=true",
    ).strip()
    time.sleep(0.2)
    inputs = pulse.pactl("list", "short", "sink-inputs")
    [index] = [line.split()[0] for line in inputs.splitlines() if "module-loopback" in line]
    pulse.pactl("set-sink-input-volume", index, LOOP_VOLUME)
    yield
    pulse.pactl("unload-module", module)


def call_through_the_loop(
    bots: Bots, pulse: PulseDaemon, tmp_path: Path, *flags: str, near: bool
) -> tuple[Pcm, str]:
    """What the caller received from a bot answering with `flags`, and the bot's log."""
    agent = bots.answer("--speaker", "--mic", *flags, name="agent" + "".join(flags))
    agent.wait_log(r"microphone: device \d+ .* open")
    out = tmp_path / ("rec" + "".join(flags))
    caller = bots.call("--play", str(FAR), "--far-end", "unknown", "--record", str(out))
    agent.wait_log("on the speaker")
    player = None
    if near:
        time.sleep(NEAR_AT_S)
        player = pulse.play(decode(NEAR), MIC_SINK)
    caller.wait(60)
    agent.wait_log("ended reason=hangup")
    if player is not None:
        player.kill()
    agent.close()
    [recording] = recordings(out)
    received, _ = read_recording(recording)
    return received, agent.text()


def level_db(pcm: Pcm) -> float:
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
    return 20 * np.log10(max(rms, 1e-3) / 32768)


def seconds(pcm: Pcm, span: tuple[float, float]) -> Pcm:
    return pcm[round(span[0] * SAMPLE_RATE) : round(span[1] * SAMPLE_RATE)]


def test_the_caller_hears_no_echo_and_the_agent_still_gets_through(
    acoustic_loop: None, bots: Bots, pulse: PulseDaemon, tmp_path: Path
) -> None:
    echoed, _ = call_through_the_loop(bots, pulse, tmp_path, "--no-aec", near=False)
    cancelled, log = call_through_the_loop(bots, pulse, tmp_path, near=True)

    echo_db = level_db(seconds(echoed, ECHO_ONLY_S))
    left_db = level_db(seconds(cancelled, ECHO_ONLY_S))
    assert echo_db > -45, f"no echo came back without AEC ({echo_db:.1f} dBFS): no loop?"
    assert echo_db - left_db >= 25, f"echo {echo_db:.1f} dBFS, with AEC {left_db:.1f} dBFS"

    # double talk: the agent's speech through the same microphone reaches the caller
    near = decode(NEAR)
    tail = cancelled[round(NEAR_AT_S * SAMPLE_RATE) :]
    heard = compare(near[: len(tail)], tail, window_s=1.0, search_ms=60)
    correlations = [w.correlation for w in heard.windows]
    assert len(correlations) >= 3, heard
    assert float(np.median(correlations)) >= 0.6, correlations

    removed = [float(x) for x in re.findall(r"echo removed (-?[\d.]+) dB", log)]
    assert removed and removed[-1] >= 15, log[-3000:]
    logger.info(
        "echo %.1f dBFS without AEC, %.1f with; double talk median correlation %.2f; "
        "the bot says %.1f dB removed",
        echo_db,
        left_db,
        float(np.median(correlations)),
        removed[-1],
    )

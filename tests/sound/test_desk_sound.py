"""The desk on a private PulseAudio: it rings, and the call moves to another sink mid-call.

The ring (400 + 450 Hz bursts) plays on the default sink while a call rings and stops once it
is accepted; the caller's 300 Hz tone then plays on the `speaker` sink. Both come from the
sound engine, as `agent-bot desk` plays them. The default sink is changed to `mic` and the
desk switches its output device: the engine restarts on it, the tone moves to `mic`'s monitor,
and the call never drops.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from agent_bot.agent import Agent
from agent_bot.calloptions import CallOptions
from agent_bot.desk.app import DeskApp
from agent_bot.desk.devices import SoundDevices
from agent_bot.desk.incall import CallInfo, SoundLine
from agent_bot.desk.incoming import IncomingCall
from agent_bot.desk.status import StatusBar
from agent_bot.media.devices import find_device
from agent_bot.media.enginedevice import EngineRinger
from agent_bot.media.enginespeaker import EngineSpeaker
from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.media.soundengine import SoundEngine
from agent_bot.media.sources import ToneSource
from tests.bots import Bots
from tests.desk.test_desk import SIZE, until
from tests.procs import SignalingServer
from tests.sound.pulse import MIC_SINK, Monitor, PulseDaemon

pytestmark = [pytest.mark.sound, pytest.mark.solo]


def last_second(monitor: Monitor) -> Pcm:
    return monitor.pcm()[-SAMPLE_RATE:]


def peaks(pcm: Pcm) -> set[int]:
    """Frequencies (Hz, rounded to 10) within 10 dB of the strongest; empty for silence."""
    if len(pcm) < SAMPLE_RATE or np.abs(pcm).max() < 100:
        return set()
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    strong = np.flatnonzero(spectrum > spectrum.max() / 3.2)
    return {int(round(i * SAMPLE_RATE / len(pcm), -1)) for i in strong}


async def test_ring_then_switch_the_speaker_mid_call(
    pulse: PulseDaemon, signaling_server: SignalingServer, bots: Bots
) -> None:
    engine = SoundEngine(speaker=True, microphone=False, ringer=True)
    speaker = EngineSpeaker(engine)
    agent = Agent(
        [signaling_server.url],
        CallOptions(source=ToneSource(440), speaker=speaker),
        token=signaling_server.agent_token,
        name="Dana",
        auto_accept=False,
    )
    devices = SoundDevices(speaker.device, None)
    app = DeskApp(agent, ringer=EngineRinger(engine), devices=devices, sound=engine)
    on_speaker = pulse.monitor()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one(StatusBar).connection == "connected", "up")
        caller = bots.call("--tone", "300", "--duration", "40")
        await until(pilot, lambda: app.query_one(IncomingCall).caller is not None, "ringing")
        await asyncio.sleep(1.5)
        assert {400, 450} <= peaks(last_second(on_speaker)), peaks(last_second(on_speaker))

        await pilot.press("a")
        info = app.query_one(CallInfo)
        await until(pilot, lambda: info.connected, "connected")
        await asyncio.sleep(2.5)
        heard = peaks(last_second(on_speaker))
        assert 300 in heard and 400 not in heard, heard
        sound = str(app.query_one(SoundLine).summary)
        assert "speaker -" in sound and "engine restarts 0" in sound, sound  # the engine's figures

        on_mic = pulse.monitor(MIC_SINK)
        pulse.pactl("set-default-sink", MIC_SINK)
        devices.switch("output", find_device("pulse", "output"))
        await asyncio.sleep(3)
        assert 300 in peaks(last_second(on_mic)), peaks(last_second(on_mic))
        assert peaks(last_second(on_speaker)) == set()
        assert info.connected and agent.calls, "the call dropped"
        assert speaker.device.opened == 2
        await pilot.press("e")
        await pilot.press("q")
    caller.close()

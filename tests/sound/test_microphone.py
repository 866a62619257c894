"""The microphone to the caller: a sample played into a PulseAudio null sink whose monitor is
the default source, captured by the bot's `Microphone`, received by a real aiortc caller."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE
from agent_bot.media.microphone import QUEUE_FRAMES, Microphone, MicrophoneTrack
from agent_bot.media.sources import SilenceSource, decode
from agent_bot.qa.comparison import compare
from tests.sound.peers import Received, SentLog, connect
from tests.sound.pulse import MIC_SINK, PulseDaemon
from tests.sound.test_speaker import SAMPLE, WINDOW_S, median, until

pytestmark = [pytest.mark.sound, pytest.mark.solo]

logger = logging.getLogger(__name__)


async def test_caller_hears_the_microphone(pulse: PulseDaemon) -> None:
    keep_awake = pulse.monitor(MIC_SINK)  # an idle null sink renders in 2-s blocks otherwise
    microphone = Microphone()
    track = microphone.create_track()
    sent = SentLog()
    track.add_sent_listener(sent)
    caller_track = SilenceSource().create_track()
    call = await connect(caller_track, track)
    assert call.back is not None
    received = Received(call.back)
    Received(call.remote)  # the bot reads what it gets, as the call engine does
    await until(lambda: microphone.device.running)
    sample = decode(SAMPLE)
    # half a second of silence first: a playback stream's start is not what is tested
    player = pulse.play(np.concatenate([np.zeros(SAMPLE_RATE // 2, dtype=np.int16), sample]))
    await asyncio.wait_for(asyncio.to_thread(player.wait), len(sample) / SAMPLE_RATE + 11)
    level = track.rms
    await asyncio.sleep(0.5)
    await call.close()
    microphone.close()
    keep_awake.stop()

    heard = compare(sample, received.pcm(), window_s=WINDOW_S, max_delay_s=10)
    captured = compare(sample, sent.pcm(), window_s=WINDOW_S, max_delay_s=10)
    logger.info(
        "microphone → caller: correlation %.3f (median %.3f), captured %.3f; dropped %d, silent %d",
        heard.correlation,
        median(heard),
        captured.correlation,
        track.dropped,
        track.silent,
    )
    # medians: a playback stream starved on these shared cores glitches a window or two
    assert median(captured) >= 0.95  # the device's capture: bit-exact but for such glitches
    assert median(heard) >= 0.9
    assert heard.correlation is not None and heard.correlation >= 0.7  # mean, glitches included
    assert level > 0.0


async def test_frames_come_every_20_ms_without_a_device(no_sound_server: None) -> None:
    microphone = Microphone(retries=1, retry_seconds=0.1)
    track = microphone.create_track()
    loop = asyncio.get_running_loop()
    start = loop.time()
    frames = [await track.recv() for _ in range(25)]
    elapsed = loop.time() - start
    await until(lambda: microphone.device.gave_up)
    microphone.close()
    assert [f.pts for f in frames] == [i * FRAME_SAMPLES for i in range(25)]
    assert all(not np.any(f.to_ndarray()) for f in frames)
    assert track.silent == 25
    assert 0.3 < elapsed < 3.0  # paced, not a burst (generous: shared cores)


async def test_a_stalled_loop_drops_the_oldest_frames() -> None:
    track = MicrophoneTrack()
    for i in range(QUEUE_FRAMES + 3):
        track.push(np.full(FRAME_SAMPLES, i, dtype=np.int16))
    assert track.dropped == 3
    first = await track.recv()
    assert first.to_ndarray()[0, 0] == 3


async def test_the_newest_track_has_the_microphone(pulse: PulseDaemon) -> None:
    keep_awake = pulse.monitor(MIC_SINK)
    microphone = Microphone()
    first = microphone.create_track()
    second = microphone.create_track()
    await until(lambda: microphone.device.running)
    loop = asyncio.get_running_loop()

    async def frames(track: MicrophoneTrack, count: int) -> float:
        start = loop.time()
        for _ in range(count):
            await track.recv()
        return loop.time() - start

    # both tracks run at 20 ms a frame: the second from the device, the first with silence
    await asyncio.gather(frames(first, 25), frames(second, 25))
    assert second.silent == 0
    assert first.silent == 25
    second.stop()
    await frames(first, 25)
    microphone.close()
    keep_awake.stop()
    assert first.silent < 25 + 10  # the device took over within a few frames

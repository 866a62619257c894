"""The caller's audio on the speaker: real aiortc peers, a real PulseAudio null sink."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from agent_bot.media.frames import SAMPLE_RATE
from agent_bot.media.playout import MAX_TARGET_MS
from agent_bot.media.playoutstats import PlayoutStats
from agent_bot.media.sources import FileSource
from agent_bot.media.speaker import Speaker, attach_speaker
from agent_bot.qa.comparison import AudioComparison, compare
from tests.sound.peers import Received, SentLog, connect, impair
from tests.sound.pulse import Monitor, PulseDaemon

pytestmark = [pytest.mark.sound, pytest.mark.solo]

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "hello-48k.wav"

WINDOW_S = 0.25
"""Correlation windows, each aligned on its own: drift compensation resamples by up to 500 ppm,
which over 1-s windows alone would cost correlation on a signal that is otherwise intact."""

SEARCH_MS = 150.0
"""How far from the previous window's lag a window is searched for: concealment, catch-up and
device underflows on a loaded machine move the delay by tens of ms at a time."""

logger = logging.getLogger(__name__)


async def until(condition: object, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await asyncio.sleep(0.02)


def median(comparison: AudioComparison) -> float:
    """Median window correlation: robust to a glitch or two of a process starved on these
    shared cores."""
    return float(np.median([w.correlation for w in comparison.windows]))


def heard(monitor: Monitor, sent: SentLog) -> np.ndarray:
    """The monitor's recording from the moment the first frame was sent."""
    assert sent.first is not None
    start = max(0, round((sent.first - monitor.time_of(0)) * SAMPLE_RATE))
    return monitor.pcm()[start:]


@dataclass
class SpeakerRun:
    """What one sample played through the speaker path left behind."""

    heard: np.ndarray
    sent: SentLog
    stats: PlayoutStats | None
    level: float
    """The speaker's level for the call while it played."""
    level_after: float
    """The same once the speaker was closed."""
    received: Received
    counts: dict[str, int]
    """The impairment's counters (empty without impairment)."""


async def play_on_speaker(
    pulse: PulseDaemon, *, loss: float = 0.0, reorder: float = 0.0
) -> SpeakerRun:
    """A caller plays the sample into a call whose bot side is on the speaker."""
    monitor = pulse.monitor()
    speaker = Speaker()
    speaker.start()
    await until(lambda: speaker.running)
    source = FileSource(SAMPLE)
    track = source.create_track()
    sent = SentLog()
    track.add_sent_listener(sent)
    call = await connect(track)
    counts = impair(call.caller, loss=loss, reorder=reorder, seed=5) if loss or reorder else {}
    attach_speaker(call.receiver, speaker, "call-1")
    received = Received(call.remote)  # aiortc's own track keeps working for other sinks
    await asyncio.wait_for(track.ended.wait(), source.duration + 10)
    await asyncio.sleep(0.3)
    stats = speaker.stats("call-1")
    level = speaker.rms("call-1")
    await call.close()
    speaker.close()
    monitor.stop()
    return SpeakerRun(
        heard(monitor, sent), sent, stats, level, speaker.rms("call-1"), received, counts
    )


async def test_caller_is_heard_on_the_speaker(pulse: PulseDaemon) -> None:
    run = await play_on_speaker(pulse)
    sent, stats, level = run.sent, run.stats, run.level

    result = compare(sent.timeline(), run.heard, window_s=WINDOW_S, search_ms=SEARCH_MS)
    logger.info(
        "send → monitor delay %.1f ms, correlation %.3f (median %.3f)",
        result.delay_ms,
        result.correlation,
        median(result),
    )
    assert median(result) >= 0.9
    assert result.correlation is not None and result.correlation >= 0.7  # mean, glitches included
    assert result.delay_ms is not None and 0 < result.delay_ms < 1000
    assert stats is not None and stats.played > 0
    assert stats.lost == 0  # (packets may come late: the audio of a device underflow is skipped)
    assert run.received.chunks, "aiortc's track went on delivering frames"
    assert run.level_after == 0.0  # off the speaker once closed
    assert level > 0.0


def test_the_newest_call_is_on_the_speaker(no_sound_server: None) -> None:
    speaker = Speaker()
    speaker.connect("call-1")
    speaker.connect("call-2")
    assert speaker.call_id == "call-2"
    assert speaker.stats("call-1") is None
    speaker.disconnect("call-2")
    assert speaker.call_id == "call-1"  # back to the newest call still attached
    speaker.disconnect("call-1")
    assert speaker.call_id is None


async def test_lost_and_reordered_packets_are_concealed_and_played(pulse: PulseDaemon) -> None:
    run = await play_on_speaker(pulse, loss=0.03, reorder=0.03)
    sent, stats, counts = run.sent, run.stats, run.counts

    assert stats is not None
    assert counts["dropped"] > 5 and counts["reordered"] > 5
    # every dropped packet was concealed in its slot (the last may pass unnoticed); a slot is
    # lost only for a dropped packet or one that came after its turn (a reordered packet
    # held back by a stalled sender, on a loaded machine), which is then counted as late
    assert counts["dropped"] <= stats.lost + 2
    assert stats.lost <= counts["dropped"] + stats.late
    assert stats.late <= counts["reordered"]
    assert stats.target_ms <= MAX_TARGET_MS
    result = compare(sent.timeline(), run.heard, window_s=WINDOW_S, search_ms=SEARCH_MS)
    logger.info(
        "with loss: send → monitor delay %.1f ms, correlation median %.3f; playout lost %d late %d",
        result.delay_ms,
        median(result),
        stats.lost,
        stats.late,
    )
    assert median(result) >= 0.9

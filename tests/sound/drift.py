"""Senders whose clocks run off by a given ppm, each heard by a real `agent-bot answer --speaker`.

Shared by `tests/sound/test_drift.py` and `bench/drift.py`. One PulseAudio daemon gets a null
sink per sender; each bot plays on its own sink (`PULSE_SINK`, which libpulse reads for the
default sink of a client: PortAudio → ALSA `pulse` device → that sink). The senders are
`bench/caller.py`'s `LoadCall`s in this process, through the real signaling server, sending a
looped speech sample as pre-encoded Opus packets: 20 ms frames paced at
20 ms × (1 − ppm·1e-6) of wall time while their RTP timestamps advance 960 a frame, so a
sender's clock runs `ppm` faster than the null sink's (both run on this machine's clock).

Latency is read at each sink's monitor after the call: every second of the recording is
located in what its sender sent (`SentAudio.delay`, cross-correlation at 8 kHz), and measured
from when that audio was sent, the sink's clock read locally from its monitor's chunks
(`sinkclock.SinkClock`). It includes the Opus encoder's lookahead (6.5 ms), the same all
along. The bots' own figures come from their logs (playout stats, drift estimate) and from
their speaker gauges, scraped once a second (`playoutgauges`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from agent_bot.media.frames import FRAME_SECONDS, SAMPLE_RATE
from agent_bot.media.sources import FileSource, FrameClock, SampleTrack
from bench.caller import FRAME_RATE, MIN_LEVEL, LoadCall, SentAudio, decimated
from tests.bots import SAMPLES, Bot, Bots
from tests.procs import free_port, wait_http
from tests.sound.driftresult import DriftResult
from tests.sound.playoutgauges import PlayoutGauges, watch
from tests.sound.pulse import Monitor, PulseDaemon
from tests.sound.steal import StealMeter

SAMPLE = SAMPLES / "hello-48k.wav"
"""Speech all through (every second of it has level), 10.9 s long: longer than the 3 s
`SentAudio.delay` searches back, so a second of it matches in one place only."""

SETUP_TIMEOUT_S = 30.0

LATE_S = 0.02
"""A frame sent this much behind the sender's schedule: its event loop stalled (a disturbance
of the test's own, not of the bot)."""

SENDER_NICE = -5
"""The senders' thread (this process's event loop) runs ahead of ordinary processes when it
may, behind the bots' sound engines (-10): they are the instrument."""

MIN_SEGMENT_FRAMES = 500
"""Frames (10 s) a stretch of sending between two restarts of the sender's schedule needs to
count in the measure of its pace."""


class DriftError(RuntimeError):
    """The drift run could not be made (a call failed, a bot did not answer)."""


class DriftClock(FrameClock):
    """Paces frames 20 ms × (1 − ppm·1e-6) apart (a clock `ppm` fast); notes the frames at which
    it restarted its schedule (the sender stalled over 3 frames)."""

    def __init__(self, ppm: float) -> None:
        rate = 1 / (1 - ppm * 1e-6)
        super().__init__(lambda: time.monotonic() * rate)
        self.restarted_at: list[int] = []

    def advance(self) -> float:
        restarts = self.restarts
        wait = super().advance()
        if self.restarts != restarts:
            self.restarted_at.append(self.index)
        return wait


class DriftSource(FileSource):
    """A looped file whose tracks send on a clock `ppm` fast (RTP timestamps still 960 a
    frame): what a sender with its own, drifting sound card sends."""

    def __init__(self, path: Path, ppm: float) -> None:
        super().__init__(path, loop=True)
        self.ppm = ppm
        self.clocks: list[DriftClock] = []

    def create_track(self) -> SampleTrack:
        track = super().create_track()
        clock = DriftClock(self.ppm)
        track._clock = clock  # the track's pacing (a private of PacedTrack): all that differs
        self.clocks.append(clock)
        return track


@contextmanager
def environment(name: str, value: str) -> Iterator[None]:
    """`name`=`value` in this process's environment (what a bot started now inherits)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


@contextmanager
def sender_priority() -> Iterator[None]:
    """This thread at `SENDER_NICE` while it may (root), as it was afterwards."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    with contextlib.suppress(PermissionError):  # else the stalls it would spare are counted
        os.setpriority(os.PRIO_PROCESS, 0, SENDER_NICE)
    try:
        yield
    finally:
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, before)


@dataclass
class DriftAgent:
    """An answering bot, its null sink's monitor and its speaker gauges."""

    bot: Bot
    monitor: Monitor
    gauges: PlayoutGauges


def start_agents(pulse: PulseDaemon, bots: Bots, count: int) -> list[DriftAgent]:
    """`count` answering bots, each playing on a null sink of its own, recorded at its monitor,
    its metrics served on a port of its own."""
    agents = []
    for index in range(count):
        sink = f"drift{index}"
        pulse.pactl(
            "load-module", "module-null-sink", f"sink_name={sink}", f"rate={SAMPLE_RATE}",
            "channels=1",
        )  # fmt: skip
        port = free_port()
        with environment("PULSE_SINK", sink):
            bot = bots.answer("--speaker", "pulse", "--silence", "--metrics-port", str(port),
                              name=f"drift-{index}")  # fmt: skip
        url = f"http://127.0.0.1:{port}/metrics"
        wait_http(url, proc=bot.proc)
        agents.append(DriftAgent(bot, pulse.monitor(sink), PlayoutGauges(url)))
    for agent in agents:
        agent.bot.wait_log("speaker: device .* open")
    return agents


async def owner(agents: list[DriftAgent], call_id: str) -> DriftAgent:
    """The agent whose speaker took `call_id`."""
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    while time.monotonic() < deadline:
        for agent in agents:
            if f"call {call_id}: on the speaker" in agent.bot.text():
                return agent
        await asyncio.sleep(0.1)
    raise DriftError(f"no bot put call {call_id} on its speaker")


async def run_drift(
    pulse: PulseDaemon, bots: Bots, drifts: list[float], seconds: float
) -> list[DriftResult]:
    """One call per drift, all at once for `seconds` (from the last one's start); then every
    bot is stopped (it ends its call with a report) and the monitors are read."""
    agents = start_agents(pulse, bots, len(drifts))
    sources = [DriftSource(SAMPLE, ppm) for ppm in drifts]
    calls = [LoadCall(i, bots.url, source) for i, source in enumerate(sources)]
    steal = StealMeter()
    sampling = [
        asyncio.create_task(steal.run()),
        asyncio.create_task(watch([agent.gauges for agent in agents])),
    ]
    try:
        with sender_priority():
            placed, reports = await hold_calls(calls, sources, agents, seconds)
    finally:
        for task in sampling:
            task.cancel()
    return [
        result(source, call.sent, agent, seconds, report, steal=steal)
        for (call, source, agent), report in zip(placed, reports, strict=True)
    ]


Placed = tuple[LoadCall, DriftSource, DriftAgent]
"""A call, its source, and the agent that took it."""


async def hold_calls(
    calls: list[LoadCall],
    sources: list[DriftSource],
    agents: list[DriftAgent],
    seconds: float,
) -> tuple[list[Placed], list[tuple[dict[str, Any], float, int]]]:
    """Places the calls, holds them `seconds`, stops the bots; the placed calls and the bots'
    reports. Always hangs up and stops the monitors."""
    placed: list[Placed] = []
    try:
        for call, source in zip(calls, sources, strict=True):
            await call.start(SETUP_TIMEOUT_S)
            if call.error is not None or call.call_id is None:
                raise DriftError(f"the {source.ppm:+.0f} ppm call failed: {call.error}")
            placed.append((call, source, await owner(agents, call.call_id)))
        await asyncio.sleep(seconds)
        reports = []
        for call, _, agent in placed:
            agent.bot.signal(signal.SIGTERM)  # it hangs up with its report, the peer still up
            reports.append(report_of(agent.bot, str(call.call_id)))
            agent.bot.wait(30)
    finally:
        await asyncio.gather(*(call.hangup() for call in calls), return_exceptions=True)
        for source in sources:
            source.close()
        for agent in agents:
            agent.monitor.stop()
    return placed, reports


def report_of(bot: Bot, call_id: str) -> tuple[dict[str, Any], float, int]:
    """The call report's playout figures, the drift in the "off the speaker" line and the
    device's underruns."""
    [line] = bot.wait_log(f"call={call_id} report ")
    report = json.loads(line.split(" report ", 1)[1])
    if not report.get("playout"):
        raise DriftError(f"call {call_id}: the report has no playout figures: {line}")
    [summary] = bot.wait_log(f"call {call_id}: off the speaker; playout ")
    found = re.search(r"drift=([+-]?\d+)ppm", summary)
    if found is None:
        raise DriftError(f"no drift=...ppm in the bot's playout line: {summary}")
    return report["playout"], float(found.group(1)), bot.text().count("underrun occurred")


def result(
    source: DriftSource,
    sent: SentAudio,
    agent: DriftAgent,
    seconds: float,
    report: tuple[dict[str, Any], float, int],
    *,
    steal: StealMeter,
) -> DriftResult:
    [clock] = source.clocks
    playout, logged_drift, device_underruns = report
    pace, late = sender_schedule(sent.times, clock.restarted_at)
    monitor, first = agent.monitor, sent.times[0]
    return DriftResult(
        ppm=source.ppm,
        sender_ppm=pace,
        sink_ppm=monitor.rate_ppm,
        stalls=late,
        stalled_frames=stalled_frames(sent.times, seconds),
        latencies=latencies(monitor, sent, seconds),
        seconds=seconds,
        playout=playout,
        logged_drift_ppm=logged_drift,
        device_underruns=device_underruns,
        steal=steal.since(first),
        gauges=[replace(sample, at=sample.at - first) for sample in agent.gauges.samples],
    )


def sender_schedule(times: list[float], restarts: list[int]) -> tuple[float, int]:
    """How much faster than this machine's clock the sender's schedule ran (its ppm), and how
    many times it sent a frame over `LATE_S` behind it (its event loop stalled).

    The schedule is the earliest send time of each second (a busy loop only makes frames
    later), fitted between the restarts of the schedule."""
    bounds = [0, *restarts, len(times)]
    slopes, weights, late = [], [], len(restarts)
    for start, end in itertools.pairwise(bounds):
        seconds = (end - start) // FRAME_RATE
        if end - start < MIN_SEGMENT_FRAMES:
            continue
        behind = np.asarray(times[start:end]) - np.arange(end - start) * FRAME_SECONDS
        earliest = behind[: seconds * FRAME_RATE].reshape(seconds, FRAME_RATE).min(axis=1)
        slope, offset = np.polyfit(np.arange(seconds), earliest, 1)
        lateness = behind - (offset + slope * np.arange(end - start) / FRAME_RATE)
        stalled = lateness > LATE_S
        late += int(np.count_nonzero(stalled[1:] & ~stalled[:-1]) + stalled[0])
        slopes.append(float(slope))
        weights.append(end - start)
    if not slopes:
        raise DriftError(f"no {MIN_SEGMENT_FRAMES} frames sent without a stall: {bounds}")
    # the earliest send time slips by ppm·1e-6 s a second against the nominal 20 ms schedule
    return -float(np.average(slopes, weights=weights)) * 1e6, late


def stalled_frames(times: list[float], seconds: float) -> int:
    """Frames' worth of the gaps between sends that were over `LATE_S` longer than a frame, in
    the call's first `seconds` (the bots are stopped after)."""
    sends = np.asarray(times)
    gaps = np.diff(sends[sends < sends[0] + seconds]) - FRAME_SECONDS
    return int(np.sum(np.ceil(gaps[gaps > LATE_S] / FRAME_SECONDS)))


def latencies(monitor: Monitor, sent: SentAudio, seconds: float) -> list[tuple[float, float]]:
    """Send → monitor latency (ms) of each second of the call that the monitor recorded."""
    pcm = monitor.pcm()
    first = sent.times[0]
    out = []
    for second in range(int(seconds)):
        start = round((first + second - monitor.time_of(0)) * SAMPLE_RATE)
        chunk = pcm[max(start, 0) : start + SAMPLE_RATE]
        if start < 0 or len(chunk) < SAMPLE_RATE:
            continue
        audio = decimated(chunk)
        if audio.std() < MIN_LEVEL:
            continue
        delay = sent.delay(audio, monitor.time_of(start))
        if delay is not None:
            out.append((float(second), delay * 1000))
    return out

"""Load caller for the benchmarks: N customer calls at once, counting what each one receives.

Kept as cheap per call as aiortc allows, so that the agent under test, not the caller, is the
bottleneck: each call sends a pre-encoded Opus tone or sample (no encoder, no audio-level
computation), and its receiver's RTP handling is replaced by a `Tally` that notes each
packet's arrival time and RTP timestamp (no jitter buffer, no decoding).

Receive delay, two ways (`--delay`): `echo` (the agent sends back what it receives) finds
where each received second of audio sits in what this call sent, by cross-correlation after
the window (the payloads are kept, then decoded), so it is the round trip through the agent,
jitter buffers and queues included; `transit` is arrival time minus RTP time, for an agent
sending its own audio (it sees the agent's send schedule slipping).

Run as `python bench/caller.py --server URL --calls N --seconds S`: it places the calls, waits
until all are connected plus `--warmup` seconds, prints `window-start`, measures for S
seconds, prints `window-end`, hangs up, then prints one JSON line (see `Summary`).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import logging
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from agent_bot.media.rtpreceiver import OpusDecoder
from agent_bot.media.sources import FileSource
from agent_bot.signaling import SignalingClient, SignalingError
from signaling_server.protocol import Event

GROWTH_SPAN = 5.0
"""Seconds at each end of the window whose median delays are compared."""
DECIMATE = 6
"""Echo delay is found on audio averaged down to 8 kHz (0.125 ms steps)."""
RATE = SAMPLE_RATE // DECIMATE
STEP = FRAME_SAMPLES // DECIMATE
MAX_ECHO_DELAY = 3.0
"""Seconds back in the sent audio an echo is searched for."""
FRAME_RATE = SAMPLE_RATE // FRAME_SAMPLES
MIN_LEVEL = 100.0
GRACE = 0.5
"""Seconds the calls go on after the window, so that its last bin is counted like the others."""
STALL = 0.03
"""A late timer by more than this (s) marks a caller stall: packets were read that much late."""
"""Seconds of received audio quieter than this (RMS) are not used to find the delay."""


@dataclass
class Tally:
    """Arrival time (monotonic s) and RTP timestamp of every packet one call receives."""

    arrivals: list[float] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)

    async def add(self, packet: Any, arrival_time_ms: int = 0) -> None:
        """Stands in for `RTCRtpReceiver._handle_rtp_packet`: note the packet, drop it."""
        if packet.payload:
            self.arrivals.append(time.monotonic())
            self.timestamps.append(packet.timestamp)
            self.payloads.append(packet.payload)

    def bins(self, start: float, seconds: int) -> list[float]:
        """Frames received in each 1-s bin from `start`, counting a packet that straddles a
        bin edge in part: the count grows linearly from one arrival to the next, so a steady
        stream gives 50.0 per bin whatever its phase, and a stall shows as a short bin."""
        edges = [self.received_by(start + second) for second in range(seconds + 1)]
        return [round(b - a, 2) for a, b in itertools.pairwise(edges)]

    def received_by(self, at: float) -> float:
        """Packets received by `at`, interpolated between arrivals."""
        count = bisect.bisect_right(self.arrivals, at)
        if count == 0 or count == len(self.arrivals):
            return float(count)
        last, following = self.arrivals[count - 1], self.arrivals[count]
        return count + (at - last) / (following - last) if following > last else float(count)

    def transits(self, start: float, end: float) -> list[tuple[float, float]]:
        """(arrival, arrival minus RTP time (s, plus a constant)) of packets in [start, end)."""
        if not self.timestamps:
            return []
        first = self.timestamps[0]
        return [
            (at, at - ((ts - first) & 0xFFFFFFFF) / SAMPLE_RATE)
            for at, ts in zip(self.arrivals, self.timestamps, strict=True)
            if start <= at < end
        ]

    def echo_delays(self, sent: SentAudio, start: float, end: float) -> list[tuple[float, float]]:
        """(arrival, delay since sent) of each audible received second in [start, end)."""
        decoder = OpusDecoder()
        first = bisect.bisect_left(self.arrivals, start)
        last = bisect.bisect_left(self.arrivals, end)
        pcm = [decoder.decode(payload) for payload in self.payloads[first:last]]
        delays = []
        for chunk in range(0, len(pcm) - FRAME_RATE + 1, FRAME_RATE):
            audio = decimated(np.concatenate(pcm[chunk : chunk + FRAME_RATE]))
            if audio.std() < MIN_LEVEL:
                continue
            at = self.arrivals[first + chunk]
            delay = sent.delay(audio, at)
            if delay is not None:
                delays.append((at, delay))
        return delays


def decimated(pcm: Pcm) -> npt.NDArray[np.float64]:
    """`pcm` averaged over `DECIMATE` samples: 8 kHz, enough to place an echo."""
    out: npt.NDArray[np.float64] = np.asarray(pcm, dtype=np.float64).reshape(-1, DECIMATE).mean(1)
    return out


class SentAudio:
    """What one call sent: the looped sample and when each of its frames left."""

    def __init__(self, sample: Pcm) -> None:
        self._sample = decimated(sample)
        self._frames = len(sample) // FRAME_SAMPLES
        self.times: list[float] = []

    def on_sent(self, pcm: Pcm) -> None:
        self.times.append(time.monotonic())

    def audio(self, first: int, last: int) -> npt.NDArray[np.float64]:
        """Frames first..last-1 as sent (decimated)."""
        frames = [(k % self._frames) * STEP for k in range(first, last)]
        return np.concatenate([self._sample[at : at + STEP] for at in frames])

    def delay(self, received: npt.NDArray[np.float64], at: float) -> float | None:
        """Seconds between sending `received` (audio that arrived at `at`) and `at`."""
        # The received audio began being sent before `at` and went on for as long as it lasts.
        sent_by = bisect.bisect_right(self.times, at)
        oldest = max(0, sent_by - int(MAX_ECHO_DELAY * FRAME_RATE))
        newest = min(len(self.times), sent_by + len(received) // STEP)
        if newest - oldest < 2 * len(received) // STEP:
            return None
        sent = self.audio(oldest, newest)
        size = 1 << (len(sent) + len(received)).bit_length()
        corr = np.fft.irfft(np.fft.rfft(sent, size) * np.conj(np.fft.rfft(received, size)), size)
        lags = len(sent) - len(received) + 1
        energy = np.cumsum(np.concatenate([[0.0], sent**2]))
        window = np.sqrt(np.maximum(energy[len(received) :] - energy[:lags], 1e-9))
        lag = int(np.argmax(corr[:lags] / window))
        frame, offset = divmod(oldest * STEP + lag, STEP)
        return at - (self.times[frame] + offset / RATE)


def growth_ms(delays: list[tuple[float, float]], start: float, end: float) -> float | None:
    """Median delay of the last `GROWTH_SPAN` seconds minus that of the first (ms)."""
    head = [d for at, d in delays if at < start + GROWTH_SPAN]
    tail = [d for at, d in delays if at >= end - GROWTH_SPAN]
    if not head or not tail:
        return None
    return (statistics.median(tail) - statistics.median(head)) * 1000


class LoadCall:
    """One customer: requests a call, offers, sends the source, tallies what it receives."""

    def __init__(self, index: int, server: str, source: FileSource) -> None:
        self.index = index
        self.tally = Tally()
        self.sent = SentAudio(source.pcm)
        self.connected = asyncio.Event()
        self.error: str | None = None
        self.call_id: str | None = None
        self._source = source
        self._signaling = SignalingClient(
            server, {"role": "customer", "name": f"load-{index}"}, reconnect=False
        )
        self._accepted: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pc.on("track", self._on_track)
        self._pc.on("connectionstatechange", self._on_state)

    async def start(self, limit: float) -> None:
        """Place the call and wait until it is connected (`limit` s); on failure, note `error`."""
        try:
            await asyncio.wait_for(self._start(), limit)
        except (SignalingError, TimeoutError) as exc:
            self.error = str(exc) or type(exc).__name__

    async def _start(self) -> None:
        signaling = self._signaling
        signaling.on(Event.CALL_ACCEPTED, self._on_accepted)
        signaling.on(Event.ANSWER, self._on_answer)
        signaling.on(Event.CALL_ENDED, self._on_ended)
        await signaling.connect()
        await signaling.request(Event.CALL_REQUEST, {"offerer": "customer"})
        accepted = await self._accepted
        self.call_id = str(accepted["callId"])
        track = self._source.create_track()
        track.add_sent_listener(self.sent.on_sent)
        self._pc.addTrack(track)
        await self._pc.setLocalDescription(await self._pc.createOffer())
        local = self._pc.localDescription
        target = {"targetUserId": str(accepted["agentId"]), "callId": self.call_id}
        offer = {"type": local.type, "sdp": local.sdp}
        await signaling.request(Event.OFFER, {"offer": offer, **target})
        await signaling.send(Event.ICE_CANDIDATE, {"candidate": None, **target})
        await self.connected.wait()

    async def hangup(self) -> None:
        if self.call_id is not None:
            await self._signaling.send(Event.HANGUP, {"callId": self.call_id})
        await self._pc.close()
        await self._signaling.close()

    async def _on_accepted(self, data: dict[str, Any]) -> None:
        if not self._accepted.done():
            self._accepted.set_result(data)

    async def _on_answer(self, data: dict[str, Any]) -> None:
        answer = data["answer"]
        await self._pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
        )

    async def _on_ended(self, data: dict[str, Any]) -> None:
        self.error = self.error or f"ended by the server: {data.get('reason')}"
        if not self._accepted.done():
            self._accepted.set_exception(SignalingError("call-ended", str(data.get("reason"))))

    def _on_track(self, track: Any) -> None:
        for transceiver in self._pc.getTransceivers():
            transceiver.receiver._handle_rtp_packet = self.tally.add  # type: ignore[method-assign]

    async def _on_state(self) -> None:
        if self._pc.connectionState == "connected":
            self.connected.set()
        elif self._pc.connectionState == "failed":
            self.error = "ICE failed"


class LagMeter:
    """How late a 50 ms timer fires on this process's event loop (the caller's own health)."""

    PERIOD = 0.05

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.stalls: list[tuple[float, float]] = []
        """(from, to), monotonic s: the loop ran nothing else for longer than `STALL`."""

    async def run(self) -> None:
        while True:
            due = time.monotonic() + self.PERIOD
            await asyncio.sleep(self.PERIOD)
            now = time.monotonic()
            self.lags.append(max(0.0, now - due))
            if now - due > STALL:
                self.stalls.append((due, now))

    def disturbed_bins(self, start: float, seconds: int) -> list[int]:
        """1-s bins from `start` that a stall may have touched: those it overlapped, the one
        after (where the packets read late are counted) and, when it began near a bin edge,
        the one before (the count at an edge is interpolated towards the next arrival)."""
        bins: set[int] = set()
        for begin, end in self.stalls:
            # The stall began up to one timer period before the timer was due.
            first = int(begin - self.PERIOD - 0.02 - start)
            last = int(end - start) + 1
            bins.update(i for i in range(first, last + 1) if 0 <= i < seconds)
        return sorted(bins)


@dataclass
class CallFigures:
    """One call's figures over the window."""

    index: int
    error: str | None
    bins: list[float]
    delay_ms: float | None
    """Median echo delay over the first `GROWTH_SPAN` seconds (`--delay echo` only)."""
    growth_ms: float | None


@dataclass
class Summary:
    """What the caller prints at the end, as JSON."""

    calls: int
    connected: int
    seconds: int
    setup_s: float
    cpu_percent: float
    """This caller process's CPU over the window, percent of one core."""
    lag_p99_ms: float
    lag_max_ms: float
    disturbed_bins: list[int]
    """Bins where the caller itself stalled: what it counted there says nothing of the agent."""
    per_call: list[CallFigures]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--seconds", type=int, default=30, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    parser.add_argument("--ramp", type=float, default=25.0, help="calls started per second")
    parser.add_argument("--setup-timeout", type=float, default=90.0)
    parser.add_argument("--play", type=Path, required=True, help="send this file, looped")
    parser.add_argument("--delay", choices=["echo", "transit"], default="echo")
    return parser.parse_args(argv)


def say(line: str) -> None:
    print(line, flush=True)


async def run(args: argparse.Namespace) -> Summary:
    source = FileSource(args.play, loop=True)
    lag = LagMeter()
    lag_task = asyncio.create_task(lag.run())
    began = time.monotonic()
    calls = [LoadCall(i, args.server, source) for i in range(args.calls)]
    starts = []
    for call in calls:
        starts.append(asyncio.create_task(call.start(args.setup_timeout)))
        await asyncio.sleep(1 / args.ramp)
    await asyncio.gather(*starts)
    setup_s = time.monotonic() - began
    await asyncio.sleep(args.warmup)
    lag.lags.clear()
    lag.stalls.clear()
    start, cpu = time.monotonic(), time.process_time()
    say("window-start")
    await asyncio.sleep(args.seconds)
    end, cpu = time.monotonic(), time.process_time() - cpu
    say("window-end")
    # Keep receiving a little: the count at the window's end is interpolated towards the
    # next arrival.
    await asyncio.sleep(GRACE)
    lag_task.cancel()
    await asyncio.gather(*(call.hangup() for call in calls), return_exceptions=True)
    source.close()
    lags = sorted(lag.lags) or [0.0]
    return Summary(
        calls=args.calls,
        connected=sum(call.error is None for call in calls),
        seconds=args.seconds,
        setup_s=setup_s,
        cpu_percent=100 * cpu / (end - start),
        lag_p99_ms=1000 * lags[int(0.99 * (len(lags) - 1))],
        lag_max_ms=1000 * lags[-1],
        disturbed_bins=lag.disturbed_bins(start, args.seconds),
        per_call=[figures(call, args.delay, start, end) for call in calls],
    )


def figures(call: LoadCall, delay: str, start: float, end: float) -> CallFigures:
    if delay == "echo":
        delays = call.tally.echo_delays(call.sent, start, end)
        head = [d for at, d in delays if at < start + GROWTH_SPAN]
        delay_ms = 1000 * statistics.median(head) if head else None
    else:
        delays, delay_ms = call.tally.transits(start, end), None
    return CallFigures(
        index=call.index,
        error=call.error,
        bins=call.tally.bins(start, int(end - start + 0.5)),
        delay_ms=delay_ms,
        growth_ms=growth_ms(delays, start, end),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    summary = asyncio.run(run(args))
    say(json.dumps(asdict(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

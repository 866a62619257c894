"""A simulated call into a `PlayoutBuffer`: packet arrivals with loss, reorder, jitter,
bursts and clock drift, pulled by a simulated device (shared by the playout unit tests).

The sender's PCM is a ramp (value = 1000 + sample index mod RAMP), so every output sample
tells which sent sample it is, and thus the latency from send to playout. Concealed audio is 0.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from agent_bot.media.playout import PlayoutBuffer
from agent_bot.media.playoutstats import PlayoutStats

RAMP = 32 * FRAME_SAMPLES
BASE = 1000
BLOCK = 480
NETWORK_S = 0.005


class RampDecoder:
    """Payload = int16 PCM; concealment = silence (0, which no sent sample is)."""

    def decode(self, payload: bytes) -> Pcm:
        return np.frombuffer(payload, dtype=np.int16).copy()

    def conceal(self) -> Pcm:
        return np.zeros(FRAME_SAMPLES, dtype=np.int16)


def ramp_frame(index: int) -> bytes:
    samples = np.arange(index * FRAME_SAMPLES, (index + 1) * FRAME_SAMPLES) % RAMP + BASE
    return samples.astype(np.int16).tobytes()


@dataclass
class Run:
    buffer: PlayoutBuffer
    latencies_ms: list[float] = field(default_factory=list)
    """Send → playout latency at each block's middle sample (concealed blocks skipped)."""
    times: list[float] = field(default_factory=list)
    gaps: int = 0
    """Blocks after the first sound that contained concealment (zeros)."""
    sent: int = 0


Delay = Callable[[int, float], float]
"""(packet index, send time) → network delay in seconds."""


def simulate(
    seconds: float,
    *,
    delay: Delay = lambda i, t: NETWORK_S,
    loss: Callable[[int], bool] = lambda i: False,
    drift_ppm: float = 0.0,
    block: int = BLOCK,
    seq0: int = 0,
    ts0: int = 0,
    frame: Callable[[int], bytes] = ramp_frame,
    outputs: list[Pcm] | None = None,
    timed: bool = True,
    pull_at: Callable[[int], float] | None = None,
    heard_at: Callable[[int], float] | None = None,
) -> Run:
    """Sends 20 ms packets (sender clock off by `drift_ppm`), pulls blocks on the device clock.

    `timed`: each pull says when it happened (as the speaker does); else the buffer sees only
    the count of samples pulled. `pull_at`: when pull k happens (default: every block, on time).
    `heard_at`: when pull k's first sample is played (its DAC time, given to the pull as its
    delay; latency is then measured there); default: at the pull.
    """
    run = Run(PlayoutBuffer(RampDecoder()))
    period = FRAME_SAMPLES / SAMPLE_RATE * (1 + drift_ppm / 1e6)
    events: list[tuple[float, int, int]] = []  # (time, kind 0=arrival 1=pull, index)
    count = int(seconds / period)
    for i in range(count):
        if not loss(i):
            heapq.heappush(events, (i * period + delay(i, i * period), 0, i))
    for k in range(int(seconds * SAMPLE_RATE / block)):
        at = k * block / SAMPLE_RATE if pull_at is None else pull_at(k)
        heapq.heappush(events, (at, 1, k))
    run.sent = count
    while events:
        now, kind, index = heapq.heappop(events)
        if kind == 0:
            seq = (seq0 + index) & 0xFFFF
            ts = (ts0 + index * FRAME_SAMPLES) & 0xFFFFFFFF
            run.buffer.put(seq, ts, now, frame(index))
            continue
        heard = now if heard_at is None else heard_at(index)
        pcm = run.buffer.pull(
            block, now if timed else None, None if heard_at is None else heard - now
        )
        if outputs is not None:
            outputs.append(pcm)
        out = pcm.astype(np.int64)
        if np.any(out == 0):
            run.gaps += bool(run.times)
            continue
        mid = block // 2
        if abs(out[mid + 1] - out[mid] - 1) > 0.01 * abs(out[mid + 1] - out[mid]) + 1:
            continue  # a seam or the ramp's wrap
        played_at = heard + mid / SAMPLE_RATE
        sent_index = out[mid] - BASE
        # the newest sample with this ramp value sent before the playout time
        sent_now = int(played_at / period * FRAME_SAMPLES)
        sent_index += (sent_now - sent_index) // RAMP * RAMP
        run.latencies_ms.append((played_at - sent_index / FRAME_SAMPLES * period) * 1000)
        run.times.append(now)
    return run


def assert_all_played(stats: PlayoutStats) -> None:
    """Every packet received was played, but the last few still buffered at the end."""
    assert stats.received - 3 <= stats.played <= stats.received


def after(run: Run, seconds: float) -> np.ndarray:
    pairs = zip(run.times, run.latencies_ms, strict=True)
    return np.array([lat for t, lat in pairs if t >= seconds])

"""Adaptive playout buffer: received packets in, a continuous PCM stream out at the device's pace.

Packets (sequence number, RTP timestamp, arrival time, encoded payload) are put in as they
arrive; the sound device pulls blocks of any size. The buffer

- decodes in sequence order at playout time, so a packet that is missing when its turn comes
  is concealed by the decoder (Opus PLC) and a reordered packet that comes in time is played;
- keeps its depth near a target adapted to the measured jitter (between `min_target_ms` and
  `max_target_ms`): the target is what the latest arrivals needed not to come late, plus a
  safety margin;
- when it runs dry (a network stall) conceals without advancing, so the late packets still
  play; if the awaited packet turns out lost, the concealment already played stands for it;
  the extra depth a stall leaves is removed by dropping quiet frames and playing up to
  `CATCH_UP_PPM` faster (a brief pitch shift), or by dropping any frame when the excess passes
  `HARD_EXCESS_MS`;
- follows the drift between the sender's clock and the device's clock by resampling: the
  ratio is the drift estimate (`clockdrift`: fitted to the arrivals and the device's DAC times,
  or its pulls without them, apart from the depth, so stalls, steps and a device pulling
  unevenly do not move it) plus a
  proportional correction of the depth error (within `MAX_CORRECTION_PPM`), so a steady drift
  leaves no steady error and a shortfall is refilled at full speed whatever the drift.

Depth is measured per arriving packet against the device's position: the samples output so
far, interpolated between pulls when the caller says when each pull happened (`pull(now=)`,
the clock of the arrival times), so the device's block size does not quantise it. The
playout's own corrections never distort the jitter measurement. Pure: no I/O, no threads, no
clock of its own.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import numpy as np
import numpy.typing as npt

from agent_bot.media.clockdrift import ClockDrift
from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from agent_bot.media.playoutstats import PlayoutStats

SAMPLES_PER_MS = SAMPLE_RATE // 1000

MIN_TARGET_MS = 20.0
MAX_TARGET_MS = 120.0
"""Target depth bounds. Loss and reordering on a network need 40–60 ms; the upper bound is
there for event-loop stalls on a loaded machine, which deliver packets in bursts."""

WINDOW_PACKETS = 250
"""Arrivals (5 s of 20 ms packets) over which jitter is measured."""

SAFETY_MS = 4.0
"""Headroom kept above what the worst recent arrival needed, on top of one device block (the
device asks for a whole block at once, and the phase of arrivals against its requests drifts)."""

HARD_EXCESS_MS = 40.0
"""Depth above target beyond which frames are dropped whether quiet or not."""

SOFT_EXCESS_MS = 15.0
"""Depth above target beyond which quiet frames are dropped."""

QUIET_RMS = 330.0
"""A frame quieter than this (about -40 dBFS) may be dropped to catch up."""

MAX_CORRECTION_PPM = 3_000.0
"""Largest proportional correction, on top of the drift estimate: a 0.3 % speed change (about
5 cents of pitch) that moves the depth 3 ms a second."""

RATIO_TIME_CONSTANT_S = 2.0
"""Proportional term: a depth error of e seconds adds e / this to the ratio. The depth responds
at once to the ratio, so a short constant is stable; it settles a call's start within seconds
and holds the error to 2 ms against a 1,000 ppm drift before the drift is estimated."""

LATE_PULL_BLOCKS = 2.5
"""A pull this many blocks after the previous one is late: the device may have underflowed."""

CATCH_UP_PPM = 5_000.0
"""Largest speed-up while the depth exceeds the target by more than `SOFT_EXCESS_MS`."""

CATCH_UP_TIME_CONSTANT_S = 0.5

CROSSFADE_SAMPLES = 120
"""2.5 ms crossfade where a dropped or skipped frame leaves a seam."""

CAPACITY_PACKETS = 100
"""Packets held at most (2 s); beyond that the oldest is dropped (device not pulling)."""

START_S = 1.0
"""The first arrivals of a stream, measured for the target only until this much later: a
call's first packets come in a burst (the connection and the device just started), which
would hold the target high for a whole window."""

DEVICE_SMOOTHING = 0.01
"""Weight of each pull's delay in `device_ms` (~1 s of 10 ms blocks)."""

RESYNC_SAMPLES = 2 * SAMPLE_RATE
"""A packet this far from the newest one restarts the stream (sender restarted)."""


class FrameDecoder(Protocol):
    """Decodes one packet's payload to mono PCM, or conceals one lost packet."""

    def decode(self, payload: bytes) -> Pcm: ...

    def conceal(self) -> Pcm: ...


class PlayoutBuffer:
    """Jitter buffer, concealment, catch-up and drift compensation for one received stream."""

    def __init__(
        self,
        decoder: FrameDecoder,
        *,
        min_target_ms: float = MIN_TARGET_MS,
        max_target_ms: float = MAX_TARGET_MS,
    ) -> None:
        if not 0 < min_target_ms <= max_target_ms:
            raise ValueError("need 0 < min_target_ms <= max_target_ms")
        self._decoder = decoder
        self._min_target = min_target_ms * SAMPLES_PER_MS
        self._max_target = max_target_ms * SAMPLES_PER_MS
        self.stats = PlayoutStats()
        self._packets: dict[int, tuple[int, bytes]] = {}
        self._marks: deque[float] = deque(maxlen=WINDOW_PACKETS)
        self._marks_sum = 0.0
        self._pending: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self._frac = 0.0
        self._output = 0
        self._next_seq: int | None = None
        self._next_ts = 0
        self._frame_samples = FRAME_SAMPLES
        self._high_seq = 0
        self._high_ts = 0
        self._last_transit: float | None = None
        self._started_at: float | None = None
        """When the first arrival of the stream came, until `START_S` later."""
        self._seam: Pcm | None = None
        self._held = 0
        self._block = 0
        self._drift = ClockDrift()
        self._pulled_at: float | None = None
        """When the last pull happened (the arrival times' clock), if the caller says."""
        self._before_pull = 0
        """Samples output before the last pull."""
        self._heard_at: float | None = None
        """When the device plays the last pull's first sample (`now + delay`), if given."""

    def put(self, seq: int, timestamp: int, arrival: float, payload: bytes) -> None:
        """Adds one received packet (16-bit `seq`, 32-bit `timestamp`, `arrival` in seconds)."""
        self.stats.received += 1
        if self._next_seq is None:
            self._start(seq, timestamp)
        newest = self._high_ts
        seq, timestamp = self._unwrap(seq, timestamp)
        if abs(timestamp - newest) > RESYNC_SAMPLES:
            self.stats.resyncs += 1
            self._start(seq & 0xFFFF, timestamp & 0xFFFFFFFF)
            seq, timestamp = self._unwrap(seq & 0xFFFF, timestamp & 0xFFFFFFFF)
        self._measure(timestamp, arrival)
        assert self._next_seq is not None
        if seq < self._next_seq:
            self.stats.late += 1
            return
        if seq in self._packets:
            self.stats.duplicates += 1
            return
        self._packets[seq] = (timestamp, payload)
        if len(self._packets) > CAPACITY_PACKETS:
            oldest = min(self._packets)
            del self._packets[oldest]
            self._next_seq = max(self._next_seq, oldest + 1)
            self.stats.overflow += 1

    def skip(self, samples: int) -> None:
        """The device played `samples` of something else (it underflowed): the audio of that
        time is dropped unplayed, so the playout stays on the device's clock."""
        if self._next_seq is None or samples <= 0:
            self._output += max(samples, 0)
            return
        self.stats.skipped += samples
        self._output += samples
        remaining = samples - len(self._pending)
        self._pending = self._pending[samples:]
        while remaining >= self._frame_samples:
            packet = self._packets.pop(self._next_seq, None)
            end = packet[0] if packet is not None else self._next_ts
            self._advance(end + self._frame_samples)
            remaining -= self._frame_samples
        self._held = 0
        self._drift.late()
        if remaining > 0:
            self._pending = self._next_frame()[remaining:]

    def pull(self, samples: int, now: float | None = None, delay: float | None = None) -> Pcm:
        """The next `samples` samples of output (silence before the first packet).

        `now`: when the device asked, on the clock of the arrival times given to `put`.
        `delay`: seconds until the device plays the block's first sample (`device_ms`).
        """
        if delay is not None:
            seen = self.stats.device_ms or delay * 1000
            self.stats.device_ms = seen + (delay * 1000 - seen) * DEVICE_SMOOTHING
        self._block = max(self._block, samples)
        since = None if now is None or self._pulled_at is None else now - self._pulled_at
        if since is not None and since * SAMPLE_RATE > LATE_PULL_BLOCKS * self._block:
            self._drift.late()
        self._pulled_at, self._before_pull = now, self._output
        self._heard_at = None if now is None or delay is None else now + delay
        if self._next_seq is None or samples <= 0:
            self._output += max(samples, 0)
            return np.zeros(max(samples, 0), dtype=np.int16)
        ratio = self._ratio(self._depth() - self._target(), samples)
        positions = self._frac + ratio * np.arange(samples)
        needed = int(positions[-1]) + 2
        while len(self._pending) < needed:
            self._pending = np.concatenate([self._pending, self._next_frame()])
        index = positions.astype(np.int64)
        weight = (positions - index).astype(np.float32)
        out = self._pending[index] * (1 - weight) + self._pending[index + 1] * weight
        advance = self._frac + ratio * samples
        consumed = int(advance)
        self._pending = self._pending[consumed:]
        self._frac = advance - consumed
        self._output += samples
        self.stats.ratio = ratio
        self.stats.drift_ppm = self._drift.drift * 1e6
        self.stats.device_ppm = self._drift.device * 1e6
        self.stats.target_ms = self._target() / SAMPLES_PER_MS
        self.stats.depth_ms = self._depth() / SAMPLES_PER_MS
        pcm: Pcm = np.clip(np.rint(out), -32768, 32767).astype(np.int16)
        return pcm

    def _ratio(self, error: float, samples: int) -> float:
        """Playout speed for a depth error (samples) over the next `samples`: drift tracking,
        plus catch-up if the error is large."""
        seconds = error / SAMPLE_RATE
        limit = MAX_CORRECTION_PPM / 1e6
        correction = float(np.clip(seconds / RATIO_TIME_CONSTANT_S, -limit, limit))
        ratio = 1.0 + self._drift.drift + correction
        excess = error - SOFT_EXCESS_MS * SAMPLES_PER_MS
        if excess > 0:
            ratio += min(excess / (SAMPLE_RATE * CATCH_UP_TIME_CONSTANT_S), CATCH_UP_PPM / 1e6)
        return ratio

    def _start(self, seq: int, timestamp: int) -> None:
        self._packets.clear()
        self._marks.clear()
        self._marks_sum = 0.0
        self._next_seq = self._high_seq = seq
        self._next_ts = self._high_ts = timestamp
        # start at the depth the target would ask for without jitter
        lead = self._block + int(SAFETY_MS * SAMPLES_PER_MS)
        self._pending = np.zeros(lead, dtype=np.float32)
        self._frac = 0.0
        self._last_transit = None
        self._started_at = None
        self._held = 0
        self._drift = ClockDrift()

    def _unwrap(self, seq: int, timestamp: int) -> tuple[int, int]:
        seq = self._high_seq + ((seq - self._high_seq + 0x8000) & 0xFFFF) - 0x8000
        timestamp = self._high_ts + ((timestamp - self._high_ts + 2**31) & 0xFFFFFFFF) - 2**31
        if seq > self._high_seq:
            self._high_seq, self._high_ts = seq, timestamp
        return seq, timestamp

    def _position(self) -> float:
        """Media time (RTP timestamp) of the next sample the device will get."""
        return self._next_ts - len(self._pending) + self._frac

    def _device_position(self, arrival: float) -> float:
        """The device's position in what it was given, at `arrival`.

        Without pull times: the samples given so far, a step per pull. With them: the step's
        mean (half a block back) plus how far into the block the device had played, so the
        position moves smoothly while the phase of arrivals against pulls drifts.
        """
        if self._pulled_at is None:
            return self._output
        block = self._output - self._before_pull
        played = min(max((arrival - self._pulled_at) * SAMPLE_RATE, 0.0), block)
        return self._before_pull + block / 2 + played

    def _heard(self, arrival: float) -> float:
        """The sample the device plays at `arrival`, from its DAC times if the caller gives them
        (else `_device_position`): the device's clock for the drift estimate. A device's output
        runs on its clock, but when its callbacks come does not: PortAudio on PulseAudio has been
        seen asking up to a block early in a sawtooth for minutes (docs/sound.md, "Drift")."""
        if self._heard_at is None:
            return self._device_position(arrival)
        return self._before_pull + (arrival - self._heard_at) * SAMPLE_RATE

    def _measure(self, timestamp: int, arrival: float) -> None:
        if self._started_at is None:
            self._started_at = arrival
        elif arrival - self._started_at > START_S:
            self._marks.clear()  # the start's burst is measured no more
            self._marks_sum = 0.0
            self._started_at = float("inf")
        position = self._device_position(arrival)
        mark = timestamp + self._frame_samples - position
        self._drift.arrival(timestamp + self._frame_samples, self._heard(arrival), arrival)
        if len(self._marks) == self._marks.maxlen:
            self._marks_sum -= self._marks[0]
        self._marks.append(mark)
        self._marks_sum += mark
        transit = arrival - timestamp / SAMPLE_RATE
        if self._last_transit is not None:
            delta = abs(transit - self._last_transit) * 1000
            self.stats.jitter_ms += (delta - self.stats.jitter_ms) / 16
        self._last_transit = transit

    def _offset(self) -> float:
        return self._position() - self._output

    def _depth(self) -> float:
        """Mean depth of the recent arrivals, seen from the current playout point."""
        if not self._marks:
            return 0.0
        return self._marks_sum / len(self._marks) - self._offset()

    def _target(self) -> float:
        """Depth the recent arrivals needed to be in time, plus the safety margin."""
        if not self._marks:
            return self._min_target
        spread = self._marks_sum / len(self._marks) - min(self._marks)
        wanted = spread + self._frame_samples + self._block + SAFETY_MS * SAMPLES_PER_MS
        return float(np.clip(wanted, self._min_target, self._max_target))

    def _next_frame(self) -> npt.NDArray[np.float32]:
        """Decodes, conceals or drops until one frame of output is ready."""
        assert self._next_seq is not None
        while True:
            packet = self._packets.pop(self._next_seq, None)
            excess = (self._depth() - self._target()) / SAMPLES_PER_MS
            if packet is not None:
                self.stats.underruns += self._held
                self._held = 0
                timestamp, payload = packet
                pcm = self._decoder.decode(payload)
                self._frame_samples = len(pcm) or self._frame_samples
                self._advance(timestamp + len(pcm))
                if excess > HARD_EXCESS_MS or (excess > SOFT_EXCESS_MS and _rms(pcm) < QUIET_RMS):
                    self.stats.dropped += 1
                    self._seam = pcm[:CROSSFADE_SAMPLES]
                    continue
                self.stats.played += 1
            elif self._packets and (self._held or excess > HARD_EXCESS_MS):
                # lost: a concealed frame already stood for it, or there is no room for one
                self._advance(self._next_ts + self._frame_samples)
                self.stats.lost += 1
                if self._held:
                    self._held -= 1
                    continue
                self.stats.dropped += 1
                if self._seam is None:
                    self._seam = self._decoder.conceal()[:CROSSFADE_SAMPLES]
                continue
            elif self._packets:
                pcm = self._decoder.conceal()
                self._advance(self._next_ts + len(pcm))
                self.stats.lost += 1
                self.stats.concealed += 1
            else:
                pcm = self._decoder.conceal()
                self._held += 1
                self.stats.concealed += 1
            return self._splice(pcm)

    def _advance(self, next_ts: int) -> None:
        assert self._next_seq is not None
        self._next_seq += 1
        self._next_ts = next_ts

    def _splice(self, pcm: Pcm) -> npt.NDArray[np.float32]:
        frame = pcm.astype(np.float32)
        if self._seam is not None:
            n = min(len(self._seam), len(frame))
            fade = np.linspace(0.0, 1.0, n, dtype=np.float32)
            frame[:n] = self._seam[:n] * (1 - fade) + frame[:n] * fade
            self._seam = None
        return frame


def _rms(pcm: Pcm) -> float:
    return float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64)))) if len(pcm) else 0.0

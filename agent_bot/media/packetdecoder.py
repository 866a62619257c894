"""In-order decoding of one call's received Opus packets, without a jitter buffer; pure logic.

A call whose received audio goes only to PCM sinks (recorder, QA capture) decodes the packets
the RTP tap hands it, on the event loop, instead of through aiortc's jitter buffer and decoder
thread (three wakeups per packet instead of one). Packets in order are decoded as they come.
A missing packet is waited for until a packet more than `REORDER_PACKETS` after it comes (one
that comes before is still used, in its place); once the window passes it, its frame is
concealed with Opus PLC (`FrameDecoder.conceal`), one frame per missing packet. A gap of more
than `MAX_CONCEAL_PACKETS` is skipped instead: the sinks' timelines (`StereoTimeline`) fill
gaps longer than `recorder.GAP_SECONDS` with silence by the wall clock, so concealing them as
well would shift the received audio by the length of the gap. Duplicates and packets that
come after their place was concealed or skipped are dropped and counted. Sequence numbers and
timestamps wrap; a jump of either beyond `RESYNC_PACKETS` / `RESYNC_SAMPLES` (a sender that
restarted) delivers what is held and starts again at the new packet.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from agent_bot.media.frames import SAMPLE_RATE, PcmListener
from agent_bot.media.playout import FrameDecoder

REORDER_PACKETS = 2
"""How many sequence numbers a packet may come behind the newest and still be used: a missing
packet is given up when one more than this after it comes (it is then over 40 ms late)."""

MAX_CONCEAL_PACKETS = 5
"""Longest gap concealed (100 ms: `recorder.GAP_SECONDS`); a longer one is skipped."""

RESYNC_PACKETS = 1_000
"""A packet this far (in sequence numbers) from the next expected one restarts the stream."""

RESYNC_SAMPLES = 10 * SAMPLE_RATE
"""A timestamp this far from the newest packet's restarts the stream (10 s)."""

RECENT_PACKETS = 64
"""Decoded sequence numbers remembered to tell a duplicate from a packet that came too late."""


@dataclass
class DecodeStats:
    """Counters of one received stream's in-order decoding."""

    received: int = 0
    decoded: int = 0
    concealed: int = 0
    """Frames of Opus PLC given for missing packets."""
    skipped: int = 0
    """Missing packets of gaps too long to conceal (the sinks fill them with silence)."""
    late: int = 0
    """Packets that came after their place was concealed or skipped: dropped."""
    duplicates: int = 0
    resyncs: int = 0


def unwrap(value: int, reference: int, bits: int) -> int:
    """The integer nearest `reference` whose low `bits` bits are those of `value`."""
    modulus = 1 << bits
    half = modulus >> 1
    return reference + ((value - reference + half) % modulus) - half


class PacketDecoder:
    """Turns one stream's packets, as they arrive, into its 20 ms frames in order."""

    def __init__(
        self,
        decoder: FrameDecoder,
        output: PcmListener,
        *,
        window: int = REORDER_PACKETS,
        max_conceal: int = MAX_CONCEAL_PACKETS,
    ) -> None:
        if window < 0 or max_conceal < 0:
            raise ValueError("need window >= 0 and max_conceal >= 0")
        self._decoder = decoder
        self._output = output
        self._window = window
        self._max_conceal = max_conceal
        self.stats = DecodeStats()
        self._held: dict[int, bytes] = {}
        """Packets waiting for a missing one, by unwrapped sequence number."""
        self._next: int | None = None
        """Unwrapped sequence number of the next frame to give."""
        self._newest = 0
        self._newest_ts = 0
        self._recent: deque[int] = deque(maxlen=RECENT_PACKETS)

    def put(self, seq: int, timestamp: int, payload: bytes) -> int:
        """Adds one packet (16-bit `seq`, 32-bit `timestamp`); gives the frames it completes to
        the output. Returns how many of them were decoded from received packets."""
        self.stats.received += 1
        decoded = 0
        if self._next is None:
            self._start(seq, timestamp)
        assert self._next is not None
        useq = unwrap(seq, self._newest, 16)
        uts = unwrap(timestamp, self._newest_ts, 32)
        if abs(useq - self._next) > RESYNC_PACKETS or abs(uts - self._newest_ts) > RESYNC_SAMPLES:
            decoded = self.flush()
            self.stats.resyncs += 1
            self._start(seq, timestamp)
            useq, uts = self._newest, self._newest_ts
        if useq < self._next:
            if useq in self._recent:
                self.stats.duplicates += 1
            else:
                self.stats.late += 1
            return decoded
        if useq in self._held:
            self.stats.duplicates += 1
            return decoded
        if useq > self._newest:
            self._newest, self._newest_ts = useq, uts
        self._held[useq] = payload
        return decoded + self._release(self._window)

    def flush(self) -> int:
        """Gives every held packet's frame now (the stream ends), concealing short gaps."""
        return self._release(0)

    def _start(self, seq: int, timestamp: int) -> None:
        self._held.clear()
        self._recent.clear()
        self._next = self._newest = seq
        self._newest_ts = timestamp

    def _release(self, window: int) -> int:
        """Gives the frames in order up to the first gap the window has not passed yet."""
        decoded = 0
        assert self._next is not None
        while self._held:
            payload = self._held.pop(self._next, None)
            if payload is not None:
                self._output(self._decoder.decode(payload))
                self._recent.append(self._next)
                self._next += 1
                decoded += 1
                continue
            if self._newest - self._next <= window:
                break
            following = min(self._held)
            gap = following - self._next
            if gap <= self._max_conceal:
                for _ in range(gap):
                    self._output(self._decoder.conceal())
                self.stats.concealed += gap
            else:
                self.stats.skipped += gap
            self._next = following
        self.stats.decoded += decoded
        return decoded

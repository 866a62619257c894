"""Received RTP audio packets, taken before aiortc's jitter buffer, and their Opus decoding.

aiortc's `RTCRtpReceiver` puts audio through a `JitterBuffer(capacity=16, prefetch=4)` that
starts at 80 ms, never shrinks, grows by 200 ms after one loss and conceals nothing. The
speaker needs each packet as it arrives instead. The patch point is the per-receiver method
`RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms)`, which the DTLS transport awaits
for every SRTP packet routed to that receiver: `tap_rtp` replaces it *on one instance* with a
wrapper that hands the Opus packets to a listener, then calls the original, so aiortc's own
track (recorder, echo, stats) keeps working unchanged. The listener's arrival times are taken
by the tap on the monotonic clock (`arrival_clock`), not aiortc's: those are the wall clock in
whole milliseconds, which a time daemon may step or slew under a call. The codec map of the
receiver is read from its private `_RTCRtpReceiver__codecs`. Both are checked against the
aiortc versions this was written for (`TAPPED_AIORTC`); another version refuses the tap with
`RtpTapError`.
"""

from __future__ import annotations

import importlib.metadata
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import av
import numpy as np

from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE, Pcm

logger = logging.getLogger(__name__)

TAPPED_AIORTC = ("1.16.",)
"""aiortc versions whose `RTCRtpReceiver` internals `tap_rtp` was checked against."""

PacketListener = Callable[[int, int, float, bytes], None]
"""(sequence number, RTP timestamp, arrival time in seconds, Opus payload)."""


def arrival_clock() -> float:
    """Now, on the clock of the arrival times a tap reports: the monotonic clock, in seconds
    (one clock for every process of the machine, so the sound engine reads it too)."""
    return time.monotonic()


class RtpTapError(RuntimeError):
    """The receiver cannot be tapped (an aiortc version whose internals were not checked)."""


def _check_version() -> None:
    version = importlib.metadata.version("aiortc")
    if not version.startswith(TAPPED_AIORTC):
        raise RtpTapError(f"aiortc {version} is not one the RTP tap was checked on")


def tap_rtp(receiver: Any, listener: PacketListener) -> None:
    """Hands every Opus packet `receiver` gets to `listener`, before aiortc's jitter buffer."""
    _check_version()
    original: Callable[[Any, int], Awaitable[None]] = receiver._handle_rtp_packet
    codecs: dict[int, Any] = receiver._RTCRtpReceiver__codecs

    async def tapped(packet: Any, arrival_time_ms: int) -> None:
        codec = codecs.get(packet.payload_type)
        if codec is not None and codec.name.lower() == "opus" and packet.payload:
            listener(packet.sequence_number, packet.timestamp, arrival_clock(), packet.payload)
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = tapped


def stop_decoding(receiver: Any) -> bool:
    """Stops aiortc's decoder thread of a started `receiver`; False if it had none.

    For a call that needs no PCM (no recorder, QA capture or speaker): its packets still feed
    the receiver's statistics and RTCP, and the taps, but are no longer queued to a thread
    that decodes them for nobody. The receiver's track then ends (no more frames).
    """
    _check_version()
    thread = receiver._RTCRtpReceiver__decoder_thread
    if thread is None:
        return False
    receiver._RTCRtpReceiver__decoder_thread = None
    receiver._RTCRtpReceiver__decoder_queue.put(None)  # the thread's sign to finish
    return True


class OpusDecoder:
    """Decodes Opus packets to mono 48 kHz PCM; conceals a lost packet with Opus's own PLC.

    PLC is reached through PyAV by decoding a packet made of the last packet's TOC byte with
    frame-count code 0 and no frame data: libopus treats a frame of length ≤ 1 as lost and
    conceals exactly the duration the TOC names.
    """

    def __init__(self) -> None:
        self._codec = av.CodecContext.create("libopus", "r")
        self._codec.format = "s16"
        self._codec.layout = "mono"
        self._codec.sample_rate = SAMPLE_RATE
        self._toc: int | None = None
        self.errors = 0

    def decode(self, payload: bytes) -> Pcm:
        pcm = self._decode(payload)
        if pcm is None:
            return self.conceal()
        self._toc = payload[0] & 0xFC
        return pcm

    def conceal(self) -> Pcm:
        if self._toc is not None:
            pcm = self._decode(bytes([self._toc]))
            if pcm is not None:
                return pcm
        return np.zeros(FRAME_SAMPLES, dtype=np.int16)

    def _decode(self, data: bytes) -> Pcm | None:
        try:
            frames = self._codec.decode(av.Packet(data))
        except av.FFmpegError as exc:
            self.errors += 1
            logger.debug("opus decode failed: %s", exc)
            return None
        if not frames:
            return None
        pcm: Pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)
        return pcm

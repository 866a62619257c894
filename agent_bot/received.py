"""Where one call's received audio goes, and who decodes it (aiortc, the event loop or nobody).

The RTP tap (`rtpreceiver.tap_rtp`) hands every received Opus packet to `ReceivedAudio`; the
first decides the path for the rest of the call:

- a call on the speaker keeps aiortc's decoder (the speaker has a tap of its own, and its
  sinks, if any, take aiortc's frames);
- otherwise aiortc's decoder thread and jitter buffer are stopped (`stop_decoding`,
  `skip_jitter_buffer`): one wakeup per packet instead of three. While the call has PCM sinks
  (recorder, QA capture), the packets are decoded on the event loop, in order
  (`PacketDecoder`: a short reorder window, Opus PLC for short gaps); without sinks they are
  only counted.

A receiver that cannot be tapped (`RtpTapError`) keeps aiortc's path: its track's frames go
to the sinks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from agent_bot.leanreceive import skip_jitter_buffer
from agent_bot.media.frames import AudioSink, Pcm, frame_to_pcm
from agent_bot.media.packetdecoder import PacketDecoder
from agent_bot.media.rtpreceiver import OpusDecoder, RtpTapError, stop_decoding, tap_rtp

logger = logging.getLogger(__name__)


class ReceivedAudio:
    """One call's received audio: to its sinks (a list the call keeps adding to) and counted.

    `audio_in` is told of every 20 ms that came in: a frame decoded from a received packet,
    or a packet when nothing decodes them.
    """

    def __init__(
        self,
        call_id: str,
        sinks: list[AudioSink],
        audio_in: Callable[[], None],
        *,
        speaker: bool,
    ) -> None:
        self._call_id = call_id
        self._sinks = sinks
        self._audio_in = audio_in
        self._speaker = speaker
        self._receiver: Any = None
        self.aiortc_decodes: bool | None = None
        """Whether aiortc's decoder gives the frames; decided at the first packet."""
        self._decoder: PacketDecoder | None = None

    def attach(self, receiver: Any) -> None:
        """Taps `receiver`'s packets; one that cannot be tapped keeps aiortc's decoder."""
        self._receiver = receiver
        try:
            tap_rtp(receiver, self._on_packet)
        except RtpTapError as exc:
            logger.warning("call=%s every received packet is decoded: %s", self._call_id, exc)
            self.aiortc_decodes = True

    def _on_packet(self, seq: int, timestamp: int, arrival: float, payload: bytes) -> None:
        if self.aiortc_decodes is None:
            self._choose()
        if self.aiortc_decodes:
            return
        if not self._sinks:
            self._audio_in()
            return
        if self._decoder is None:
            self._decoder = PacketDecoder(OpusDecoder(), self._write)
            logger.info("call=%s received audio decoded on the event loop", self._call_id)
        for _ in range(self._decoder.put(seq, timestamp, payload)):
            self._audio_in()

    def _choose(self) -> None:
        self.aiortc_decodes = self._speaker
        if self.aiortc_decodes or self._receiver is None:
            return
        stop_decoding(self._receiver)
        skip_jitter_buffer(self._receiver)
        if not self._sinks:
            logger.info("call=%s nothing needs the received PCM: not decoded", self._call_id)

    def _write(self, pcm: Pcm) -> None:
        for sink in self._sinks:
            sink.write(pcm)

    async def track_frames(self, track: MediaStreamTrack, fail: Callable[[str], None]) -> None:
        """aiortc's decoded frames to the sinks, until the track ends (at once when aiortc's
        decoder is stopped); `fail` is told of a frame that is not mono/stereo s16 audio."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self._audio_in()
            if not self._sinks:
                continue
            try:
                pcm = frame_to_pcm(frame)
            except ValueError as exc:
                fail(str(exc))
                return
            self._write(pcm)

    def close(self) -> None:
        """The call ends: frames still held for a missing packet go to the sinks."""
        if self._decoder is None:
            return
        for _ in range(self._decoder.flush()):
            self._audio_in()
        stats = self._decoder.stats
        logger.info("call=%s received audio decoded on the event loop: %s", self._call_id, stats)

"""A call's received packets onto a speaker: the in-process `Speaker` or the sound engine's.

Imports no PortAudio: the bot's process reaches the sound devices through the sound engine.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from agent_bot.media.rtpreceiver import RtpTapError, tap_rtp

logger = logging.getLogger(__name__)


class PacketSpeaker(Protocol):
    """What `attach_speaker` feeds: `Speaker` here, or the sound engine's speaker."""

    def put(
        self, call_id: str, seq: int, timestamp: int, arrival: float, payload: bytes
    ) -> None: ...

    def connect(self, call_id: str) -> None: ...

    def disconnect(self, call_id: str) -> None: ...


def attach_speaker(receiver: Any, speaker: PacketSpeaker, call_id: str) -> None:
    """Puts the call received by `receiver` (an aiortc `RTCRtpReceiver`) on `speaker`.

    Its packets go to the speaker's playout buffer, bypassing aiortc's jitter buffer; the
    receiver's track keeps working for other sinks. Call `speaker.disconnect(call_id)` when
    the call ends (also done when the receiver's track ends).
    """

    def on_packet(seq: int, timestamp: int, arrival: float, payload: bytes) -> None:
        speaker.put(call_id, seq, timestamp, arrival, payload)

    try:
        tap_rtp(receiver, on_packet)
    except RtpTapError as exc:
        logger.error("call %s: cannot be played on the speaker: %s", call_id, exc)
        return
    speaker.connect(call_id)
    track = receiver.track
    if track is not None:
        track.on("ended", lambda: speaker.disconnect(call_id))

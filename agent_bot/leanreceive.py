"""A receiver without a decoder skips aiortc's jitter buffer too (aiortc 1.16 internals).

`rtpreceiver.stop_decoding` ends aiortc's decoder thread for a call that needs no received PCM
(echo, replay without a recorder, QA capture or speaker), but `RTCRtpReceiver._handle_rtp_packet`
still puts every packet into the receiver's `JitterBuffer(capacity=16, prefetch=4)`, which
reorders and assembles frames that nothing takes any more (a py-spy profile of an echo bot at
10 calls: 4.8 % of its samples). `skip_jitter_buffer` puts a buffer that keeps nothing in its
place, on that one receiver: statistics, RTCP receiver reports and the RTP taps go on as they
were. The private attribute is checked against the aiortc versions this was written for.
"""

from __future__ import annotations

from typing import Any

import aiortc

from agent_bot.patches import checked

SKIPPED_AIORTC = ("1.16.",)
"""aiortc versions whose `RTCRtpReceiver` jitter buffer `skip_jitter_buffer` was checked on."""


class NoJitterBuffer:
    """Stands in for a stopped receiver's jitter buffer: keeps no packet, completes no frame."""

    def add(self, packet: object) -> tuple[bool, None]:
        """(no picture loss to report, no frame to decode)."""
        return False, None


def skip_jitter_buffer(receiver: Any) -> bool:
    """Takes the jitter buffer out of `receiver`'s path (its decoder thread stopped before);
    False, with a warning, on an aiortc version this was not checked against."""
    version = aiortc.__version__
    if not checked("aiortc", version, SKIPPED_AIORTC, "packets still fill the jitter buffer"):
        return False
    if not hasattr(receiver, "_RTCRtpReceiver__jitter_buffer"):
        return False
    receiver._RTCRtpReceiver__jitter_buffer = NoJitterBuffer()
    return True

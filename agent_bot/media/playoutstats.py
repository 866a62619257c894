"""Counters and current figures of one playout buffer (`playout.PlayoutBuffer.stats`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PlayoutStats:
    """Counters and current figures of one playout buffer."""

    received: int = 0
    played: int = 0
    concealed: int = 0
    """Frames of concealment played (for lost packets, and while waiting for late ones)."""
    lost: int = 0
    """Packets that never came in time: skipped, their slot concealed."""
    underruns: int = 0
    """Concealed frames that delayed playout: the buffer ran dry and the awaited packet came."""
    late: int = 0
    """Packets that came after their playout time (or duplicates of played ones): dropped."""
    duplicates: int = 0
    dropped: int = 0
    """Frames dropped to catch up after a burst."""
    overflow: int = 0
    resyncs: int = 0
    skipped: int = 0
    """Samples skipped because the device played something else meanwhile (`skip`)."""
    target_ms: float = 0.0
    depth_ms: float = 0.0
    ratio: float = 1.0
    """The last pull's playout speed (drift estimate, correction and catch-up)."""
    drift_ppm: float = 0.0
    """How much faster the sender's clock runs than the device's (the drift estimate)."""
    device_ppm: float = 0.0
    """How much faster the device's clock runs than this machine's (the arrival clock), as the
    estimate reads it: `drift_ppm` is the sender's pace less this."""
    jitter_ms: float = 0.0
    """RFC 3550 interarrival jitter."""
    device_ms: float = 0.0
    """How long the device held a block before playing it (its output latency: DAC time minus
    callback time), smoothed over ~1 s, when the caller says (`pull(delay=)`): latency after
    the playout, which grows for good if the sound server keeps more queued."""

"""The JSON report every call ends with: timestamps, end reason and transport figures."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
    RTCStatsReport,
)

# aiortc reports jitter in RTP timestamp units; Opus runs a 48 kHz clock.
RTP_CLOCK_RATE = 48_000


@dataclass
class Timestamps:
    """Wall-clock times (Unix seconds) of the call's milestones; None when not reached."""

    requested: float | None = None
    accepted: float | None = None
    offer: float | None = None
    answer: float | None = None
    connected: float | None = None
    first_audio_in: float | None = None
    first_audio_out: float | None = None
    ended: float | None = None


@dataclass
class TransportStats:
    """Figures from aiortc's getStats()."""

    packets_sent: int = 0
    bytes_sent: int = 0
    packets_received: int = 0
    bytes_received: int = 0
    packets_lost: int = 0
    jitter_ms: float | None = None
    rtt_ms: float | None = None
    remote_packets_lost: int | None = None

    @classmethod
    def from_report(cls, report: RTCStatsReport) -> TransportStats:
        stats = cls()
        for entry in report.values():
            if isinstance(entry, RTCInboundRtpStreamStats):
                stats.packets_received += entry.packetsReceived
                stats.packets_lost += max(0, entry.packetsLost)
                stats.jitter_ms = entry.jitter * 1000 / RTP_CLOCK_RATE
            elif isinstance(entry, RTCOutboundRtpStreamStats):
                stats.packets_sent += entry.packetsSent
                stats.bytes_sent += entry.bytesSent
            elif isinstance(entry, RTCRemoteInboundRtpStreamStats):
                stats.rtt_ms = entry.roundTripTime * 1000
                stats.remote_packets_lost = entry.packetsLost
            elif entry.type == "transport":
                stats.bytes_received += getattr(entry, "bytesReceived", 0)
        return stats

    @property
    def loss(self) -> float:
        """Share of the expected packets that never arrived, 0..1."""
        expected = self.packets_received + self.packets_lost
        return self.packets_lost / expected if expected else 0.0


@dataclass
class CallReport:
    """Everything known about one call when it ends."""

    call_id: str
    role: str
    peer: str | None = None
    peer_name: str | None = None
    offerer: str | None = None
    times: Timestamps = field(default_factory=Timestamps)
    end_reason: str | None = None
    error: str | None = None
    stats: TransportStats = field(default_factory=TransportStats)
    frames_received: int = 0
    frames_sent: int = 0
    recording: str | None = None
    playout: dict[str, Any] | None = None
    """The speaker's playout figures, when the call was on the speaker at its end."""
    sound: dict[str, Any] | None = None
    """Levels and echo cancellation at the call's end (`EngineSpeaker.sound`), on the speaker."""
    loop_lag_ms: float = 0.0
    """Worst lag of this process's event loop during the call: high values mean the figures
    say more about this process's load than about the network or the far end."""

    def mark(self, milestone: str) -> None:
        """Record the first time `milestone` (a `Timestamps` field) is reached."""
        if getattr(self.times, milestone) is None:
            setattr(self.times, milestone, time.time())

    @property
    def connected(self) -> bool:
        return self.times.connected is not None

    @property
    def audio_both_ways(self) -> bool:
        return self.frames_received > 0 and self.frames_sent > 0

    def since_request_ms(self, milestone: str) -> float | None:
        """Milliseconds from the call request (or acceptance) to `milestone`."""
        start = self.times.requested or self.times.accepted
        at = getattr(self.times, milestone)
        return None if start is None or at is None else (at - start) * 1000

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stats"]["loss"] = self.stats.loss
        data["setup_ms"] = {
            name: self.since_request_ms(name)
            for name in ("accepted", "connected", "first_audio_in", "first_audio_out")
        }
        return data


def sound_summary(sound: dict[str, Any]) -> str:
    """The sound figures of a call (`CallReport.sound`) as one log line's worth."""
    parts = [
        f"speaker {_dbfs(sound.get('speaker_rms', 0.0))}",
        f"mic {_dbfs(sound.get('mic_rms', 0.0))}",
    ]
    echo = sound.get("echo")
    if echo is not None:
        removed = echo.get("echo_removed_db")
        if not echo.get("echo_cancellation"):
            parts.append("no echo cancellation")
        elif removed is None:
            parts.append("echo removed: not measured yet")
        else:
            parts.append(f"echo removed {removed:.1f} dB")
        parts.append(f"delay {echo.get('delay_ms', 0.0):.0f} ms")
    parts.append(f"engine restarts {sound.get('engine_restarts', 0)}")
    return ", ".join(parts)


def _dbfs(rms: float) -> str:
    return f"{20 * math.log10(rms):.0f} dBFS" if rms > 1e-5 else "silent"

"""A finished call's figures as plain data, for testing the pure QA layer on its own."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Transport:
    packets_sent: int = 500
    packets_received: int = 500
    packets_lost: int = 0
    remote_packets_lost: int | None = 0
    rtt_ms: float | None = 2.0
    jitter_ms: float | None = 1.0

    @property
    def loss(self) -> float:
        expected = self.packets_received + self.packets_lost
        return self.packets_lost / expected if expected else 0.0


@dataclass
class Call:
    call_id: str = "call-1"
    error: str | None = None
    connected: bool = True
    stats: Transport = field(default_factory=Transport)
    frames_received: int = 500
    frames_sent: int = 500
    setup_ms: float | None = 120.0
    duration_ms: float | None = 10_000.0

    def since_request_ms(self, milestone: str) -> float | None:
        return {"connected": self.setup_ms, "ended": self.duration_ms}.get(milestone)

    def to_dict(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "error": self.error, "stats": asdict(self.stats)}

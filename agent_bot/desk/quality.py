"""Network quality of a call from its getStats() figures: RTT, loss, jitter, network MOS."""

from __future__ import annotations

from dataclasses import dataclass

from agent_bot.qa.emodel import estimate, mouth_to_ear_ms
from agent_bot.report import TransportStats


@dataclass(frozen=True)
class NetworkQuality:
    rtt_ms: float | None
    loss_percent: float
    jitter_ms: float | None
    mos: float | None
    """E-model MOS from the one-way delay (RTT/2 + buffers) and loss; None without an RTT."""

    @classmethod
    def from_stats(cls, stats: TransportStats) -> NetworkQuality:
        loss = 100 * stats.loss
        mos = None
        if stats.rtt_ms is not None:
            one_way = mouth_to_ear_ms(stats.rtt_ms, stats.jitter_ms or 0.0)
            mos = estimate(one_way, loss).mos
        return cls(stats.rtt_ms, loss, stats.jitter_ms, mos)

    def summary(self) -> str:
        rtt = "–" if self.rtt_ms is None else f"{self.rtt_ms:.0f} ms"
        jitter = "–" if self.jitter_ms is None else f"{self.jitter_ms:.1f} ms"
        return f"RTT {rtt}  loss {self.loss_percent:.1f} %  jitter {jitter}  MOS {self.mos_text}"

    @property
    def mos_text(self) -> str:
        return "–" if self.mos is None else f"{self.mos:.2f}"

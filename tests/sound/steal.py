"""CPU time the hypervisor took from this machine (steal), sampled each second from /proc/stat.

On a virtual machine, a drift run's latency is disturbed when the host runs something else: in
one run here 20-33 % of the CPU time was stolen for 20 s, exactly the seconds every bot's latency
was 10-40 ms high. `DriftResult.steal` carries it so a figure can be read against it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

STAT = Path("/proc/stat")

STEAL_FIELD = 7
"""Index of `steal` among the `cpu` line's counters (user nice system idle iowait irq softirq
steal guest guest_nice); guest time is counted in user already, so the total stops here."""


def cpu_times(stat: str) -> tuple[int, int]:
    """(stolen, total) CPU time in clock ticks, from /proc/stat's aggregate `cpu` line."""
    for line in stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            counters = [int(value) for value in fields[1 : STEAL_FIELD + 2]]
            stolen = counters[STEAL_FIELD] if len(counters) > STEAL_FIELD else 0
            return stolen, sum(counters)
    raise ValueError("/proc/stat has no aggregate cpu line")


def read_cpu_times() -> tuple[int, int] | None:
    """This machine's `cpu_times`; None where there is no /proc/stat (not Linux)."""
    return cpu_times(STAT.read_text()) if STAT.exists() else None


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share (0-1) of the CPU time between two `cpu_times` readings that was stolen."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


class StealMeter:
    """Samples the stolen share of each `period` while `run` runs (monotonic times)."""

    def __init__(self, period: float = 1.0) -> None:
        self.period = period
        self.samples: list[tuple[float, float]] = []
        """(monotonic time at the end of the period, stolen share of it)."""

    async def run(self) -> None:
        before = read_cpu_times()
        while before is not None:  # without /proc/stat the figures go without it
            await asyncio.sleep(self.period)
            after = read_cpu_times()
            if after is None:
                return
            self.samples.append((time.monotonic(), steal_share(before, after)))
            before = after

    def since(self, start: float) -> list[tuple[float, float]]:
        """(seconds since monotonic `start`, stolen share) of the samples from `start` on."""
        return [(at - start, share) for at, share in self.samples if at >= start]

"""Load-based admission: stop taking calls while the process is overloaded.

Overload shows up as growing audio delay, not as loss, so it is invisible unless measured. The
bot measures two things once per period: how late the event loop wakes up (lag) and the CPU
the process used (percent of one core). `Admission` turns those samples into available /
unavailable with hysteresis; `LoadMonitor` is the thin asyncio glue that samples them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """Thresholds; a sample over a `max_*` closes admission, all under `resume_*` reopen it."""

    max_lag_ms: float = 50.0
    max_cpu_percent: float = 85.0
    resume_lag_ms: float = 20.0
    resume_cpu_percent: float = 70.0
    smoothing: float = 0.3
    """Weight of a new sample in the moving averages (0..1]."""


@dataclass(frozen=True)
class LoadSample:
    lag_ms: float
    cpu_percent: float


class Admission:
    """Available or not, from smoothed load samples, with hysteresis (pure)."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.available = True
        self.lag_ms = 0.0
        self.cpu_percent = 0.0

    def update(self, sample: LoadSample) -> bool:
        """Take one sample; return True when availability changed."""
        weight = self.limits.smoothing
        self.lag_ms += weight * (sample.lag_ms - self.lag_ms)
        self.cpu_percent += weight * (sample.cpu_percent - self.cpu_percent)
        if self.available:
            overloaded = (
                self.lag_ms > self.limits.max_lag_ms
                or self.cpu_percent > self.limits.max_cpu_percent
            )
            if overloaded:
                self.available = False
                return True
        elif (
            self.lag_ms < self.limits.resume_lag_ms
            and self.cpu_percent < self.limits.resume_cpu_percent
        ):
            self.available = True
            return True
        return False


class LoadMonitor:
    """Samples event-loop lag and process CPU every `period` seconds and feeds `Admission`."""

    def __init__(
        self,
        admission: Admission,
        on_change: Callable[[bool], Awaitable[None]],
        period: float = 0.5,
    ) -> None:
        self.admission = admission
        self._on_change = on_change
        self._period = period
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        async for sample in load_samples(self._period):
            if self.admission.update(sample):
                state = "available" if self.admission.available else "unavailable"
                logger.warning(
                    "admission %s: lag %.0f ms, cpu %.0f %%",
                    state,
                    self.admission.lag_ms,
                    self.admission.cpu_percent,
                )
                await self._on_change(self.admission.available)


async def load_samples(period: float) -> AsyncIterator[LoadSample]:
    """This process's event-loop lag and CPU, measured every `period` seconds, forever."""
    cpu_before, wall_before = time.process_time(), time.monotonic()
    while True:
        expected = time.monotonic() + period
        await asyncio.sleep(period)
        now = time.monotonic()
        cpu_now = time.process_time()
        yield LoadSample(
            lag_ms=max(0.0, now - expected) * 1000,
            cpu_percent=100 * (cpu_now - cpu_before) / max(now - wall_before, 1e-6),
        )
        cpu_before, wall_before = cpu_now, now

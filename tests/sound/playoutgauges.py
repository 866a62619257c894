"""What a bot says of the call on its speaker, read from its `--metrics-port` once a second.

The gauges `agent_bot_speaker_playout_target_seconds`, `_playout_depth_seconds` and
`agent_bot_speaker_device_seconds` (NaN while no call is on the speaker): the latency the bot
means to add after a packet arrives (its target) and what the device adds after the playout
(PortAudio's DAC time minus its callback time).
"""

from __future__ import annotations

import asyncio
import math
import time
import urllib.error
from dataclasses import dataclass, field

from tests.metrics import Scrape

PERIOD_S = 1.0

GAUGES = {
    "target": "agent_bot_speaker_playout_target_seconds",
    "depth": "agent_bot_speaker_playout_depth_seconds",
    "device": "agent_bot_speaker_device_seconds",
}


@dataclass(frozen=True)
class PlayoutSample:
    """One scrape, in ms."""

    at: float
    """When it was scraped (monotonic)."""
    target: float
    depth: float
    device: float


@dataclass
class PlayoutGauges:
    """The speaker gauges of one bot, scraped."""

    url: str
    samples: list[PlayoutSample] = field(default_factory=list)
    failures: int = 0
    """Scrapes that failed (the bot was busy or gone)."""

    def scrape(self) -> None:
        """One scrape, kept if a call was on the speaker."""
        try:
            scrape = Scrape.of(self.url)
        except (OSError, urllib.error.URLError):
            self.failures += 1
            return
        values = {name: scrape.value(gauge) * 1000 for name, gauge in GAUGES.items()}
        if not any(math.isnan(value) for value in values.values()):
            self.samples.append(PlayoutSample(time.monotonic(), **values))


async def watch(gauges: list[PlayoutGauges]) -> None:
    """Scrape every bot once a `PERIOD_S` until cancelled (in a thread: the scrapes never hold
    up the event loop the senders run on)."""
    while True:
        started = time.monotonic()
        for each in gauges:
            await asyncio.to_thread(each.scrape)
        await asyncio.sleep(max(0.0, PERIOD_S - (time.monotonic() - started)))

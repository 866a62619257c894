"""The RTP tap on a real aiortc loopback call: what it hands on, and on which clock."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from agent_bot.media.rtpreceiver import arrival_clock, tap_rtp
from agent_bot.media.sources import ToneSource
from tests.media.conftest import Connect, receive


async def test_arrivals_are_stamped_on_the_monotonic_clock_as_they_come(loopback: Connect) -> None:
    """Each packet's arrival time is the monotonic clock when the tap saw it (sub-millisecond,
    not aiortc's whole-millisecond wall clock), and aiortc's own track keeps its audio."""
    remote = await loopback(ToneSource(440).create_track())
    seen: list[tuple[int, float, float]] = []

    def listener(seq: int, timestamp: int, arrival: float, payload: bytes) -> None:
        seen.append((seq, arrival, time.monotonic()))

    tap_rtp(loopback.receiver(remote), listener)
    heard = await receive(remote, 2.0)
    await asyncio.sleep(0)
    assert len(seen) >= 50, f"{len(seen)} packets tapped in 2 s"
    arrivals = np.array([arrival for _, arrival, _ in seen])
    assert all(0 <= now - arrival < 0.001 for _, arrival, now in seen)
    assert arrival_clock() - arrivals[-1] < 1.0
    assert np.all(np.diff(arrivals) > 0)
    assert np.any(np.abs(arrivals * 1000 - np.round(arrivals * 1000)) > 0.01), "whole ms only"
    assert abs(float(np.median(np.diff(arrivals))) - 0.020) < 0.005
    assert len(heard) >= 48_000

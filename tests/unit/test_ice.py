"""ICE gathering against a STUN server that never answers is bounded by `bound_gathering`."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from agent_bot.ice import GATHER_TIMEOUT, bound_gathering

UNBOUNDED_SECONDS = 5.0
"""aioice's own wait for STUN answers."""


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A STUN server URL on loopback that receives requests and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"stun:127.0.0.1:{sock.getsockname()[1]}"


async def gather(stun: str) -> float:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[RTCIceServer(urls=stun)]))
    pc.addTransceiver("audio")
    started = time.monotonic()
    await pc.setLocalDescription(await pc.createOffer())
    elapsed = time.monotonic() - started
    assert "a=candidate" in pc.localDescription.sdp
    await pc.close()
    return elapsed


async def test_unanswered_stun_server_costs_at_most_the_bound(black_hole: str) -> None:
    assert bound_gathering()
    elapsed = await asyncio.wait_for(gather(black_hole), UNBOUNDED_SECONDS * 2)
    # The bound is a timeout: gathering ends once it expires, well before aioice's own 5 s.
    assert GATHER_TIMEOUT <= elapsed < UNBOUNDED_SECONDS - 1

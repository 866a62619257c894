"""ICE gathering against a STUN server that never answers is bounded by `bound_gathering`."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from typing import cast

import pytest
from aioice import stun
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from agent_bot.calloptions import CallOptions
from agent_bot.ice import GATHER_TIMEOUT, bound_gathering, per_call_options
from agent_bot.media.sources import SilenceSource

UNBOUNDED_SECONDS = 5.0
"""aioice's own wait for STUN answers."""


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A STUN server URL on loopback that receives requests and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"stun:127.0.0.1:{sock.getsockname()[1]}"


async def gather(server: str | RTCIceServer) -> float:
    if isinstance(server, str):
        server = RTCIceServer(urls=server)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[server]))
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


class Refuser(asyncio.DatagramProtocol):
    """A TURN server on loopback that answers every request 401 Unauthorized."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = stun.parse_message(data)
        response = stun.Message(
            message_method=request.message_method,
            message_class=stun.Class.ERROR,
            transaction_id=request.transaction_id,
        )
        response.attributes["ERROR-CODE"] = (401, "Unauthorized")
        response.attributes["REALM"] = "test"
        response.attributes["NONCE"] = b"n0nce"
        self.transport.sendto(bytes(response), addr)


async def test_turn_refusal_is_logged_with_the_error_and_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        Refuser, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    assert bound_gathering()
    try:
        with caplog.at_level(logging.WARNING, logger="agent_bot.ice"):
            await gather(
                RTCIceServer(f"turn:127.0.0.1:{port}", username="alice", credential="s3cret")
            )
    finally:
        transport.close()
    [line] = [r.getMessage() for r in caplog.records if r.name == "agent_bot.ice"]
    assert line == (
        f"TURN turn:alice:***@127.0.0.1:{port}?transport=udp: allocation failed: "
        "TransactionFailed: STUN transaction failed (401 - Unauthorized)"
    )


async def test_unreachable_turn_over_tcp_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert bound_gathering()
    with caplog.at_level(logging.WARNING, logger="agent_bot.ice"):
        await gather(
            RTCIceServer(f"turn:127.0.0.1:{port}?transport=tcp", username="u", credential="p")
        )
    [line] = [r.getMessage() for r in caplog.records if r.name == "agent_bot.ice"]
    assert line.startswith(f"TURN turn:u:***@127.0.0.1:{port}?transport=tcp: allocation failed: ")
    assert "ConnectionRefusedError" in line


def test_the_servers_ice_servers_unless_the_bot_has_its_own() -> None:
    options = CallOptions(source=SilenceSource())
    offered = [{"urls": "turn:h:3478", "username": "1:c", "credential": "pw"}]
    per_call = per_call_options(options, "c", offered)
    assert per_call is not options
    assert per_call.ice_servers == [RTCIceServer("turn:h:3478", username="1:c", credential="pw")]
    assert options.ice_servers == []
    assert per_call_options(options, "c", None) is options
    assert per_call_options(options, "c", [{"urls": "turn:h"}]) is options  # no credential
    own = CallOptions(source=SilenceSource(), ice_servers=[RTCIceServer("stun:x:1")])
    assert per_call_options(own, "c", offered) is own

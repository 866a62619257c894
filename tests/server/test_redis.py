"""Two server nodes sharing a real redis-server: calls and relay across nodes."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from tests.conftest import ServerFactory
from tests.procs import SignalingServer
from tests.server.client import SDP, Client, RefusedError
from tests.server.conftest import Clients

pytestmark = pytest.mark.redis


@pytest.fixture
def nodes(
    redis_url: str,
    server_factory: ServerFactory,
    clients_for: Callable[[SignalingServer], Clients],
) -> tuple[Clients, Clients]:
    return (
        clients_for(server_factory("--redis", redis_url)),
        clients_for(server_factory("--redis", redis_url)),
    )


async def call_across(nodes: tuple[Clients, Clients]) -> tuple[Client, Client, str]:
    """An agent on node 0 and a customer on node 1 in an accepted call."""
    agent = await nodes[0].agent("far-agent")
    customer = await nodes[1].customer()
    ack = await customer.call("call-request", {})
    assert ack["status"] == "ringing", ack
    assert (await agent.expect("incoming-call"))["customerId"] == customer.sid
    assert (await agent.call("call-accept", {"callId": ack["callId"]}))["ok"]
    accepted = await customer.expect("call-accepted")
    assert accepted == {"callId": ack["callId"], "agentId": agent.sid, "agentName": "far-agent"}
    return agent, customer, str(ack["callId"])


async def test_call_and_relay_across_nodes(nodes: tuple[Clients, Clients]) -> None:
    agent, customer, call_id = await call_across(nodes)
    offer = {"type": "offer", "sdp": SDP}
    ack = await customer.call("offer", {"offer": offer, "targetUserId": agent.sid})
    assert ack == {"ok": True, "callId": call_id}
    assert await agent.expect("offer") == {
        "offer": offer,
        "userId": customer.sid,
        "callId": call_id,
    }
    answer = {"type": "answer", "sdp": SDP}
    await agent.call("answer", {"answer": answer, "targetUserId": customer.sid})
    assert (await customer.expect("answer"))["userId"] == agent.sid
    stranger = await nodes[0].customer("stranger")
    refused = await stranger.call("offer", {"offer": offer, "targetUserId": agent.sid})
    assert refused["error"]["code"] == "not-your-peer"
    await agent.call("hangup", {"callId": call_id})
    assert await customer.expect("call-ended") == {"callId": call_id, "reason": "hangup"}


async def test_disconnect_ends_the_call_across_nodes(nodes: tuple[Clients, Clients]) -> None:
    agent, customer, call_id = await call_across(nodes)
    await agent.close()
    assert await customer.expect("call-ended") == {
        "callId": call_id, "reason": "peer-disconnected"
    }  # fmt: skip


async def test_queue_is_shared(nodes: tuple[Clients, Clients]) -> None:
    first = await nodes[0].customer()
    second = await nodes[1].customer()
    assert (await first.call("call-request", {}))["position"] == 1
    ack = await second.call("call-request", {})
    assert ack["position"] == 2
    agent = await nodes[1].agent()
    assert (await agent.expect("incoming-call"))["customerId"] == first.sid
    assert await second.expect("call-queued") == {"callId": ack["callId"], "position": 1}
    async with aiohttp.ClientSession() as http:
        for node in nodes:
            async with http.get(f"{node.server.url}/healthz") as response:
                health = await response.json()
            assert (health["agents"], health["ringing"], health["queue"]) == (1, 1, 1)


async def test_websocket_only(nodes: tuple[Clients, Clients]) -> None:
    client = Client(nodes[0].server.url)
    with pytest.raises(RefusedError):
        await client.connect({"role": "customer"}, transports=["polling"])


async def test_stopped_node_ends_its_calls(nodes: tuple[Clients, Clients]) -> None:
    _, customer, call_id = await call_across(nodes)
    nodes[0].server.stop()
    assert await customer.expect("call-ended") == {
        "callId": call_id, "reason": "peer-disconnected"
    }  # fmt: skip
    async with aiohttp.ClientSession() as http, http.get(f"{nodes[1].server.url}/healthz") as r:
        assert (await r.json())["agents"] == 0


async def test_messages_across_nodes_arrive_in_order(nodes: tuple[Clients, Clients]) -> None:
    agent, customer, _ = await call_across(nodes)
    for index in range(30):
        candidate = {"candidate": f"candidate:{index} 1 udp 1 127.0.0.1 {5000 + index} typ host"}
        await customer.sio.emit(
            "ice-candidate", {"candidate": candidate, "targetUserId": agent.sid}
        )
    received = [(await agent.expect("ice-candidate"))["candidate"] for _ in range(30)]
    assert [c["candidate"].split()[0] for c in received] == [f"candidate:{i}" for i in range(30)]

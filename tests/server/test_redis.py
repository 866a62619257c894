"""Two server nodes sharing a real redis-server: calls and relay across nodes, dead nodes."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from signaling_server.stores.liveness import detection_bound
from signaling_server.stores.redis import NodeRegistry
from tests.conftest import ServerFactory
from tests.procs import SignalingServer
from tests.server.client import SDP, TIMEOUT, Client, RefusedError
from tests.server.conftest import Clients

pytestmark = pytest.mark.redis

# node TTL of the liveness tests (`--node-ttl`): short, yet several heartbeats long
TTL = 2.0


TwoNodes = Callable[..., tuple[Clients, Clients]]


@pytest.fixture
def two_nodes(
    redis_url: str,
    server_factory: ServerFactory,
    clients_for: Callable[[SignalingServer], Clients],
) -> TwoNodes:
    """Starts two server nodes on one Redis, with extra server arguments; their clients."""

    def start(*args: str) -> tuple[Clients, Clients]:
        command = ("--redis", redis_url, *args)
        return clients_for(server_factory(*command)), clients_for(server_factory(*command))

    return start


@pytest.fixture
def nodes(two_nodes: TwoNodes) -> tuple[Clients, Clients]:
    return two_nodes()


@pytest.fixture
def short_ttl_nodes(two_nodes: TwoNodes) -> tuple[Clients, Clients]:
    return two_nodes("--node-ttl", str(TTL))


async def health(server: SignalingServer) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/healthz") as response:
        result: dict[str, Any] = await response.json()
        return result


@contextmanager
def stopped(server: SignalingServer) -> Iterator[None]:
    """The server process frozen (SIGSTOP) inside the block, resumed (SIGCONT) after it."""
    assert server.proc is not None
    server.proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        server.proc.send_signal(signal.SIGCONT)


async def call_across(nodes: tuple[Clients, Clients]) -> tuple[Client, Client, str]:
    """An agent on node 0 and a customer on node 1 in an accepted call."""
    agent = await nodes[0].agent("far-agent")
    customer = await nodes[1].customer()
    ack = await customer.call("call-request", {})
    assert ack["status"] == "ringing", ack
    assert (await agent.expect("incoming-call"))["customerId"] == customer.sid
    assert (await agent.call("call-accept", {"callId": ack["callId"]}))["ok"]
    accepted = await customer.expect("call-accepted")
    assert accepted == {
        "callId": ack["callId"],
        "agentId": agent.sid,
        "agentName": "far-agent",
        "iceServers": [],
    }
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


async def test_crashed_node_is_cleaned_up(short_ttl_nodes: tuple[Clients, Clients]) -> None:
    agent_node, customer_node = short_ttl_nodes
    _, customer, call_id = await call_across(short_ttl_nodes)
    waiting = await agent_node.customer("waiting-on-the-dead-node")
    assert (await waiting.call("call-request", {}))["status"] == "queued"
    agent_node.server.kill()
    ended = await customer.expect("call-ended", within=detection_bound(TTL) + TIMEOUT)
    assert ended == {"callId": call_id, "reason": "peer-disconnected"}
    # the call ends with the first client cleaned up: wait for the node's last one
    deadline = time.monotonic() + TIMEOUT
    while "expired: 2 clients cleaned up" not in customer_node.server.log():
        assert time.monotonic() < deadline, customer_node.server.log()[-4000:]
        await asyncio.sleep(0.05)
    # the dead agent is offered nothing, the dead customer's call left the queue
    ack = await customer.call("call-request", {})
    assert (ack["status"], ack["position"]) == ("queued", 1), ack
    health_after = await health(customer_node.server)
    assert (health_after["agents"], health_after["customers"], health_after["queue"]) == (0, 1, 1)


async def test_live_nodes_are_not_cleaned_up(short_ttl_nodes: tuple[Clients, Clients]) -> None:
    agent = await short_ttl_nodes[0].agent()
    customer = await short_ttl_nodes[1].customer()
    await asyncio.sleep(3 * TTL)
    ack = await customer.call("call-request", {})
    assert ack["ok"] and ack["status"] == "ringing", ack
    assert (await agent.expect("incoming-call"))["customerId"] == customer.sid
    for node in short_ttl_nodes:
        assert (await health(node.server))["agents"] == 1
        assert "expired" not in node.server.log()


async def test_stalled_node_drops_its_clients(short_ttl_nodes: tuple[Clients, Clients]) -> None:
    """A node frozen past its TTL is cleaned up; once it runs again its clients reconnect."""
    stalled, survivor = short_ttl_nodes
    agent, customer, call_id = await call_across(short_ttl_nodes)
    with stopped(stalled.server):
        ended = await customer.expect("call-ended", within=detection_bound(TTL) + TIMEOUT)
        assert ended == {"callId": call_id, "reason": "peer-disconnected"}
    await agent.wait_disconnected(within=detection_bound(TTL) + TIMEOUT)
    again = await stalled.agent("back-again")
    ack = await customer.call("call-request", {})
    assert ack["ok"] and ack["status"] == "ringing", ack
    assert (await again.expect("incoming-call"))["customerId"] == customer.sid
    assert (await health(survivor.server))["agents"] == 1


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_one_node_claims_a_dead_node(redis: Redis) -> None:
    dead, first, second = (NodeRegistry(redis, ttl=0.2) for _ in range(3))
    for node in (dead, first, second):
        await node.rejoin()
    await dead.join("sid-1")
    assert await first.dead() == []
    await asyncio.sleep(0.3)
    assert await first.beat() is False  # nobody refreshed it: expired too
    await first.rejoin()
    await second.rejoin()
    assert dead.node in await first.dead()
    claims = await asyncio.gather(first.claim(dead.node), second.claim(dead.node))
    assert sorted(claims) == [False, True]
    assert await first.clients(dead.node) == ["sid-1"]
    await first.forget(dead.node)
    assert dead.node not in await second.dead()

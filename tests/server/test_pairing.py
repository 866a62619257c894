"""Pairing over real Socket.IO: ringing, slots, the queue, reject, ring timeout, pause."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import ServerFactory
from tests.procs import SignalingServer
from tests.server.client import Client
from tests.server.conftest import Clients


async def ring(customer: Client, agent: Client, offerer: str = "customer") -> str:
    """Request a call that must ring at `agent`; returns its id."""
    ack = await customer.call("call-request", {"offerer": offerer})
    assert ack["ok"] is True, ack
    assert ack["status"] == "ringing"
    assert ack["position"] == 0
    incoming = await agent.expect("incoming-call")
    assert incoming == {
        "callId": ack["callId"],
        "customerId": customer.sid,
        "customerName": "customer",
        "offerer": offerer,
        "iceServers": [],
        "customerIdentity": {"name": "customer", "sub": None, "verified": False},
    }
    return str(ack["callId"])


async def test_one_agent_accepts(clients: Clients) -> None:
    agent = await clients.agent("alice")
    customer = await clients.customer()
    call_id = await ring(customer, agent)
    ack = await agent.call("call-accept", {"callId": call_id})
    assert ack == {
        "ok": True,
        "callId": call_id,
        "customerId": customer.sid,
        "customerName": "customer",
        "offerer": "customer",
        "customerIdentity": {"name": "customer", "sub": None, "verified": False},
    }
    accepted = await customer.expect("call-accepted")
    assert accepted == {
        "callId": call_id,
        "agentId": agent.sid,
        "agentName": "alice",
        "iceServers": [],
    }


async def test_many_agents_longest_idle_first(clients: Clients) -> None:
    first = await clients.agent("first")
    second = await clients.agent("second")
    c1, c2, c3, c4 = [await clients.customer() for _ in range(4)]
    call1 = await ring(c1, first)  # both idle: the one idle since longer (connected first)
    call2 = await ring(c2, second)
    for agent, call_id in ((first, call1), (second, call2)):
        await agent.call("call-accept", {"callId": call_id})
    await second.call("hangup", {"callId": call2})
    await first.call("hangup", {"callId": call1})
    await ring(c3, second)  # free since before `first`
    await first.expect_nothing(0.2)
    await ring(c4, first)


async def test_max_calls_gives_several_slots(clients: Clients) -> None:
    agent = await clients.agent(max_calls=2)
    c1, c2, c3 = [await clients.customer() for _ in range(3)]
    for customer in (c1, c2):
        call_id = await ring(customer, agent)
        assert (await agent.call("call-accept", {"callId": call_id}))["ok"]
    ack = await c3.call("call-request", {})
    assert (ack["status"], ack["position"]) == ("queued", 1)


async def test_queue_is_fifo_with_positions(clients: Clients) -> None:
    waiting = [await clients.customer() for _ in range(3)]
    acks = [await c.call("call-request", {}) for c in waiting]
    assert [(a["status"], a["position"]) for a in acks] == [
        ("queued", 1), ("queued", 2), ("queued", 3)
    ]  # fmt: skip
    agent = await clients.agent()
    incoming = await agent.expect("incoming-call")
    assert incoming["callId"] == acks[0]["callId"]
    assert await waiting[1].expect("call-queued") == {"callId": acks[1]["callId"], "position": 1}
    assert await waiting[2].expect("call-queued") == {"callId": acks[2]["callId"], "position": 2}
    await waiting[0].expect_nothing(0.1)


async def test_reject_goes_to_next_agent_then_no_agent(clients: Clients) -> None:
    a1 = await clients.agent("a1")
    a2 = await clients.agent("a2")
    customer = await clients.customer()
    call_id = await ring(customer, a1)
    assert await a1.call("call-reject", {"callId": call_id}) == {"ok": True, "callId": call_id}
    assert (await a2.expect("incoming-call"))["callId"] == call_id
    await a2.call("call-reject", {"callId": call_id})
    ended = await customer.expect("call-ended")
    assert ended == {"callId": call_id, "reason": "no-agent"}


async def test_rejected_call_is_queued_again(clients: Clients) -> None:
    a1 = await clients.agent("a1")
    busy = await clients.customer()
    call0 = await ring(busy, a1)
    await a1.call("call-accept", {"callId": call0})
    a2 = await clients.agent("a2")
    customer = await clients.customer()
    call_id = await ring(customer, a2)
    await a2.call("call-reject", {"callId": call_id})
    assert await customer.expect("call-queued") == {"callId": call_id, "position": 1}
    await busy.call("hangup", {"callId": call0})
    assert (await a1.expect("call-ended"))["reason"] == "hangup"
    assert (await a1.expect("incoming-call"))["callId"] == call_id


async def test_ring_timeout_skips_the_agent(
    server_factory: ServerFactory, clients_for: Callable[[SignalingServer], Clients]
) -> None:
    clients = clients_for(server_factory("--ring-timeout", "1"))
    sleepy = await clients.agent("sleepy")
    awake = await clients.agent("awake")
    customer = await clients.customer()
    call_id = await ring(customer, sleepy)
    assert await sleepy.expect("call-ended") == {"callId": call_id, "reason": "ring-timeout"}
    assert (await awake.expect("incoming-call"))["callId"] == call_id
    ack = await sleepy.call("call-accept", {"callId": call_id})
    assert ack["error"]["code"] == "unknown-call"
    assert (await awake.call("call-accept", {"callId": call_id}))["ok"]
    await customer.expect("call-accepted")


async def test_paused_agent_gets_no_calls(clients: Clients) -> None:
    agent = await clients.agent()
    assert await agent.call("agent-status", {"available": False}) == {
        "ok": True, "available": False
    }  # fmt: skip
    customer = await clients.customer()
    ack = await customer.call("call-request", {})
    assert ack["status"] == "queued"
    await agent.expect_nothing()
    await agent.call("agent-status", {"available": True})
    assert (await agent.expect("incoming-call"))["callId"] == ack["callId"]


async def test_second_call_request_is_invalid_state(clients: Clients) -> None:
    customer = await clients.customer()
    first = await customer.call("call-request", {})
    second = await customer.call("call-request", {})
    assert second["ok"] is False
    assert second["error"]["code"] == "invalid-state"
    assert first["callId"] in second["error"]["message"]

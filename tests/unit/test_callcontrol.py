"""Agent state, queue updates, hold and transfer rules, without Socket.IO, over each store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from signaling_server.outcome import Outcome
from signaling_server.pairing import Pairing
from signaling_server.protocol import AgentState, EndReason, ErrorCode, Event, ProtocolError
from tests.unit.pairingrig import customers, sent


async def refused(code: ErrorCode, operation: Awaitable[object]) -> None:
    try:
        await operation
    except ProtocolError as exc:
        assert exc.code is code, exc.message
    else:
        raise AssertionError(f"expected {code}")


async def named_agent(pairing: Pairing, sid: str, name: str, **options: Any) -> Outcome:
    await pairing.add_agent(sid, name, 1, **options)
    return await pairing.dispatch()


async def active_call(pairing: Pairing, agent: str = "a1", customer: str = "c1") -> str:
    """A call from `customer` accepted by `agent` (which must be the one free agent)."""
    await customers(pairing, customer)
    ack = (await pairing.request_call(customer, "customer")).ack
    assert ack["status"] == "ringing", ack
    await pairing.accept(agent, ack["callId"])
    return str(ack["callId"])


async def test_away_and_wrap_up_agents_get_no_calls_until_available(pairing: Pairing) -> None:
    await named_agent(pairing, "a1", "alice")
    await customers(pairing, "c1")
    ack = (await pairing.set_state("a1", AgentState.AWAY)).ack
    assert ack == {"available": False, "state": "away", "queue": 0}
    assert (await pairing.request_call("c1", "customer")).ack["status"] == "queued"
    wrap = await pairing.set_state("a1", AgentState.WRAP_UP)
    assert sent(wrap, Event.INCOMING_CALL) == []
    assert wrap.ack["queue"] == 1
    ready = await pairing.set_state("a1", AgentState.AVAILABLE)
    assert sent(ready, Event.INCOMING_CALL)[0][1]["callId"] == "call1"


async def test_queue_updates_only_to_agents_that_asked(pairing: Pairing) -> None:
    await named_agent(pairing, "a1", "alice", queue_updates=True)
    await named_agent(pairing, "a2", "bob")
    await pairing.set_state("a1", AgentState.AWAY)
    await pairing.set_state("a2", AgentState.AWAY)
    await customers(pairing, "c1", "c2")
    out = await pairing.request_call("c1", "customer")
    assert sent(out, Event.QUEUE_UPDATE) == [("a1", {"length": 1})]
    out = await pairing.request_call("c2", "customer")
    assert sent(out, Event.QUEUE_UPDATE) == [("a1", {"length": 2})]
    out = await pairing.hangup("c1", "call1")
    assert sent(out, Event.QUEUE_UPDATE) == [("a1", {"length": 1})]
    out = await pairing.set_state("a2", AgentState.AVAILABLE)  # rings: the queue empties
    assert sent(out, Event.QUEUE_UPDATE) == [("a1", {"length": 0})]


async def test_hold_and_resume_reach_the_customer_only(pairing: Pairing) -> None:
    await named_agent(pairing, "a1", "alice")
    call_id = await active_call(pairing)
    out = await pairing.hold("a1", call_id, True)
    assert [(e.to, e.event, e.data) for e in out.emits] == [
        ("c1", Event.CALL_HOLD, {"callId": call_id})
    ]
    out = await pairing.hold("a1", call_id, False)
    assert [(e.to, e.event) for e in out.emits] == [("c1", Event.CALL_RESUME)]
    await refused(ErrorCode.FORBIDDEN, pairing.hold("c1", call_id, True))
    await refused(ErrorCode.UNKNOWN_CALL, pairing.hold("a1", "nope", True))


async def test_transfer_to_a_named_agent(pairing: Pairing) -> None:
    await named_agent(pairing, "a1", "alice")
    call_id = await active_call(pairing)
    await named_agent(pairing, "a2", "bob")
    out = await pairing.transfer("a1", call_id, "bob")
    assert out.ack == {"callId": call_id, "to": "bob", "agentId": "a2"}
    incoming = sent(out, Event.INCOMING_CALL)
    assert incoming == [
        ("a2", incoming[0][1] | {"callId": call_id, "customerId": "c1", "transferFrom": "alice"})
    ]
    assert sent(out, Event.CALL_TRANSFERRING) == [("c1", {"callId": call_id})]
    assert [r.agent for r in out.rings] == ["a2"]
    # the call goes on with alice meanwhile
    assert await pairing.route("c1", "a1", call_id) == call_id
    await refused(ErrorCode.INVALID_STATE, pairing.transfer("a1", call_id, "bob"))
    out = await pairing.accept("a2", call_id)
    assert sent(out, Event.CALL_ENDED) == [("a1", {"callId": call_id, "reason": "transferred"})]
    accepted = sent(out, Event.CALL_ACCEPTED)
    assert accepted == [
        ("c1", {"callId": call_id, "agentId": "a2", "agentName": "bob", "transferred": True})
    ]
    assert await pairing.route("c1", "a2", call_id) == call_id
    await refused(ErrorCode.NOT_YOUR_PEER, pairing.route("c1", "a1", call_id))
    # alice's slot is free again: a new customer rings at her
    await customers(pairing, "c2")
    assert (await pairing.request_call("c2", "customer")).ack["status"] == "ringing"


async def test_refused_transfers_leave_the_call_as_it_was(pairing: Pairing) -> None:
    await named_agent(pairing, "a1", "alice")
    call_id = await active_call(pairing)
    await refused(ErrorCode.UNKNOWN_AGENT, pairing.transfer("a1", call_id, "nobody"))
    await refused(ErrorCode.UNKNOWN_AGENT, pairing.transfer("a1", call_id, "alice"))  # herself
    await named_agent(pairing, "a2", "bob")
    await pairing.set_state("a2", AgentState.AWAY)
    await refused(ErrorCode.AGENT_AWAY, pairing.transfer("a1", call_id, "bob"))
    await pairing.set_state("a2", AgentState.AVAILABLE)
    await active_call(pairing, "a2", "c2")  # bob now busy
    await refused(ErrorCode.AGENT_BUSY, pairing.transfer("a1", call_id, "bob"))
    await refused(ErrorCode.FORBIDDEN, pairing.transfer("c1", call_id, "bob"))
    assert await pairing.route("c1", "a1", call_id) == call_id


async def test_transfer_fails_on_reject_ring_timeout_or_disconnect(pairing: Pairing) -> None:
    await named_agent(pairing, "a1", "alice")
    call_id = await active_call(pairing)
    await named_agent(pairing, "a2", "bob")
    failures: list[tuple[Callable[[], Awaitable[Outcome]], str]] = [
        (lambda: pairing.reject("a2", call_id), "rejected"),
        (lambda: pairing.ring_timeout(call_id, "a2"), EndReason.RING_TIMEOUT),
        (lambda: pairing.remove("a2"), EndReason.PEER_DISCONNECTED),
    ]
    for fail, reason in failures:
        await pairing.transfer("a1", call_id, "bob")
        out = await fail()
        failed = {"callId": call_id, "reason": reason}
        assert sent(out, Event.CALL_TRANSFER_FAILED) == [("a1", failed), ("c1", failed)]
        assert sent(out, Event.CALL_ACCEPTED) == []
        assert await pairing.route("c1", "a1", call_id) == call_id
        if reason == EndReason.RING_TIMEOUT:
            assert sent(out, Event.CALL_ENDED) == [("a2", {"callId": call_id, "reason": reason})]
    assert (await pairing.stats()).active == 1


async def test_customer_hanging_up_during_a_transfer_tells_both_agents(pairing: Pairing) -> None:
    await named_agent(pairing, "a1", "alice")
    call_id = await active_call(pairing)
    await named_agent(pairing, "a2", "bob")
    await pairing.transfer("a1", call_id, "bob")
    out = await pairing.hangup("c1", call_id)
    ended = {"callId": call_id, "reason": "hangup"}
    assert sorted(sent(out, Event.CALL_ENDED)) == [("a1", ended), ("a2", ended)]
    stats = await pairing.stats()
    assert (stats.active, stats.ringing) == (0, 0)


async def test_transfer_to_the_head_of_the_queue(pairing: Pairing) -> None:
    await named_agent(pairing, "a1", "alice")
    call_id = await active_call(pairing)
    await named_agent(pairing, "a2", "bob")
    await active_call(pairing, "a2", "c2")
    await customers(pairing, "c3")
    waiting = (await pairing.request_call("c3", "customer")).ack
    assert (waiting["status"], waiting["position"]) == ("queued", 1)
    out = await pairing.transfer("a1", call_id, "queue")
    assert out.ack == {"callId": call_id, "to": "queue"}
    assert sent(out, Event.CALL_ENDED) == [("a1", {"callId": call_id, "reason": "transferred"})]
    assert sent(out, Event.CALL_TRANSFERRING) == [("c1", {"callId": call_id})]
    # alice is free but has handed this call on: she gets the next customer in line instead
    assert sent(out, Event.INCOMING_CALL)[0][0] == "a1"
    assert sent(out, Event.INCOMING_CALL)[0][1]["callId"] == waiting["callId"]
    assert sent(out, Event.CALL_QUEUED) == [("c1", {"callId": call_id, "position": 1})]
    # bob frees up: the transferred call comes first
    out = await pairing.hangup("c2", "call2")
    assert sent(out, Event.INCOMING_CALL)[0][0] == "a2"
    assert sent(out, Event.INCOMING_CALL)[0][1]["callId"] == call_id
    out = await pairing.accept("a2", call_id)
    assert sent(out, Event.CALL_ACCEPTED)[0][0] == "c1"


async def test_a_reconnected_transfer_target_can_still_accept(pairing: Pairing) -> None:
    await named_agent(pairing, "a1", "alice")
    call_id = await active_call(pairing)
    await named_agent(pairing, "a2", "bob")
    await pairing.transfer("a1", call_id, "bob")
    await pairing.add_agent("a2-again", "bob", 1, replaces="a2")
    assert await pairing.route("c1", "a1", call_id) == call_id  # still alice's call
    out = await pairing.accept("a2-again", call_id)
    assert sent(out, Event.CALL_ENDED) == [("a1", {"callId": call_id, "reason": "transferred"})]
    assert await pairing.route("c1", "a2-again", call_id) == call_id

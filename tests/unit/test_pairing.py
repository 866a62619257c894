"""Pairing rules, without Socket.IO: a `Pairing` with a fake clock over each store
(`pairingrig`); a reconnected agent's takeover is in `test_registration.py`."""

from __future__ import annotations

from signaling_server.outcome import Emit, Outcome, Ring, Stats
from signaling_server.pairing import Pairing
from signaling_server.protocol import EndReason, ErrorCode, Event
from tests.unit.pairingrig import (
    ANONYMOUS_C1,
    Clock,
    agent,
    customers,
    refused,
    sent,
)


async def test_one_agent_rings_then_accepts(pairing: Pairing) -> None:
    await agent(pairing, "a1")
    await customers(pairing, "c1")
    out = await pairing.request_call("c1", "agent")
    assert out.ack == {"callId": "call1", "status": "ringing", "position": 0}
    assert out.emits == [
        Emit(
            "a1",
            Event.INCOMING_CALL,
            {
                "callId": "call1",
                "customerId": "c1",
                "customerName": "name-c1",
                "customerIdentity": ANONYMOUS_C1,
                "offerer": "agent",
            },
        )
    ]
    assert out.rings == [Ring("call1", "a1")]
    out = await pairing.accept("a1", "call1")
    assert out.ack == {
        "callId": "call1", "customerId": "c1", "customerName": "name-c1",
        "customerIdentity": ANONYMOUS_C1, "offerer": "agent",
    }  # fmt: skip
    assert out.emits == [
        Emit(
            "c1", Event.CALL_ACCEPTED, {"callId": "call1", "agentId": "a1", "agentName": "name-a1"}
        )
    ]
    assert await pairing.stats() == Stats(agents=1, customers=1, ringing=0, active=1, queued=0)


async def test_longest_idle_agent_first(pairing: Pairing, clock: Clock) -> None:
    await agent(pairing, "a1")
    clock.tick()
    await agent(pairing, "a2")
    await customers(pairing, "c1", "c2", "c3")
    first = await pairing.request_call("c1", "customer")
    assert sent(first, Event.INCOMING_CALL)[0][0] == "a1"
    await pairing.accept("a1", "call1")
    clock.tick()
    await pairing.hangup("c1", "call1")  # a1 idle since t=2, a2 since t=1
    second = await pairing.request_call("c2", "customer")
    assert sent(second, Event.INCOMING_CALL)[0][0] == "a2"
    third = await pairing.request_call("c3", "customer")
    assert sent(third, Event.INCOMING_CALL)[0][0] == "a1"


async def test_max_calls_slots_and_least_busy_first(pairing: Pairing, clock: Clock) -> None:
    await agent(pairing, "big", max_calls=2)
    clock.tick()
    await agent(pairing, "small")
    await customers(pairing, "c1", "c2", "c3", "c4")
    targets = [
        sent(await pairing.request_call(c, "customer"), Event.INCOMING_CALL)[0][0]
        for c in ("c1", "c2", "c3")
    ]
    assert targets == ["big", "small", "big"]
    out = await pairing.request_call("c4", "customer")
    assert out.ack["status"] == "queued"
    assert out.ack["position"] == 1


async def test_fifo_queue_positions(pairing: Pairing) -> None:
    await customers(pairing, "c1", "c2", "c3")
    acks = [(await pairing.request_call(c, "customer")).ack for c in ("c1", "c2", "c3")]
    assert [(a["status"], a["position"]) for a in acks] == [
        ("queued", 1), ("queued", 2), ("queued", 3)
    ]  # fmt: skip
    out = await pairing.hangup("c1", "call1")  # leaving the queue moves the others up
    assert sorted(sent(out, Event.CALL_QUEUED)) == [
        ("c2", {"callId": "call2", "position": 1}),
        ("c3", {"callId": "call3", "position": 2}),
    ]
    out = await agent(pairing, "a1")  # first in line rings, the next moves up
    assert sent(out, Event.INCOMING_CALL)[0][1]["callId"] == "call2"
    assert sent(out, Event.CALL_QUEUED) == [("c3", {"callId": "call3", "position": 1})]


async def test_reject_offers_next_agent(pairing: Pairing, clock: Clock) -> None:
    await agent(pairing, "a1")
    clock.tick()
    await agent(pairing, "a2")
    await customers(pairing, "c1")
    await pairing.request_call("c1", "customer")
    out = await pairing.reject("a1", "call1")
    assert out.ack == {"callId": "call1"}
    assert sent(out, Event.INCOMING_CALL)[0][0] == "a2"
    assert sent(out, Event.CALL_ENDED) == []


async def test_reject_by_every_agent_ends_with_no_agent(pairing: Pairing) -> None:
    await agent(pairing, "a1")
    await customers(pairing, "c1")
    await pairing.request_call("c1", "customer")
    out = await pairing.reject("a1", "call1")
    assert sent(out, Event.CALL_ENDED) == [("c1", {"callId": "call1", "reason": "no-agent"})]
    assert out.ended == [EndReason.NO_AGENT]
    # the customer may call again
    assert (await pairing.request_call("c1", "customer")).ack["callId"] == "call2"


async def test_rejected_call_waits_for_a_busy_agent(pairing: Pairing) -> None:
    await agent(pairing, "a1")
    await customers(pairing, "c0", "c1")
    await pairing.request_call("c0", "customer")
    await pairing.accept("a1", "call1")
    await agent(pairing, "a2")
    await pairing.request_call("c1", "customer")  # rings a2
    out = await pairing.reject("a2", "call2")
    assert sent(out, Event.CALL_QUEUED) == [("c1", {"callId": "call2", "position": 1})]
    out = await pairing.hangup("c0", "call1")  # a1 frees: the call rings there, not at a2
    assert sent(out, Event.INCOMING_CALL)[0][0] == "a1"


async def test_ring_timeout_skips_agent(pairing: Pairing, clock: Clock) -> None:
    await agent(pairing, "a1")
    clock.tick()
    await agent(pairing, "a2")
    await customers(pairing, "c1")
    await pairing.request_call("c1", "customer")
    out = await pairing.ring_timeout("call1", "a1")
    assert sent(out, Event.CALL_ENDED) == [("a1", {"callId": "call1", "reason": "ring-timeout"})]
    assert sent(out, Event.INCOMING_CALL)[0][0] == "a2"
    await pairing.accept("a2", "call1")
    assert await pairing.ring_timeout("call1", "a2") == Outcome()  # answered: a no-op
    await refused(ErrorCode.UNKNOWN_CALL, pairing.accept("a1", "call1"))


async def test_paused_agent_gets_no_calls(pairing: Pairing) -> None:
    await agent(pairing, "a1")
    await customers(pairing, "c1")
    assert (await pairing.set_available("a1", False)).ack == {"available": False}
    assert (await pairing.request_call("c1", "customer")).ack["status"] == "queued"
    out = await pairing.set_available("a1", True)
    assert sent(out, Event.INCOMING_CALL)[0][1]["callId"] == "call1"


async def test_one_call_per_customer(pairing: Pairing) -> None:
    await customers(pairing, "c1")
    await pairing.request_call("c1", "customer")
    message = await refused(ErrorCode.INVALID_STATE, pairing.request_call("c1", "customer"))
    assert "call1" in message


async def test_hangup_endings(pairing: Pairing) -> None:
    await agent(pairing, "a1")
    await customers(pairing, "c1", "c2")
    await pairing.request_call("c1", "customer")
    await refused(ErrorCode.INVALID_STATE, pairing.hangup("a1", "call1"))  # ringing: reject
    await refused(ErrorCode.UNKNOWN_CALL, pairing.hangup("c2", "call1"))
    await refused(ErrorCode.UNKNOWN_CALL, pairing.hangup("c1", "nope"))
    await pairing.accept("a1", "call1")
    out = await pairing.hangup("a1", "call1")
    assert sent(out, Event.CALL_ENDED) == [("c1", {"callId": "call1", "reason": "hangup"})]
    await pairing.request_call("c2", "customer")
    out = await pairing.hangup("c2", "call2")  # cancelled while ringing
    assert sent(out, Event.CALL_ENDED) == [("a1", {"callId": "call2", "reason": "hangup"})]
    assert await pairing.stats() == Stats(agents=1, customers=2, ringing=0, active=0, queued=0)


async def test_disconnect_endings(pairing: Pairing, clock: Clock) -> None:
    await agent(pairing, "a1")
    await customers(pairing, "c1", "c2", "c3")
    await pairing.request_call("c1", "customer")
    await pairing.accept("a1", "call1")
    await pairing.request_call("c2", "customer")
    await pairing.request_call("c3", "customer")
    out = await pairing.remove("c2")  # queued customer leaves the queue
    assert sent(out, Event.CALL_QUEUED) == [("c3", {"callId": "call3", "position": 1})]
    out = await pairing.remove("a1")
    assert sent(out, Event.CALL_ENDED) == [
        ("c1", {"callId": "call1", "reason": "peer-disconnected"})
    ]
    await agent(pairing, "a2")
    await pairing.accept("a2", "call3")
    out = await pairing.remove("c3")
    assert sent(out, Event.CALL_ENDED) == [
        ("a2", {"callId": "call3", "reason": "peer-disconnected"})
    ]
    assert await pairing.stats() == Stats(agents=1, customers=1, ringing=0, active=0, queued=0)


async def test_ringing_agent_disconnect_reoffers(pairing: Pairing, clock: Clock) -> None:
    await agent(pairing, "a1")
    clock.tick()
    await agent(pairing, "a2")
    await customers(pairing, "c1")
    await pairing.request_call("c1", "customer")
    out = await pairing.remove("a1")
    assert sent(out, Event.CALL_ENDED) == []
    assert sent(out, Event.INCOMING_CALL)[0][0] == "a2"


async def test_route_only_between_parties_of_an_accepted_call(pairing: Pairing) -> None:
    await agent(pairing, "a1")
    await agent(pairing, "a2")
    await customers(pairing, "c1", "c2", "stranger")
    await pairing.request_call("c1", "customer")
    ringing_at = sent(await pairing.request_call("c2", "customer"), Event.INCOMING_CALL)
    first = "a1" if ringing_at[0][0] == "a2" else "a2"
    await refused(ErrorCode.NOT_YOUR_PEER, pairing.route("c1", first, None))  # not accepted yet
    await pairing.accept(first, "call1")
    assert await pairing.route("c1", first, None) == "call1"
    assert await pairing.route(first, "c1", "call1") == "call1"
    second = ringing_at[0][0]
    await pairing.accept(second, "call2")
    for sender, target, call_id in [
        ("c1", second, None),  # an agent in another call
        ("c1", "c1", None),  # yourself
        ("stranger", first, None),
        (first, "stranger", None),
        (first, "c2", None),
        ("c1", first, "call2"),  # right peer, wrong call id
        (first, first, None),
    ]:
        await refused(ErrorCode.NOT_YOUR_PEER, pairing.route(sender, target, call_id))


async def test_roles_and_states(pairing: Pairing) -> None:
    await agent(pairing, "a1")
    await agent(pairing, "a2")
    await customers(pairing, "c1")
    await refused(ErrorCode.FORBIDDEN, pairing.request_call("a1", "customer"))
    await refused(ErrorCode.FORBIDDEN, pairing.accept("c1", "call1"))
    await refused(ErrorCode.FORBIDDEN, pairing.set_available("c1", True))
    ringing = sent(await pairing.request_call("c1", "customer"), Event.INCOMING_CALL)[0][0]
    other = "a2" if ringing == "a1" else "a1"
    await refused(ErrorCode.UNKNOWN_CALL, pairing.accept(other, "call1"))
    await refused(ErrorCode.UNKNOWN_CALL, pairing.reject(other, "call1"))
    await pairing.accept(ringing, "call1")
    await refused(ErrorCode.INVALID_STATE, pairing.accept(ringing, "call1"))
    await refused(ErrorCode.INVALID_STATE, pairing.reject(ringing, "call1"))


async def test_ringing_call_waits_when_its_only_agent_leaves(pairing: Pairing) -> None:
    await agent(pairing, "a1")
    await customers(pairing, "c1")
    await pairing.request_call("c1", "customer")
    out = await pairing.remove("a1")
    assert sent(out, Event.CALL_ENDED) == []
    assert sent(out, Event.CALL_QUEUED) == [("c1", {"callId": "call1", "position": 1})]
    out = await agent(pairing, "a1-restarted")
    assert sent(out, Event.INCOMING_CALL)[0][1]["callId"] == "call1"


async def accepted_call(pairing: Pairing, *, reports_connected: bool) -> Outcome:
    """Agent a1 (reporting connected media or not) accepts c1's call1; the accept's outcome."""
    await pairing.add_agent("a1", "name-a1", 1, reports_connected=reports_connected)
    await customers(pairing, "c1", "c2")
    await pairing.request_call("c1", "customer")
    return await pairing.accept("a1", "call1")


async def test_unconnected_call_ends_at_its_deadline(pairing: Pairing) -> None:
    out = await accepted_call(pairing, reports_connected=True)
    assert out.deadlines == ["call1"]
    await pairing.request_call("c2", "customer")  # queued behind call1
    out = await pairing.connect_timeout("call1")
    assert sorted(sent(out, Event.CALL_ENDED)) == [
        ("a1", {"callId": "call1", "reason": EndReason.CONNECT_TIMEOUT}),
        ("c1", {"callId": "call1", "reason": EndReason.CONNECT_TIMEOUT}),
    ]
    assert out.ended == [EndReason.CONNECT_TIMEOUT]
    # the slot is free at once: the queued call rings
    assert sent(out, Event.INCOMING_CALL)[0][1]["callId"] == "call2"


async def test_connected_call_outlives_its_deadline(pairing: Pairing) -> None:
    await accepted_call(pairing, reports_connected=True)
    out = await pairing.connected("c1", "call1")
    assert out.ack == {"callId": "call1"}
    await pairing.connected("a1", "call1")  # both may report; the second changes nothing
    out = await pairing.connect_timeout("call1")
    assert out.emits == [] and out.ended == []
    assert (await pairing.stats()).active == 1


async def test_no_deadline_for_agents_that_do_not_report(pairing: Pairing) -> None:
    out = await accepted_call(pairing, reports_connected=False)
    assert out.deadlines == []


async def test_connected_refused_for_strangers_and_unaccepted_calls(pairing: Pairing) -> None:
    await pairing.add_agent("a1", "name-a1", 1, reports_connected=True)
    await customers(pairing, "c1", "c2")
    await pairing.request_call("c1", "customer")
    await refused(ErrorCode.INVALID_STATE, pairing.connected("c1", "call1"))  # ringing
    await pairing.accept("a1", "call1")
    await refused(ErrorCode.UNKNOWN_CALL, pairing.connected("c2", "call1"))
    await refused(ErrorCode.UNKNOWN_CALL, pairing.connected("c1", "nope"))


async def test_hangup_reason_reaches_the_other_party(pairing: Pairing) -> None:
    await accepted_call(pairing, reports_connected=True)
    out = await pairing.hangup("a1", "call1", "ice-failed")
    assert sent(out, Event.CALL_ENDED) == [
        ("c1", {"callId": "call1", "reason": EndReason.ICE_FAILED})
    ]
    assert out.ended == [EndReason.ICE_FAILED]
    # the deadline of a call that already ended does nothing
    out = await pairing.connect_timeout("call1")
    assert out.emits == []

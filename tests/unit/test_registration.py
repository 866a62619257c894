"""A client joining the pairing (`registration.py`): a reconnected agent taking over its calls,
only under the same name and the same token identity."""

from __future__ import annotations

import pytest

from signaling_server.identity import Identity
from signaling_server.outcome import Timing, TimingName
from signaling_server.pairing import Pairing
from signaling_server.protocol import ErrorCode, Event
from tests.unit.pairingrig import (
    Clock,
    agent,
    customers,
    refused,
    sent,
)


async def test_reconnected_agent_takes_over_its_calls(pairing: Pairing, clock: Clock) -> None:
    await agent(pairing, "old", max_calls=2)
    await customers(pairing, "c1", "c2")
    await pairing.request_call("c1", "customer")
    await pairing.accept("old", "call1")
    await pairing.request_call("c2", "customer")  # rings at "old"
    clock.tick()
    await pairing.add_agent("new", "name-old", 2, replaces="old")
    out = await pairing.dispatch()  # the ringing call is offered again, to the new connection
    assert sent(out, Event.INCOMING_CALL)[0][0] == "new"
    assert await pairing.route("c1", "new", "call1") == "call1"  # relay follows the agent
    await refused(ErrorCode.NOT_YOUR_PEER, pairing.route("c1", "old", "call1"))
    out = await pairing.hangup("c1", "call1")
    assert sent(out, Event.CALL_ENDED) == [("new", {"callId": "call1", "reason": "hangup"})]
    assert (await pairing.remove("old")).emits == []  # the old connection's clean-up: nothing
    assert (await pairing.stats()).agents == 1


@pytest.mark.parametrize("name", ["name-old", "someone-else"])
async def test_takeover_needs_the_same_name_and_a_known_sid(pairing: Pairing, name: str) -> None:
    await agent(pairing, "old")
    await customers(pairing, "c1")
    await pairing.request_call("c1", "customer")
    await pairing.accept("old", "call1")
    replaces = "gone" if name == "name-old" else "old"
    await pairing.add_agent("new", name, 1, replaces=replaces)
    assert (await pairing.stats()).agents == 2
    await refused(ErrorCode.NOT_YOUR_PEER, pairing.route("c1", "new", "call1"))


async def test_verified_identity_and_timings(pairing: Pairing, clock: Clock) -> None:
    """A token's identity travels with the call; the call's durations are measured."""
    await customers(pairing)
    await pairing.add_customer("c1", "Ada", Identity("cust-1", "Ada", queue="billing"))
    out = await pairing.request_call("c1", "customer")
    assert out.timings == []  # queued: no agent yet
    clock.tick(2)
    out = await agent(pairing, "a1")
    assert sent(out, Event.INCOMING_CALL)[0][1]["customerIdentity"] == {
        "sub": "cust-1", "name": "Ada", "verified": True, "queue": "billing"
    }  # fmt: skip
    assert out.timings == [Timing(TimingName.QUEUE_WAIT, 2.0)]
    clock.tick(1)
    assert (await pairing.accept("a1", "call1")).timings == [Timing(TimingName.ACCEPTED, 3.0)]
    clock.tick(1)
    assert (await pairing.connected("c1", "call1")).timings == [Timing(TimingName.CONNECTED, 4.0)]
    assert (await pairing.connected("a1", "call1")).timings == []  # the first report only
    clock.tick(10)
    out = await pairing.hangup("c1", "call1")
    assert Timing(TimingName.DURATION, 11.0) in out.timings


async def test_takeover_needs_the_same_identity(pairing: Pairing) -> None:
    alice = Identity("alice", "desk")
    await pairing.add_agent("old", "desk", 1, identity=alice)
    await customers(pairing, "c1")
    await pairing.request_call("c1", "customer")
    await pairing.accept("old", "call1")
    await pairing.add_agent("other", "desk", 1, replaces="old", identity=Identity("bob", "desk"))
    await pairing.add_agent("shared", "desk", 1, replaces="old")  # the shared token: no sub
    assert await pairing.route("c1", "old", None) == "call1"
    await pairing.add_agent("new", "desk", 1, replaces="old", identity=alice)
    assert await pairing.route("c1", "new", None) == "call1"

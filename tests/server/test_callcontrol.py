"""v1.1 over real Socket.IO: agent state, queue updates, hold / resume, transfer."""

from __future__ import annotations

from tests.server.client import Client
from tests.server.conftest import Clients


async def accepted_call(customer: Client, agent: Client) -> str:
    ack = await customer.call("call-request", {})
    assert ack["status"] == "ringing", ack
    await agent.expect("incoming-call")
    assert (await agent.call("call-accept", {"callId": ack["callId"]}))["ok"]
    await customer.expect("call-accepted")
    return str(ack["callId"])


async def test_state_and_queue_updates(clients: Clients) -> None:
    agent = await clients.agent("alice", queueUpdates=True)
    ack = await agent.call("agent-status", {"state": "away"})
    assert ack == {"ok": True, "available": False, "state": "away", "queue": 0}
    customer = await clients.customer()
    assert (await customer.call("call-request", {}))["status"] == "queued"
    assert await agent.expect("queue-update") == {"length": 1}
    await agent.call("agent-status", {"state": "wrap-up"})
    await agent.expect_nothing(0.3)
    assert (await agent.call("agent-status", {"state": "available"}))["queue"] == 0
    assert (await agent.expect("incoming-call"))["customerId"] == customer.sid
    assert await agent.expect("queue-update") == {"length": 0}
    contradiction = await agent.call("agent-status", {"state": "away", "available": True})
    assert contradiction["error"]["code"] == "invalid-payload"


async def test_hold_and_resume_are_relayed_to_the_customer(clients: Clients) -> None:
    agent = await clients.agent("alice")
    customer = await clients.customer()
    call_id = await accepted_call(customer, agent)
    assert await agent.call("call-hold", {"callId": call_id}) == {"ok": True, "callId": call_id}
    assert await customer.expect("call-hold") == {"callId": call_id}
    await agent.call("call-resume", {"callId": call_id})
    assert await customer.expect("call-resume") == {"callId": call_id}
    refusal = await customer.call("call-hold", {"callId": call_id})
    assert refusal["error"]["code"] == "forbidden"


async def test_transfer_rings_the_agent_then_ends_the_first_leg(clients: Clients) -> None:
    alice = await clients.agent("alice")
    customer = await clients.customer()
    call_id = await accepted_call(customer, alice)
    for to, code in (("nobody", "unknown-agent"), ("alice", "unknown-agent")):
        refusal = await alice.call("call-transfer", {"callId": call_id, "to": to})
        assert refusal["error"]["code"] == code, refusal
    bob = await clients.agent("bob")
    await bob.call("agent-status", {"state": "away"})
    refusal = await alice.call("call-transfer", {"callId": call_id, "to": "bob"})
    assert refusal["error"]["code"] == "agent-away"
    await bob.call("agent-status", {"state": "available"})
    ack = await alice.call("call-transfer", {"callId": call_id, "to": "bob"})
    assert ack == {"ok": True, "callId": call_id, "to": "bob", "agentId": bob.sid}
    incoming = await bob.expect("incoming-call")
    assert (incoming["callId"], incoming["transferFrom"]) == (call_id, "alice")
    assert await customer.expect("call-transferring") == {"callId": call_id}
    assert (await bob.call("call-accept", {"callId": call_id}))["ok"]
    assert await alice.expect("call-ended") == {"callId": call_id, "reason": "transferred"}
    accepted = await customer.expect("call-accepted")
    assert (accepted["agentId"], accepted["transferred"]) == (bob.sid, True)
    relayed = await customer.call("ice-candidate", {"candidate": None, "targetUserId": bob.sid})
    assert relayed == {"ok": True, "callId": call_id}
    refused = await customer.call("ice-candidate", {"candidate": None, "targetUserId": alice.sid})
    assert refused["error"]["code"] == "not-your-peer"


async def test_rejected_transfer_goes_on_with_the_first_agent(clients: Clients) -> None:
    alice = await clients.agent("alice")
    customer = await clients.customer()
    call_id = await accepted_call(customer, alice)
    bob = await clients.agent("bob")
    await alice.call("call-transfer", {"callId": call_id, "to": "bob"})
    await bob.expect("incoming-call")
    await customer.expect("call-transferring")
    assert (await bob.call("call-reject", {"callId": call_id}))["ok"]
    failed = {"callId": call_id, "reason": "rejected"}
    assert await alice.expect("call-transfer-failed") == failed
    assert await customer.expect("call-transfer-failed") == failed
    relayed = await alice.call("ice-candidate", {"candidate": None, "targetUserId": customer.sid})
    assert relayed["ok"] is True


async def test_transfer_to_the_queue_waits_for_the_next_agent(clients: Clients) -> None:
    alice = await clients.agent("alice")
    customer = await clients.customer()
    call_id = await accepted_call(customer, alice)
    bob = await clients.agent("bob")
    await bob.call("agent-status", {"state": "away"})
    ack = await alice.call("call-transfer", {"callId": call_id, "to": "queue"})
    assert ack == {"ok": True, "callId": call_id, "to": "queue"}
    assert await alice.expect("call-ended") == {"callId": call_id, "reason": "transferred"}
    assert await customer.expect("call-transferring") == {"callId": call_id}
    assert await customer.expect("call-queued") == {"callId": call_id, "position": 1}
    await alice.expect_nothing(0.3)  # not offered back to the agent who handed it on
    await bob.call("agent-status", {"state": "available"})
    assert (await bob.expect("incoming-call"))["callId"] == call_id
    assert (await bob.call("call-accept", {"callId": call_id}))["ok"]
    accepted = await customer.expect("call-accepted")
    assert (accepted["callId"], accepted["agentId"]) == (call_id, bob.sid)

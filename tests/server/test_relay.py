"""Relay of offer/answer/ice-candidate: both directions, stamped, only between call parties."""

from __future__ import annotations

import pytest

from tests.server.client import SDP, Client
from tests.server.conftest import Clients

CANDIDATE = {
    "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}


async def connected_call(clients: Clients, offerer: str = "customer") -> tuple[Client, Client, str]:
    """An agent and a customer in an accepted call: (agent, customer, call id)."""
    agent = await clients.agent()
    customer = await clients.customer()
    ack = await customer.call("call-request", {"offerer": offerer})
    await agent.expect("incoming-call")
    await agent.call("call-accept", {"callId": ack["callId"]})
    await customer.expect("call-accepted")
    return agent, customer, str(ack["callId"])


async def relay(sender: Client, receiver: Client, event: str, field: str, value: object) -> None:
    ack = await sender.call(event, {field: value, "targetUserId": receiver.sid})
    assert ack["ok"] is True, ack
    call_id = ack["callId"]
    assert await receiver.expect(event) == {field: value, "userId": sender.sid, "callId": call_id}


@pytest.mark.parametrize("offerer", ["customer", "agent"])
async def test_offer_from_either_side(clients: Clients, offerer: str) -> None:
    agent, customer, _ = await connected_call(clients, offerer)
    caller, callee = (customer, agent) if offerer == "customer" else (agent, customer)
    await relay(caller, callee, "offer", "offer", {"type": "offer", "sdp": SDP})
    await relay(callee, caller, "answer", "answer", {"type": "answer", "sdp": SDP})
    for sender, receiver in ((caller, callee), (callee, caller)):
        await relay(sender, receiver, "ice-candidate", "candidate", CANDIDATE)
        await relay(sender, receiver, "ice-candidate", "candidate", None)


async def test_call_id_may_be_given(clients: Clients) -> None:
    agent, customer, call_id = await connected_call(clients)
    message = {"candidate": CANDIDATE, "targetUserId": agent.sid, "callId": call_id}
    assert await customer.call("ice-candidate", message) == {"ok": True, "callId": call_id}
    assert (await agent.expect("ice-candidate"))["callId"] == call_id
    message["callId"] = "someone-elses-call"
    ack = await customer.call("ice-candidate", message)
    assert ack["error"]["code"] == "not-your-peer"


async def test_no_relay_before_accept(clients: Clients) -> None:
    agent = await clients.agent()
    customer = await clients.customer()
    await customer.call("call-request", {})
    await agent.expect("incoming-call")
    ack = await customer.call(
        "offer", {"offer": {"type": "offer", "sdp": SDP}, "targetUserId": agent.sid}
    )
    assert ack["error"]["code"] == "not-your-peer"
    await agent.expect_nothing(0.2)


async def test_spoof_attempts_are_refused(clients: Clients) -> None:
    agent, customer, _ = await connected_call(clients)
    other_agent, other_customer, _ = await connected_call(clients)
    stranger = await clients.customer("stranger")
    offer = {"type": "offer", "sdp": SDP}
    attempts = [
        (stranger, agent),  # a stranger to an agent in a call
        (stranger, customer),
        (customer, other_agent),  # to an agent in another call
        (agent, other_customer),
        (customer, customer),  # to yourself
        (agent, agent),
        (customer, stranger),
    ]
    for sender, target in attempts:
        ack = await sender.call("offer", {"offer": offer, "targetUserId": target.sid})
        assert ack["ok"] is False
        assert ack["error"]["code"] == "not-your-peer", ack
    ack = await customer.call("offer", {"offer": offer, "targetUserId": "no-such-sid"})
    assert ack["error"]["code"] == "not-your-peer"
    for client in (agent, customer, other_agent, other_customer, stranger):
        await client.expect_nothing(0.1)


async def test_one_senders_messages_arrive_in_order(clients: Clients) -> None:
    agent, customer, _ = await connected_call(clients)
    await customer.sio.emit("offer", {"offer": {"type": "offer", "sdp": SDP + "a=x\r\n" * 2000},
                                      "targetUserId": agent.sid})  # fmt: skip
    for index in range(30):
        candidate = CANDIDATE | {"sdpMLineIndex": index}
        await customer.sio.emit(
            "ice-candidate", {"candidate": candidate, "targetUserId": agent.sid}
        )
    await agent.expect("offer")
    received = [(await agent.expect("ice-candidate"))["candidate"] for _ in range(30)]
    assert [c["sdpMLineIndex"] for c in received] == list(range(30))

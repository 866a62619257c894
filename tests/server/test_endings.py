"""How calls end: hang-up by either party, disconnects, leaving the queue, a server restart."""

from __future__ import annotations

import pytest

from tests.procs import SignalingServer
from tests.server.conftest import Clients
from tests.server.test_relay import connected_call


@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_hangup_tells_the_other_party(clients: Clients, who: str) -> None:
    agent, customer, call_id = await connected_call(clients)
    hanging, other = (agent, customer) if who == "agent" else (customer, agent)
    assert await hanging.call("hangup", {"callId": call_id}) == {"ok": True, "callId": call_id}
    assert await other.expect("call-ended") == {"callId": call_id, "reason": "hangup"}
    await hanging.expect_nothing(0.2)
    again = await hanging.call("hangup", {"callId": call_id})
    assert again["error"]["code"] == "unknown-call"


async def test_hangup_frees_the_slot_for_the_queue(clients: Clients) -> None:
    agent, customer, call_id = await connected_call(clients)
    waiting = await clients.customer()
    assert (await waiting.call("call-request", {}))["status"] == "queued"
    await customer.call("hangup", {"callId": call_id})
    await agent.expect("call-ended")
    incoming = await agent.expect("incoming-call")
    assert incoming["customerId"] == waiting.sid


async def test_customer_cancels_while_ringing(clients: Clients) -> None:
    agent = await clients.agent()
    customer = await clients.customer()
    call_id = (await customer.call("call-request", {}))["callId"]
    await agent.expect("incoming-call")
    await customer.call("hangup", {"callId": call_id})
    assert await agent.expect("call-ended") == {"callId": call_id, "reason": "hangup"}


@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_disconnect_ends_the_call_at_once(clients: Clients, who: str) -> None:
    agent, customer, call_id = await connected_call(clients)
    leaving, other = (agent, customer) if who == "agent" else (customer, agent)
    await leaving.close()
    assert await other.expect("call-ended", within=5) == {
        "callId": call_id, "reason": "peer-disconnected"
    }  # fmt: skip


async def test_leaving_the_queue(clients: Clients) -> None:
    first = await clients.customer()
    second = await clients.customer()
    await first.call("call-request", {})
    ack = await second.call("call-request", {})
    assert ack["position"] == 2
    await first.close()
    assert await second.expect("call-queued") == {"callId": ack["callId"], "position": 1}


async def test_ringing_agent_disconnect_reoffers_the_call(clients: Clients) -> None:
    gone = await clients.agent("gone")
    stays = await clients.agent("stays")
    customer = await clients.customer()
    call_id = (await customer.call("call-request", {}))["callId"]
    await gone.expect("incoming-call")
    await gone.close()
    assert (await stays.expect("incoming-call"))["callId"] == call_id
    await customer.expect_nothing(0.2)


async def test_server_restart_forgets_calls(
    signaling_server: SignalingServer, clients: Clients
) -> None:
    agent, customer, _ = await connected_call(clients)
    signaling_server.stop()
    signaling_server.start()
    # the old connections are gone; new ones start from an empty server
    fresh_agent = await clients.agent()
    fresh_customer = await clients.customer()
    ack = await fresh_customer.call("call-request", {})
    assert ack["status"] == "ringing"
    assert (await fresh_agent.expect("incoming-call"))["callId"] == ack["callId"]
    for old in (agent, customer):
        await old.wait_disconnected()
        # a lone server ends no call when it stops: media already flowing goes on
        assert old.inbox.empty(), old.inbox.get_nowait()

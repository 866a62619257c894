"""Calls whose media never connects: `hangup {reason}`, `call-connected`, the connect deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.procs import SignalingServer
from tests.server.client import RefusedError
from tests.server.conftest import Clients
from tests.server.test_relay import connected_call

DEADLINE = 1.5


@pytest.fixture
def deadline_clients(
    server_factory: Callable[..., SignalingServer],
    clients_for: Callable[[SignalingServer], Clients],
) -> Clients:
    """Clients of a server whose connect deadline is `DEADLINE` seconds."""
    return clients_for(server_factory("--connect-timeout", str(DEADLINE)))


@pytest.mark.parametrize("reason", ["connect-timeout", "ice-failed", "dtls-failed",
                                    "media-timeout", "error"])  # fmt: skip
@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_hangup_reason_reaches_the_other_party(
    clients: Clients, who: str, reason: str
) -> None:
    agent, customer, call_id = await connected_call(clients)
    hanging, other = (agent, customer) if who == "agent" else (customer, agent)
    ack = await hanging.call("hangup", {"callId": call_id, "reason": reason})
    assert ack == {"ok": True, "callId": call_id}
    assert await other.expect("call-ended") == {"callId": call_id, "reason": reason}


@pytest.mark.parametrize("reason", ["hangup", "no-agent", "bored", 3, None])
async def test_hangup_reason_outside_the_list_is_refused(clients: Clients, reason: object) -> None:
    agent, customer, call_id = await connected_call(clients)
    payload = {"callId": call_id, "reason": reason}
    ack = await agent.call("hangup", payload)
    if reason is None:  # null is the same as no reason: a person hung up
        assert ack["ok"] is True
        assert await customer.expect("call-ended") == {"callId": call_id, "reason": "hangup"}
        return
    assert ack["error"]["code"] == "invalid-payload"
    assert ack["error"]["message"].startswith("reason:")
    await customer.expect_nothing(0.2)


async def test_unconnected_call_ends_at_the_deadline(deadline_clients: Clients) -> None:
    agent = await deadline_clients.agent(reportsConnected=True)
    customer = await deadline_clients.customer()
    waiting = await deadline_clients.customer()
    call_id = (await customer.call("call-request", {}))["callId"]
    await agent.expect("incoming-call")
    accepted = time.monotonic()
    await agent.call("call-accept", {"callId": call_id})
    await customer.expect("call-accepted")
    assert (await waiting.call("call-request", {}))["status"] == "queued"
    ended = {"callId": call_id, "reason": "connect-timeout"}
    assert await customer.expect("call-ended", within=DEADLINE + 3) == ended
    assert await agent.expect("call-ended", within=1) == ended
    assert DEADLINE - 0.1 <= time.monotonic() - accepted <= DEADLINE + 1.5
    incoming = await agent.expect("incoming-call", within=1)  # the slot freed at once
    assert incoming["customerId"] == waiting.sid


@pytest.mark.parametrize("who", ["agent", "customer"])
async def test_reported_connected_call_outlives_the_deadline(
    deadline_clients: Clients, who: str
) -> None:
    agent = await deadline_clients.agent(reportsConnected=True)
    customer = await deadline_clients.customer()
    call_id = (await customer.call("call-request", {}))["callId"]
    await agent.expect("incoming-call")
    await agent.call("call-accept", {"callId": call_id})
    await customer.expect("call-accepted")
    reporter = agent if who == "agent" else customer
    assert await reporter.call("call-connected", {"callId": call_id}) == {
        "ok": True, "callId": call_id
    }  # fmt: skip
    await customer.expect_nothing(DEADLINE + 0.5)
    await agent.expect_nothing(0.1)
    # still a call: relay works and hangup is plain
    assert (await customer.call("hangup", {"callId": call_id}))["ok"] is True


async def test_agents_that_do_not_report_get_no_deadline(deadline_clients: Clients) -> None:
    """Protocol v1 agents never send `call-connected`: their calls are never cut for it."""
    agent, customer, _ = await connected_call(deadline_clients)
    await customer.expect_nothing(DEADLINE + 0.5)
    await agent.expect_nothing(0.1)


async def test_call_connected_refusals(clients: Clients) -> None:
    agent = await clients.agent(reportsConnected=True)
    customer = await clients.customer()
    stranger = await clients.customer()
    call_id = (await customer.call("call-request", {}))["callId"]
    await agent.expect("incoming-call")
    ringing = await customer.call("call-connected", {"callId": call_id})
    assert ringing["error"]["code"] == "invalid-state"
    await agent.call("call-accept", {"callId": call_id})
    theirs = await stranger.call("call-connected", {"callId": call_id})
    assert theirs["error"]["code"] == "unknown-call"
    bad = await customer.call("call-connected", {})
    assert bad["error"]["code"] == "invalid-payload"


async def test_reports_connected_must_be_a_boolean(clients: Clients) -> None:
    with pytest.raises(RefusedError, match="reportsConnected"):
        await clients.agent(reportsConnected="yes")

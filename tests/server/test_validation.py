"""Bad input: every validation error, roles, rate limit, oversize messages, garbage floods."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import socketio

from signaling_server.protocol import MAX_MESSAGE_BYTES, MAX_SDP_BYTES, ErrorCode
from tests.conftest import ServerFactory
from tests.procs import SignalingServer
from tests.server.client import SDP, Client
from tests.server.conftest import Clients
from tests.server.test_relay import CANDIDATE, connected_call

OFFER = {"type": "offer", "sdp": SDP}
CODES = {str(code) for code in ErrorCode}


def refused(ack: Any, code: str, field: str | None = None) -> None:
    assert isinstance(ack, dict), ack
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == code, ack
    if field is not None:
        assert ack["error"]["message"].startswith((f"{field}:", f"{field} ")), ack


@pytest.mark.parametrize(
    ("event", "payload", "code", "field"),
    [
        ("call-request", [1], "invalid-payload", "payload"),
        ("call-request", "hello", "invalid-payload", "payload"),
        ("call-request", 42, "invalid-payload", "payload"),
        ("call-request", {"offerer": "robot"}, "invalid-payload", "offerer"),
        ("call-request", {"offerer": "customer", "junk": 1}, "invalid-payload", "junk"),
        ("hangup", {}, "invalid-payload", "callId"),
        ("hangup", {"callId": 5}, "invalid-payload", "callId"),
        ("hangup", {"callId": ""}, "invalid-payload", "callId"),
        ("hangup", {"callId": "x" * 129}, "payload-too-large", "callId"),
        ("offer", {"offer": OFFER}, "invalid-payload", "targetUserId"),
        ("offer", {"offer": OFFER, "targetUserId": 1}, "invalid-payload", "targetUserId"),
        ("offer", {"offer": "v=0", "targetUserId": "a"}, "invalid-payload", "offer"),
        (
            "offer",
            {"offer": {"type": "offer", "sdp": "hello"}, "targetUserId": "a"},
            "invalid-payload",
            "offer.sdp",
        ),
        (
            "offer",
            {"offer": {"type": "pranswer", "sdp": SDP}, "targetUserId": "a"},
            "invalid-payload",
            "offer.type",
        ),
        (
            "offer",
            {"offer": {"type": "offer", "sdp": SDP + "a" * MAX_SDP_BYTES}, "targetUserId": "a"},
            "payload-too-large",
            "offer.sdp",
        ),
        (
            "answer",
            {"answer": OFFER | {"x": 1}, "targetUserId": "a"},
            "invalid-payload",
            "answer.x",
        ),
        ("ice-candidate", {"targetUserId": "a"}, "invalid-payload", "candidate"),
        (
            "ice-candidate",
            {"candidate": {"candidate": "c" * 1025}, "targetUserId": "a"},
            "payload-too-large",
            "candidate.candidate",
        ),
        (
            "ice-candidate",
            {"candidate": CANDIDATE | {"sdpMLineIndex": "0"}, "targetUserId": "a"},
            "invalid-payload",
            "candidate.sdpMLineIndex",
        ),
    ],
)
async def test_customer_payload_errors_name_the_field(
    clients: Clients, event: str, payload: Any, code: str, field: str
) -> None:
    customer = await clients.customer()
    refused(await customer.call(event, payload), code, field)


@pytest.mark.parametrize(
    ("event", "payload", "field"),
    [
        ("agent-status", {"available": "yes"}, "available"),
        ("agent-status", {}, "available"),
        ("agent-status", None, "payload"),
        ("call-accept", {"callId": None}, "callId"),
        ("call-reject", [], "payload"),
    ],
)
async def test_agent_payload_errors_name_the_field(
    clients: Clients, event: str, payload: Any, field: str
) -> None:
    agent = await clients.agent()
    refused(await agent.call(event, payload), "invalid-payload", field)


async def test_more_than_one_argument(clients: Clients) -> None:
    customer = await clients.customer()
    refused(await customer.call("call-request", {}, {}), "invalid-payload")


async def test_wrong_role_is_forbidden(clients: Clients) -> None:
    agent = await clients.agent()
    customer = await clients.customer()
    refused(await agent.call("call-request", {}), "forbidden")
    refused(await customer.call("call-accept", {"callId": "x"}), "forbidden")
    refused(await customer.call("call-reject", {"callId": "x"}), "forbidden")
    refused(await customer.call("agent-status", {"available": True}), "forbidden")


async def test_unknown_calls_and_events(clients: Clients) -> None:
    agent = await clients.agent()
    refused(await agent.call("call-accept", {"callId": "nope"}), "unknown-call")
    refused(await agent.call("hangup", {"callId": "nope"}), "unknown-call")
    refused(await agent.call("make-coffee", {"sugar": 2}), "unknown-event")
    # reserved Socket.IO names emitted by a client are not connection events
    refused(await agent.call("connect", {"role": "agent"}), "unknown-event")
    refused(await agent.call("disconnect"), "unknown-event")
    assert (await agent.call("agent-status", {"available": True}))["ok"]


async def test_rate_limit(
    server_factory: ServerFactory, clients_for: Callable[[SignalingServer], Clients]
) -> None:
    clients = clients_for(server_factory("--rate", "2", "--burst", "5"))
    agent, customer, call_id = await connected_call(clients)
    flooder = await clients.customer("flooder")
    acks = await asyncio.gather(*(flooder.call("call-request", [1]) for _ in range(20)))
    codes = [ack["error"]["code"] for ack in acks]
    assert codes.count("rate-limited") >= 10
    assert codes.count("invalid-payload") >= 1
    assert "more than 2 events/s (burst 5)" in next(
        a["error"]["message"] for a in acks if a["error"]["code"] == "rate-limited"
    )
    # others are not affected
    ack = await customer.call("ice-candidate", {"candidate": None, "targetUserId": agent.sid})
    assert ack == {"ok": True, "callId": call_id}
    await asyncio.sleep(1.5)  # tokens come back
    refused(await flooder.call("call-request", [1]), "invalid-payload")


async def test_oversize_message_drops_only_its_connection(clients: Clients) -> None:
    agent, customer, call_id = await connected_call(clients)
    big = await clients.customer("big")
    sdp = "v=0\r\n" + "a" * MAX_MESSAGE_BYTES
    with pytest.raises(socketio.exceptions.TimeoutError):
        await big.sio.call("offer", {"offer": {"type": "offer", "sdp": sdp}, "targetUserId": "a"},
                           timeout=3)  # fmt: skip
    await big.wait_disconnected()
    ack = await agent.call("ice-candidate", {"candidate": None, "targetUserId": customer.sid})
    assert ack == {"ok": True, "callId": call_id}
    await customer.expect("ice-candidate")


async def test_garbage_then_a_normal_call(
    server_factory: ServerFactory, clients_for: Callable[[SignalingServer], Clients]
) -> None:
    server = server_factory("--rate", "100000", "--burst", "100000")
    clients = clients_for(server)
    agent, customer, call_id = await connected_call(clients)
    vandal = await clients.customer("vandal")
    vandal_agent = await clients.agent("vandal-agent")
    rng = random.Random(1234)
    events = [
        "call-request",
        "call-accept",
        "call-reject",
        "hangup",
        "agent-status",
        "offer",
        "answer",
        "ice-candidate",
        "connect",
        "disconnect",
        "",
        "x" * 300,
        "\u0000",
    ]
    values: list[Any] = [
        None,
        0,
        -1,
        2**70,
        1.5,
        True,
        "",
        "v=0",
        "x" * 2000,
        [],
        [None],
        {},
        {"callId": None},
        {"targetUserId": agent.sid},
        {"offer": {"type": "offer", "sdp": "v=0"}, "targetUserId": agent.sid},
        {"candidate": {"candidate": 1}, "targetUserId": customer.sid},
        {"callId": call_id},
        {"available": "maybe"},
        {"a": {"b": {"c": []}}},
    ]

    async def garbage(client: Client) -> None:
        for _ in range(500):
            event = rng.choice(events)
            args = [rng.choice(values) for _ in range(rng.choice([0, 1, 1, 1, 2]))]
            ack = await client.sio.call(event, tuple(args) if len(args) != 1 else args[0],
                                        timeout=10)  # fmt: skip
            # some garbage is valid by chance (an empty call-request): every answer is an ack
            assert isinstance(ack, dict), (event, args, ack)
            assert ack["ok"] is True or ack["error"]["code"] in CODES, (event, args, ack)

    await asyncio.gather(garbage(vandal), garbage(vandal_agent))
    # malformed Socket.IO packets straight on the Engine.IO transport: dropped, logged in a line
    nested = "421" + "[" * 5000 + "]" * 5000
    for raw in ['42["offer"', "42[]", "42[1,2]", '42{"a":1}', "4", "4x", '2["x"]', nested]:
        await vandal.sio.eio.send(raw)
    refused(await vandal.call("agent-status", {"available": True}), "forbidden")  # still served
    await vandal.close()
    await vandal_agent.close()
    # the call in progress is untouched and a new call works end to end
    ack = await customer.call("offer", {"offer": OFFER, "targetUserId": agent.sid})
    assert ack == {"ok": True, "callId": call_id}
    await agent.expect("offer")
    await customer.call("hangup", {"callId": call_id})
    await agent.expect("call-ended")
    newcomer = await clients.customer("newcomer")
    ack = await newcomer.call("call-request", {})
    incoming = await agent.expect("incoming-call")
    assert incoming["callId"] == ack["callId"]
    assert (await agent.call("call-accept", {"callId": ack["callId"]}))["ok"]
    await newcomer.expect("call-accepted")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/healthz") as response:
            assert (await response.json())["calls"] == 1
        async with http.get(f"{server.url}/metrics") as response:
            metrics = dict(line.rsplit(" ", 1) for line in (await response.text()).splitlines())
    assert float(metrics["signaling_malformed_packets_total"]) >= 5
    assert "malformed Socket.IO packet" in server.log()
    assert "Traceback" not in server.log()

"""Connection auth: roles, the agent token, loopback-only agents without a token."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import pytest

from tests.conftest import ServerFactory
from tests.procs import AGENT_TOKEN, SignalingServer
from tests.server.client import Client, RefusedError
from tests.server.conftest import Clients


def non_loopback_address() -> str:
    """An IPv4 address of this machine that is not loopback (the test needs one)."""
    candidates = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, suppress(OSError):
        probe.connect(("192.0.2.1", 9))  # no packet is sent; picks the outgoing address
        candidates.append(probe.getsockname()[0])
    with suppress(OSError):
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)]
    for address in candidates:
        ip = ipaddress.ip_address(address)
        if ip.version == 4 and not ip.is_loopback and not ip.is_unspecified:
            return str(ip)
    pytest.fail("this test needs a non-loopback IPv4 address on this machine; found none")


async def refusal(url: str, auth: Any) -> str:
    client = Client(url)
    with pytest.raises(RefusedError) as exc:
        await client.connect(auth)
    return exc.value.message


ROLE_HELP = "auth must be an object with role 'agent' or 'customer'"


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (None, ROLE_HELP),
        ("customer", ROLE_HELP),
        ({"name": "x"}, ROLE_HELP),
        ({"role": "admin"}, ROLE_HELP),
        ({"role": "agent", "token": "wrong"}, "invalid agent token"),
        ({"role": "agent"}, "invalid agent token"),
        ({"role": "agent", "token": AGENT_TOKEN, "maxCalls": 0}, "invalid auth: maxCalls"),
        ({"role": "agent", "token": AGENT_TOKEN, "maxCalls": "2"}, "invalid auth: maxCalls"),
        ({"role": "customer", "name": "n" * 65}, "invalid auth: name"),
        ({"role": "customer", "name": 7}, "invalid auth: name"),
        ({"role": "customer", "admin": True}, "invalid auth: admin"),
    ],
)
async def test_refused_with_a_clear_message(
    signaling_server: SignalingServer, auth: Any, message: str
) -> None:
    assert (await refusal(signaling_server.url, auth)).startswith(message)


async def test_accepted_roles(clients: Clients) -> None:
    agent = await clients.agent("bot", max_calls=3)
    customer = await clients.open({"role": "customer"})  # name optional, no token
    assert agent.sid != customer.sid


async def test_without_token_agents_only_from_loopback(
    server_factory: ServerFactory, clients_for: Callable[[SignalingServer], Clients]
) -> None:
    address = non_loopback_address()
    server = server_factory(agent_token="", host="0.0.0.0")
    assert "agents are accepted only from loopback" in server.log()
    clients = clients_for(server)
    await clients.open({"role": "agent"})  # 127.0.0.1
    remote_url = f"http://{address}:{server.port}"
    message = await refusal(remote_url, {"role": "agent", "name": "remote"})
    assert message == "agents are accepted only from loopback: the server has no agent token"
    customer = Client(remote_url)
    clients.opened.append(customer)
    await customer.connect({"role": "customer"})

"""ICE servers from the server: `/config` and each call's `incoming-call` / `call-accepted`.

Static servers (`--ice-server`) go out as RTCIceServer objects with the credentials apart;
with `--turn-secret` every page load and every call gets freshly minted TURN credentials.
Secrets never reach the log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from tests.conftest import ServerFactory
from tests.procs import SignalingServer
from tests.server.conftest import Clients
from tests.server.test_http import get

STATIC = ("--ice-server", "stun:10.0.0.1:3478", "--ice-server", "turn:alice:s3cret@10.0.0.2")
MINTED = ("--turn-secret", "t0psecret", "--turn-url", "turn:10.0.0.3:3478?transport=tcp",
          "--turn-ttl", "600")  # fmt: skip
STATIC_JSON = [
    {"urls": "stun:10.0.0.1:3478"},
    {"urls": "turn:10.0.0.2:3478", "username": "alice", "credential": "s3cret"},
]


def assert_minted(server: dict[str, Any], ident: str | None = None) -> None:
    """A TURN server with a valid `EXPIRY:ID` credential for secret t0psecret, TTL 600 s."""
    assert server["urls"] == "turn:10.0.0.3:3478?transport=tcp"
    expiry, _, got = server["username"].partition(":")
    assert abs(int(expiry) - (time.time() + 600)) < 30
    if ident is not None:
        assert got == ident
    digest = hmac.new(b"t0psecret", server["username"].encode(), hashlib.sha1).digest()
    assert server["credential"] == base64.b64encode(digest).decode()


def test_config_splits_out_credentials(server_factory: ServerFactory) -> None:
    server = server_factory(*STATIC)
    _, _, body = get(f"{server.url}/config")
    assert json.loads(body) == {"iceServers": STATIC_JSON}


def test_config_mints_per_page_load(server_factory: ServerFactory) -> None:
    server = server_factory(*STATIC, *MINTED)
    first = json.loads(get(f"{server.url}/config")[2])["iceServers"]
    second = json.loads(get(f"{server.url}/config")[2])["iceServers"]
    assert first[:2] == STATIC_JSON
    assert_minted(first[2])
    assert_minted(second[2])
    assert first[2]["username"] != second[2]["username"]


def test_log_shows_no_secret(server_factory: ServerFactory) -> None:
    server = server_factory(*STATIC, *MINTED)
    get(f"{server.url}/config")
    log = server.log()
    assert "turn:alice:***@10.0.0.2:3478" in log
    assert "minted for turn:10.0.0.3:3478?transport=tcp (TTL 600 s)" in log
    assert "s3cret" not in log
    assert "t0psecret" not in log


async def test_each_call_carries_fresh_ice_servers(
    server_factory: ServerFactory, clients_for: Callable[[SignalingServer], Clients]
) -> None:
    clients = clients_for(server_factory(*STATIC, *MINTED))
    agent = await clients.agent("alice", max_calls=2)
    calls = []
    for _ in range(2):
        customer = await clients.customer()
        call_id = (await customer.call("call-request", {}))["callId"]
        incoming = await agent.expect("incoming-call")
        assert (await agent.call("call-accept", {"callId": call_id}))["ok"]
        accepted = await customer.expect("call-accepted")
        for message in (incoming, accepted):
            assert message["iceServers"][:2] == STATIC_JSON
            assert_minted(message["iceServers"][2], ident=call_id)
        calls.append(incoming["iceServers"][2]["username"])
    assert calls[0] != calls[1]

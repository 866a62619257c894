"""Signed tokens (JWT) against the real server: customer and agent identities, refusals,
the shared agent token next to them, takeovers by identity, the `token` command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import ServerFactory
from tests.procs import AGENT_TOKEN, SignalingServer
from tests.server.client import SDP
from tests.server.conftest import Clients
from tests.server.test_auth import refusal

SECRET = "test-jwt-secret-0123456789abcdef-0123"
AUDIENCE = "voice-test"


TTL = 24 * 3600
"""Long: some tokens are made when the tests are collected, which may be long before they run."""


def token(role: str, sub: str, *, secret: str = SECRET, ttl: float = TTL, **claims: Any) -> str:
    """A token signed here with PyJWT, as the company's backend would sign it."""
    now = int(time.time())
    payload = {"sub": sub, "name": sub, "role": role, "aud": AUDIENCE, "iat": now,
               "exp": now + int(ttl)} | claims  # fmt: skip
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.fixture
def jwt_server(server_factory: ServerFactory) -> SignalingServer:
    """JWT on (HS256, audience), customer tokens optional, the shared agent token too."""
    return server_factory(
        "--jwt-secret", SECRET, "--jwt-audience", AUDIENCE, "--customer-auth", "optional"
    )


@pytest.fixture
def jwt_clients(jwt_server: SignalingServer, clients_for: Callable[..., Clients]) -> Clients:
    return clients_for(jwt_server)


async def test_verified_customer_identity_reaches_the_agent(jwt_clients: Clients) -> None:
    agent = await jwt_clients.open({"role": "agent", "token": token("agent", "alice"),
                                    "name": "not-alice"})  # fmt: skip
    ada = token("customer", "cust-42", name="Ada Lovelace", queue="billing", priority=2)
    # the name in auth is the client's claim; the token's wins
    customer = await jwt_clients.open({"role": "customer", "token": ada, "name": "Mallory"})
    call_id = (await customer.call("call-request", {}))["callId"]
    incoming = await agent.expect("incoming-call")
    assert incoming["customerName"] == "Ada Lovelace"
    assert incoming["customerIdentity"] == {
        "sub": "cust-42", "name": "Ada Lovelace", "verified": True, "queue": "billing",
        "priority": 2,
    }  # fmt: skip
    ack = await agent.call("call-accept", {"callId": call_id})
    assert ack["customerIdentity"]["sub"] == "cust-42"
    accepted = await customer.expect("call-accepted")
    assert accepted["agentName"] == "alice"  # the agent token's name, not "not-alice"


async def test_anonymous_customer_and_shared_agent_token(jwt_clients: Clients) -> None:
    agent = await jwt_clients.open({"role": "agent", "token": AGENT_TOKEN, "name": "desk"})
    customer = await jwt_clients.customer("walk-in")
    await customer.call("call-request", {})
    incoming = await agent.expect("incoming-call")
    assert incoming["customerIdentity"] == {"sub": None, "name": "walk-in", "verified": False}


def forged(genuine: str, **changes: Any) -> str:
    """`genuine` with its claims changed and its signature kept (a client editing a token)."""
    header, _, signature = genuine.split(".")
    claims = jwt.decode(genuine, options={"verify_signature": False}) | changes
    body = jwt.utils.base64url_encode(json.dumps(claims).encode())
    return f"{header}.{body.decode()}.{signature}"


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"token": token("customer", "c", ttl=-60)}, "invalid customer token: expired"),
        ({"token": token("customer", "c", secret="x" * 40)},
         "invalid customer token: bad signature"),
        ({"token": token("customer", "c", aud="other")}, "invalid customer token: wrong audience"),
        ({"token": token("agent", "alice")}, "invalid customer token: not a customer token"),
        ({"token": forged(token("customer", "ada"), sub="bob")},
         "invalid customer token: bad signature"),
        ({"token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}, "invalid customer token: algorithm"),
        ({"token": "not-a-jwt"}, "invalid customer token: malformed"),
        ({"token": token("customer", "ada"), "sub": "bob"}, "invalid auth: sub"),
    ],
    ids=["expired", "signature", "audience", "agent-token", "edited-sub", "alg-none", "garbage",
         "sub-in-auth"],
)  # fmt: skip
async def test_bad_customer_tokens_are_refused(
    jwt_server: SignalingServer, auth: dict[str, Any], message: str
) -> None:
    assert (await refusal(jwt_server.url, {"role": "customer"} | auth)).startswith(message)


@pytest.mark.parametrize(
    ("agent_token", "message"),
    [
        (token("customer", "c"), "invalid agent token: not an agent token"),
        (token("agent", "a", ttl=-60), "invalid agent token: expired"),
        (token("agent", "a", secret="y" * 40), "invalid agent token: bad signature"),
        (token("agent", "a", aud=None), "invalid agent token: missing claim 'aud'"),
        ("wrong-shared-token", "invalid agent token"),
    ],
    ids=["customer-token", "expired", "signature", "no-audience", "shared-wrong"],
)
async def test_bad_agent_tokens_are_refused(
    jwt_server: SignalingServer, agent_token: str, message: str
) -> None:
    got = await refusal(jwt_server.url, {"role": "agent", "token": agent_token})
    assert got == message


async def test_required_customer_tokens(
    server_factory: ServerFactory, clients_for: Callable[..., Clients]
) -> None:
    server = server_factory("--jwt-secret", SECRET, "--jwt-audience", AUDIENCE,
                            "--customer-auth", "required")  # fmt: skip
    assert await refusal(server.url, {"role": "customer"}) == "a customer token is required"
    await clients_for(server).open({"role": "customer", "token": token("customer", "ada")})
    assert "token sub 'ada'" in server.log()
    assert token("customer", "ada") not in server.log()  # never a token in the log


async def test_agent_token_caps_max_calls(jwt_clients: Clients) -> None:
    await jwt_clients.open({"role": "agent", "token": token("agent", "a", maxCalls=1),
                            "maxCalls": 5})  # fmt: skip
    first = await jwt_clients.customer("one")
    second = await jwt_clients.customer("two")
    assert (await first.call("call-request", {}))["status"] == "ringing"
    assert (await second.call("call-request", {}))["status"] == "queued"


async def _active_call(clients: Clients, agent_token: str) -> tuple[Any, Any, str]:
    agent = await clients.open({"role": "agent", "token": agent_token, "maxCalls": 2})
    customer = await clients.customer()
    call_id = (await customer.call("call-request", {}))["callId"]
    await agent.expect("incoming-call")
    await agent.call("call-accept", {"callId": call_id})
    await customer.expect("call-accepted")
    return agent, customer, call_id


async def test_takeover_needs_the_same_sub(jwt_clients: Clients) -> None:
    """A reconnecting agent takes over its old registration's calls only with the same sub."""
    alice, customer, call_id = await _active_call(jwt_clients, token("agent", "alice", name="desk"))
    mallory = await jwt_clients.open({"role": "agent", "name": "desk", "replaces": alice.sid,
                                      "token": token("agent", "mallory", name="desk")})  # fmt: skip
    offer = {"offer": {"type": "offer", "sdp": SDP}, "targetUserId": customer.sid}
    refused = await mallory.call("offer", offer)
    assert refused["error"]["code"] == "not-your-peer"
    again = await jwt_clients.open({"role": "agent", "replaces": alice.sid,
                                    "token": token("agent", "alice", name="desk")})  # fmt: skip
    assert (await again.call("offer", offer))["callId"] == call_id


def run_token_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signaling_server", "token", *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


async def test_token_command_mints_tokens_the_server_accepts(jwt_clients: Clients) -> None:
    minted = run_token_command("--agent", "bob", "--ttl", "8h", "--max-calls", "3",
                               "--jwt-secret", SECRET, "--jwt-audience", AUDIENCE)  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    agent_token = minted.stdout.strip()
    assert minted.stdout == agent_token + "\n"  # the token alone
    claims = jwt.decode(agent_token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["sub"] == "bob" and claims["role"] == "agent" and claims["maxCalls"] == 3
    assert 8 * 3600 - 5 <= claims["exp"] - time.time() <= 8 * 3600
    await jwt_clients.open({"role": "agent", "token": agent_token})
    customer = run_token_command("--customer", "c-1", "--name", "Ada", "--ttl", "15m",
                                 "--jwt-secret", SECRET, "--jwt-audience", AUDIENCE)  # fmt: skip
    await jwt_clients.open({"role": "customer", "token": customer.stdout.strip()})


def test_token_command_usage_errors() -> None:
    assert run_token_command("--agent", "a").returncode == 2  # no secret
    short = run_token_command("--agent", "a", "--jwt-secret", "short")
    assert short.returncode == 2 and "at least 32 bytes" in short.stderr
    bad_ttl = run_token_command("--agent", "a", "--ttl", "soon", "--jwt-secret", SECRET)
    assert bad_ttl.returncode == 2


async def test_es256_public_key(
    server_factory: ServerFactory, clients_for: Callable[..., Clients], tmp_path: Path
) -> None:
    """The issuer keeps the private key; the server gets only the public one."""
    private = ec.generate_private_key(ec.SECP256R1())
    private_pem, public_pem = tmp_path / "issuer.pem", tmp_path / "public.pem"
    private_pem.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    public_pem.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
    ))  # fmt: skip
    server = server_factory("--jwt-public-key", str(public_pem), "--jwt-issuer", "crm",
                            agent_token="")  # fmt: skip
    minted = run_token_command("--agent", "carol", "--jwt-private-key", str(private_pem),
                               "--jwt-issuer", "crm")  # fmt: skip
    assert minted.returncode == 0, minted.stderr
    assert jwt.get_unverified_header(minted.stdout.strip())["alg"] == "ES256"
    await clients_for(server).open({"role": "agent", "token": minted.stdout.strip()})
    # an HS256 token is refused: the server has no secret
    got = await refusal(server.url, {"role": "agent", "token": token("agent", "x", iss="crm")})
    assert got == "invalid agent token: algorithm HS256 is not accepted"
    # and without any agent token, agents need a signed one even from loopback
    assert await refusal(server.url, {"role": "agent"}) == "invalid agent token"

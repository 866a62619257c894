"""Connection auth: the Socket.IO `auth` object checked, its token verified, identity stamped.

A verified token's identity is what the server uses: its `name` wins over the one in `auth`,
and an agent token's `maxCalls` caps the one asked for. Refusals raise Socket.IO's
`ConnectionRefusedError` with the message the client sees (docs/protocol.md, "Connecting").
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

import socketio

from signaling_server.config import Settings
from signaling_server.identity import Identity
from signaling_server.protocol import AgentAuth, CustomerAuth, ProtocolError, Role, parse
from signaling_server.tokens import TokenError, looks_like_jwt, verify

log = logging.getLogger(__name__)

Refused = socketio.exceptions.ConnectionRefusedError


@dataclass(frozen=True)
class Admitted:
    """An accepted connection: who it is, as the server will show it."""

    role: Role
    name: str
    identity: Identity | None
    auth: AgentAuth | CustomerAuth

    @property
    def max_calls(self) -> int:
        assert isinstance(self.auth, AgentAuth)
        ceiling = self.identity.max_calls if self.identity is not None else None
        return self.auth.maxCalls if ceiling is None else min(self.auth.maxCalls, ceiling)


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class Authenticator:
    """Checks one connection's `auth` against the server's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = settings.token_keys

    def admit(self, environ: dict[str, Any], auth: Any) -> Admitted:
        role = auth.get("role") if isinstance(auth, dict) else None
        if role not in (Role.AGENT, Role.CUSTOMER):
            raise Refused("auth must be an object with role 'agent' or 'customer'")
        schema: type[AgentAuth | CustomerAuth] = AgentAuth if role == Role.AGENT else CustomerAuth
        try:
            parsed = parse(schema, auth)
        except ProtocolError as exc:
            raise Refused(f"invalid auth: {exc.message}") from None
        if isinstance(parsed, AgentAuth):
            identity = self._agent(environ, parsed)
        else:
            identity = self._customer(parsed)
        name = parsed.name if identity is None else identity.name
        return Admitted(Role(role), name, identity, parsed)

    def _agent(self, environ: dict[str, Any], auth: AgentAuth) -> Identity | None:
        """The agent's identity from its signed token; None for the shared token (or none)."""
        token, shared = auth.token, self.settings.agent_token
        if token is not None and self.keys.configured and looks_like_jwt(token):
            try:
                return verify(self.keys, token, Role.AGENT)
            except TokenError as exc:
                raise Refused(f"invalid agent token: {exc}") from None
        if shared is None and not self.keys.configured:
            request = environ.get("aiohttp.request")
            if not _is_loopback(request.remote if request is not None else None):
                raise Refused(
                    "agents are accepted only from loopback: the server has no agent token"
                )
            return None
        if (
            shared is None
            or token is None
            or not hmac.compare_digest(token.encode(), shared.encode())
        ):
            raise Refused("invalid agent token")
        return None

    def _customer(self, auth: CustomerAuth) -> Identity | None:
        mode = self.settings.customer_auth
        if mode == "off" or (auth.token is None and mode == "optional"):
            return None
        if auth.token is None:
            raise Refused("a customer token is required")
        try:
            return verify(self.keys, auth.token, Role.CUSTOMER)
        except TokenError as exc:
            raise Refused(f"invalid customer token: {exc}") from None

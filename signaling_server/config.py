"""Server settings, from the command line and `SIGNALING_*` environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from signaling_server.iceservers import IceServer
from signaling_server.stores.liveness import NODE_TTL
from signaling_server.tokens import TokenKeys
from signaling_server.turn import DEFAULT_TTL


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    # None: agents are accepted only from loopback addresses
    agent_token: str | None = None
    ring_timeout: float = 20.0
    # seconds from accept to a `call-connected` report before the server ends the call
    connect_timeout: float = 30.0
    # static STUN/TURN servers, handed out as they are (`--ice-server`)
    ice_servers: tuple[IceServer, ...] = field(default_factory=tuple)
    # with a secret: TURN credentials minted per page load and per call for these URLs
    turn_secret: str | None = field(default=None, repr=False)
    turn_urls: tuple[IceServer, ...] = field(default_factory=tuple)
    turn_ttl: float = DEFAULT_TTL
    rate: float = 50.0
    burst: float = 200.0
    log_level: str = "INFO"
    # Redis URL: pairing state in Redis, emits across nodes; None: in memory, one node
    redis_url: str | None = None
    # with Redis: seconds after which a node that stopped refreshing its heartbeat is dead
    node_ttl: float = NODE_TTL
    # web origins besides the server's own that may use it from a browser (the widget)
    allowed_origins: tuple[str, ...] = ()
    # what verifies signed tokens (JWT); unconfigured: no signed tokens
    token_keys: TokenKeys = field(default_factory=TokenKeys)
    # customers: a signed token is required, optional (verified when sent), or off (ignored)
    customer_auth: Literal["required", "optional", "off"] = "off"

"""`signaling-server`: run the signaling server (flags override `SIGNALING_*` variables)."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from aiohttp import web

from signaling_server.app import SignalingServer
from signaling_server.config import Settings
from signaling_server.iceservers import IceServer, parse_ice_url
from signaling_server.origins import parse_origin
from signaling_server.stores.liveness import NODE_TTL, detection_bound
from signaling_server.token_cli import add_key_flags, token_keys
from signaling_server.token_cli import main as token_main
from signaling_server.turn import DEFAULT_TTL, TurnMinter

log = logging.getLogger(__name__)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
T = TypeVar("T")


def positive_number(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def port_number(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(text)
    return value


def ice_url(text: str) -> IceServer:
    """`--ice-server`: a STUN URL, or a TURN URL with its credentials."""
    try:
        return parse_ice_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def turn_url(text: str) -> IceServer:
    """`--turn-url`: a TURN URL without credentials (they are minted)."""
    try:
        server = parse_ice_url(text, credentials=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not server.is_turn:
        raise argparse.ArgumentTypeError(f"{text!r} is not a turn: or turns: URL")
    return server


def origin_url(text: str) -> str:
    """`--allowed-origin`: scheme://host[:port], normalised."""
    try:
        return parse_origin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _env_urls(
    parser: argparse.ArgumentParser, name: str, convert: Callable[[str], T]
) -> tuple[T, ...]:
    """Comma-separated URLs from environment variable `name`; a bad one is a usage error."""
    urls = [url.strip() for url in os.environ.get(name, "").split(",")]
    try:
        return tuple(convert(url) for url in urls if url)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"invalid value for {name}: {exc}")


def _env(parser: argparse.ArgumentParser, name: str, convert: Callable[[str], T], default: T) -> T:
    """The value of environment variable `name`, or `default`; a bad value is a usage error."""
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return convert(text)
    except ValueError:
        parser.error(f"invalid value for {name}: {text!r}")


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="signaling-server",
        description="Pairs customers with agents and relays WebRTC signaling (Socket.IO).",
    )
    add = parser.add_argument
    add(
        "--host",
        default=_env(parser, "SIGNALING_HOST", str, "127.0.0.1"),
        help="address to listen on (env SIGNALING_HOST; default %(default)s)",
    )
    add(
        "--port",
        type=port_number,
        default=_env(parser, "SIGNALING_PORT", port_number, 8080),
        help="TCP port (env SIGNALING_PORT; default %(default)s)",
    )
    add(
        "--agent-token",
        default=_env(parser, "SIGNALING_AGENT_TOKEN", str, None),
        help="token agents must present (env SIGNALING_AGENT_TOKEN); "
        "without one, agents are accepted only from loopback",
    )
    add(
        "--ring-timeout",
        type=positive_number,
        default=_env(parser, "SIGNALING_RING_TIMEOUT", positive_number, 20.0),
        help="seconds an agent has to accept a call (env SIGNALING_RING_TIMEOUT; "
        "default %(default)s)",
    )
    add(
        "--connect-timeout",
        type=positive_number,
        default=_env(parser, "SIGNALING_CONNECT_TIMEOUT", positive_number, 30.0),
        help="seconds from accept until an agent that reports connected media must have "
        "done so, or the server ends the call (env SIGNALING_CONNECT_TIMEOUT; "
        "default %(default)s)",
    )
    add(
        "--ice-server",
        action="append",
        dest="ice_servers",
        type=ice_url,
        metavar="URL",
        help="STUN/TURN server handed to browsers (GET /config) and to both parties of each "
        "call: stun:HOST[:PORT] or turn:USER:PASSWORD@HOST[:PORT][?transport=udp|tcp], "
        "repeatable (env SIGNALING_ICE_SERVERS, comma-separated; default none)",
    )
    add(
        "--turn-secret",
        default=_env(parser, "SIGNALING_TURN_SECRET", str, None),
        metavar="SECRET",
        help="coturn's static-auth-secret: mint short-lived credentials for each --turn-url "
        "(env SIGNALING_TURN_SECRET)",
    )
    add(
        "--turn-url",
        action="append",
        dest="turn_urls",
        type=turn_url,
        metavar="URL",
        help="with --turn-secret: turn:HOST[:PORT][?transport=udp|tcp], no credentials, "
        "repeatable (env SIGNALING_TURN_URLS, comma-separated)",
    )
    add(
        "--turn-ttl",
        type=positive_number,
        metavar="SECONDS",
        default=_env(parser, "SIGNALING_TURN_TTL", positive_number, DEFAULT_TTL),
        help="seconds a minted TURN credential is valid (env SIGNALING_TURN_TTL; "
        "default %(default)s)",
    )
    add(
        "--rate",
        type=positive_number,
        default=_env(parser, "SIGNALING_RATE", positive_number, 50.0),
        help="events per second per connection (env SIGNALING_RATE; default %(default)s)",
    )
    add(
        "--burst",
        type=positive_number,
        default=_env(parser, "SIGNALING_BURST", positive_number, 200.0),
        help="burst of events per connection (env SIGNALING_BURST; default %(default)s)",
    )
    add(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=_env(parser, "SIGNALING_LOG_LEVEL", str.upper, "INFO"),
        help="log level (env SIGNALING_LOG_LEVEL; default %(default)s)",
    )
    add(
        "--redis",
        dest="redis_url",
        metavar="URL",
        default=_env(parser, "SIGNALING_REDIS_URL", str, None),
        help="keep the pairing state in Redis and emit across server nodes, WebSocket "
        "transport only (env SIGNALING_REDIS_URL; default: in memory, one node)",
    )
    add(
        "--node-ttl",
        type=positive_number,
        metavar="SECONDS",
        default=_env(parser, "SIGNALING_NODE_TTL", positive_number, NODE_TTL),
        help="with --redis: a node whose heartbeat is this old is dead and another node "
        "ends its clients' calls (env SIGNALING_NODE_TTL; default %(default)s)",
    )
    add(
        "--allowed-origin",
        action="append",
        dest="allowed_origins",
        type=origin_url,
        metavar="URL",
        help="a web origin (https://app.example.com) whose pages may use the server besides "
        "its own: Socket.IO and the widget's routes, repeatable (env "
        "SIGNALING_ALLOWED_ORIGINS, comma-separated; default: same origin only)",
    )
    add(
        "--customer-auth",
        choices=("required", "optional", "off"),
        default=_env(parser, "SIGNALING_CUSTOMER_AUTH", str, "off"),
        help="customers' signed tokens: required, optional (verified when sent) or off "
        "(ignored; anonymous customers) (env SIGNALING_CUSTOMER_AUTH; default %(default)s)",
    )
    add_key_flags(parser, private=False)
    if argv is None:
        argv = sys.argv[1:]
    args = parser.parse_args(argv)
    if args.burst < 1:
        parser.error("--burst must be at least 1")
    ice_servers = args.ice_servers or _env_urls(parser, "SIGNALING_ICE_SERVERS", ice_url)
    turn_urls = args.turn_urls or _env_urls(parser, "SIGNALING_TURN_URLS", turn_url)
    if turn_urls and not args.turn_secret:
        parser.error("--turn-url needs --turn-secret (the credentials are minted with it)")
    if args.turn_secret and not turn_urls:
        parser.error("--turn-secret needs at least one --turn-url")
    origins = args.allowed_origins or _env_urls(parser, "SIGNALING_ALLOWED_ORIGINS", origin_url)
    keys = token_keys(parser, args, private=False)
    if args.customer_auth not in ("required", "optional", "off"):
        parser.error(f"invalid value for SIGNALING_CUSTOMER_AUTH: {args.customer_auth!r}")
    if args.customer_auth != "off" and not keys.configured:
        parser.error("--customer-auth needs --jwt-secret or --jwt-public-key to verify tokens")
    return Settings(
        host=args.host,
        port=args.port,
        agent_token=args.agent_token or None,
        ring_timeout=args.ring_timeout,
        connect_timeout=args.connect_timeout,
        ice_servers=tuple(ice_servers),
        turn_secret=args.turn_secret or None,
        turn_urls=tuple(turn_urls),
        turn_ttl=args.turn_ttl,
        rate=args.rate,
        burst=args.burst,
        log_level=args.log_level,
        redis_url=args.redis_url or None,
        node_ttl=args.node_ttl,
        allowed_origins=tuple(origins),
        token_keys=keys,
        customer_auth=args.customer_auth,
    )


GC_THRESHOLDS = (50_000, 20, 100)
"""Python's cyclic collector runs its young generation every 50,000 allocations instead of
700, and a full pass far more rarely. With 1,000 clients, the default's full passes over every
socket's objects stalled the event loop: relay p99 at 1 msg/s per client fell from 25–31 ms
to 1.1 ms, and relayed msg per CPU-s rose 21 % (`./run bench signaling`, see
docs/performance.md)."""


def tune_gc() -> None:
    """Collect what start-up left, keep the survivors out of later passes, raise thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["token"]:
        sys.exit(token_main(argv[1:]))
    settings = parse_args(argv)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    server = SignalingServer(settings)
    tune_gc()
    keys = settings.token_keys
    if settings.agent_token is None and not keys.configured:
        log.warning("no agent token configured: agents are accepted only from loopback addresses")
    log.info(
        "signed tokens %s; customer tokens %s; allowed origins: %s",
        keys.describe() if keys.configured else "not configured",
        settings.customer_auth,
        ", ".join(settings.allowed_origins) or "same origin only",
    )
    log.info(
        "listening on http://%s:%d (ring timeout %gs, rate %g/s burst %g, ICE servers %s, "
        "TURN credentials %s, state %s)",
        settings.host,
        settings.port,
        settings.ring_timeout,
        settings.rate,
        settings.burst,
        [server.redacted() for server in settings.ice_servers] or "none",
        TurnMinter(settings.turn_secret, settings.turn_urls, settings.turn_ttl).describe()
        if settings.turn_secret
        else "not minted",
        (
            f"in Redis at {settings.redis_url}, node TTL {settings.node_ttl:g}s: a crashed node "
            f"is cleaned up within {detection_bound(settings.node_ttl):.3g}s"
        )
        if settings.redis_url
        else "in memory",
    )
    try:
        web.run_app(
            server.app(),
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            # open Socket.IO connections never finish by themselves: close them after 1 s
            shutdown_timeout=1.0,
        )
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", settings.host, settings.port, exc)
        sys.exit(1)

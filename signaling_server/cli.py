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
from signaling_server.stores.liveness import NODE_TTL, detection_bound

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
        "--ice-server",
        action="append",
        dest="ice_servers",
        metavar="URL",
        help="ICE server URL handed to browsers by GET /config, repeatable "
        "(env SIGNALING_ICE_SERVERS, comma-separated; default none)",
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
    args = parser.parse_args(argv)
    if args.burst < 1:
        parser.error("--burst must be at least 1")
    ice_servers = args.ice_servers
    if ice_servers is None:
        env = os.environ.get("SIGNALING_ICE_SERVERS", "")
        ice_servers = [url.strip() for url in env.split(",") if url.strip()]
    return Settings(
        host=args.host,
        port=args.port,
        agent_token=args.agent_token or None,
        ring_timeout=args.ring_timeout,
        ice_servers=tuple(ice_servers),
        rate=args.rate,
        burst=args.burst,
        log_level=args.log_level,
        redis_url=args.redis_url or None,
        node_ttl=args.node_ttl,
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
    settings = parse_args(argv)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    server = SignalingServer(settings)
    tune_gc()
    if settings.agent_token is None:
        log.warning("no agent token configured: agents are accepted only from loopback addresses")
    log.info(
        "listening on http://%s:%d (ring timeout %gs, rate %g/s burst %g, ICE servers %s, "
        "state %s)",
        settings.host,
        settings.port,
        settings.ring_timeout,
        settings.rate,
        settings.burst,
        list(settings.ice_servers) or "none",
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

"""ICE servers for aiortc, and ICE gathering that is bounded and says why TURN failed.

aioice waits up to 5 s for server-reflexive and relayed candidates
(`Connection.get_component_candidates(timeout=5)`), and aiortc gathers inside
`setLocalDescription` (it does not trickle local candidates), so one unreachable STUN server
would delay every call's setup by 5 s on each side. `bound_gathering()` lowers that default for
this process. aioice also drops a failed TURN allocation (401, no answer) without a word;
`log_turn_failures()` (installed by `bound_gathering()`) logs each one. Both patch aioice, so
they check the version they were written against and leave any other alone, with a warning.

ICE servers come from `--ice-server` or, without it, from the server with each call
(`iceServers` in `incoming-call` / `call-accepted`): `per_call_options`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import aioice
import aioice.ice
from aioice.ice import Connection
from aiortc import RTCIceServer

from agent_bot.patches import checked
from signaling_server.iceservers import IceServer, ice_servers_from_json

if TYPE_CHECKING:
    from agent_bot.calloptions import CallOptions

logger = logging.getLogger(__name__)

GATHER_TIMEOUT = 1
"""Seconds to wait for candidates from STUN/TURN servers."""
PATCHED_AIOICE = ("0.13.",)


def bound_gathering(timeout: int = GATHER_TIMEOUT) -> bool:
    """Make aioice wait at most `timeout` seconds for STUN/TURN; False if the version is unknown."""
    if not checked(
        "aioice",
        aioice.__version__,
        PATCHED_AIOICE,
        "ICE gathering keeps its own timeout (an unreachable STUN server may delay calls by 5 s)",
    ):
        return False
    Connection.get_component_candidates.__defaults__ = (timeout,)
    log_turn_failures()
    return True


def log_turn_failures() -> bool:
    """Log every failed TURN allocation with the server (redacted) and its error; idempotent."""
    original = aioice.ice.relayed_candidate
    if getattr(original, "logs_failures", False):
        return True
    if not checked(
        "aioice", aioice.__version__, PATCHED_AIOICE, "TURN allocation failures are not logged"
    ):
        return False

    async def relayed_candidate(**kwargs: Any) -> Any:
        try:
            return await original(**kwargs)
        except asyncio.CancelledError:
            (timeout,) = Connection.get_component_candidates.__defaults__ or (None,)
            logger.warning("TURN %s: no allocation within %s s", _turn_url(kwargs), timeout)
            raise
        except Exception as exc:
            logger.warning("TURN %s: allocation failed: %s", _turn_url(kwargs), _error(exc))
            raise

    relayed_candidate.logs_failures = True  # type: ignore[attr-defined]
    aioice.ice.relayed_candidate = relayed_candidate
    return True


def _turn_url(kwargs: dict[str, Any]) -> str:
    """The TURN server aioice was given, as logs may show it."""
    host, port = kwargs["turn_server"]
    scheme = "turns" if kwargs.get("turn_ssl") else "turn"
    url = f"{scheme}:{host}:{port}?transport={kwargs.get('turn_transport', 'udp')}"
    username = kwargs.get("turn_username")
    return IceServer(url, username, "-" if username else None).redacted()


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def rtc_ice_servers(servers: list[IceServer]) -> list[RTCIceServer]:
    """aiortc's form of parsed ICE servers (aiortc uses the first STUN and first TURN one)."""
    return [RTCIceServer(s.url, username=s.username, credential=s.credential) for s in servers]


def per_call_options(options: CallOptions, call_id: str, offered: Any) -> CallOptions:
    """`options` with the ICE servers the server sent for this call, unless the bot has its own.

    `offered` is the message's `iceServers` (absent from v1 servers); a malformed list is
    logged and ignored.
    """
    if options.ice_servers or not offered:
        return options
    try:
        servers = ice_servers_from_json(offered)
    except ValueError as exc:
        logger.warning("call=%s iceServers from the server ignored: %s", call_id, exc)
        return options
    logger.info(
        "call=%s ICE servers from the server: %s",
        call_id,
        ", ".join(server.redacted() for server in servers),
    )
    return dataclasses.replace(options, ice_servers=rtc_ice_servers(servers))

"""DTLS with peers whose certificate is RSA, and telling a DTLS failure from an ICE failure.

aiortc 1.16 sets one cipher list for both DTLS roles: `ECDHE-ECDSA-*` only. As DTLS server
(the bot offered) that is no limit, since the bot's own certificate is ECDSA. As DTLS client
(the bot answered an offer with `a=setup:active`) it offers nothing a peer with an RSA
certificate can pick: GStreamer's webrtcbin (always RSA 2048), Chromium with an RSA
`generateCertificate`, many gateways and media servers answer `no shared cipher`.
`allow_rsa_peers()` makes every DTLS context offer the ECDHE-RSA twin of each suite as well,
the ECDHE suites Chromium itself offers, in its order (no static-RSA key exchange). It patches
a private method (`RTCCertificate._create_ssl_context`), so it checks the aiortc version it was
written against and leaves any other version alone, with a warning.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

import aiortc
from aiortc import RTCCertificate, RTCPeerConnection

from agent_bot import candidates
from agent_bot.patches import checked

logger = logging.getLogger(__name__)

PATCHED_AIORTC = ("1.16.",)
"""aiortc versions whose `RTCCertificate._create_ssl_context` the patch was checked against."""

CIPHERS = b":".join(
    (
        b"ECDHE-ECDSA-AES128-GCM-SHA256",  # the one RFC 8827 makes mandatory
        b"ECDHE-RSA-AES128-GCM-SHA256",
        b"ECDHE-ECDSA-CHACHA20-POLY1305",
        b"ECDHE-RSA-CHACHA20-POLY1305",
        b"ECDHE-ECDSA-AES128-SHA",
        b"ECDHE-RSA-AES128-SHA",
        b"ECDHE-ECDSA-AES256-SHA",
        b"ECDHE-RSA-AES256-SHA",
    )
)
"""aiortc's four ECDSA suites, each followed by its RSA twin (Chromium's ECDHE suites)."""

_ORIGINAL: Callable[..., Any] = RTCCertificate._create_ssl_context


def _create_ssl_context(self: RTCCertificate, *args: Any, **kwargs: Any) -> Any:
    """aiortc's DTLS context, offering `CIPHERS`."""
    context = _ORIGINAL(self, *args, **kwargs)
    context.set_cipher_list(CIPHERS)
    return context


def allow_rsa_peers() -> bool:
    """Make DTLS offer ECDHE-RSA suites too, once per process; False if the version is unknown."""
    if RTCCertificate._create_ssl_context is _create_ssl_context:
        return True
    if not checked(
        "aiortc",
        aiortc.__version__,
        PATCHED_AIORTC,
        "DTLS keeps aiortc's cipher list (peers with an RSA certificate fail when they offer)",
    ):
        return False
    RTCCertificate._create_ssl_context = _create_ssl_context  # type: ignore[method-assign]
    logger.debug("DTLS offers ECDHE-RSA suites too")
    return True


def dtls_failure(states: Iterable[tuple[str, str]]) -> bool:
    """True when, of (ICE state, DTLS state) pairs, a DTLS transport failed over working ICE."""
    return any(dtls == "failed" and ice != "failed" for ice, dtls in states)


def dtls_role(local_sdp: str, remote_sdp: str) -> str:
    """This side's DTLS role ("client", "server" or "unknown") from the `a=setup` attributes."""

    def setup(sdp: str) -> str:
        found = re.search(r"^a=setup:(\w+)", sdp, re.MULTILINE)
        return found.group(1) if found else ""

    local, remote = setup(local_sdp), setup(remote_sdp)
    if local == "active" or (local == "actpass" and remote == "passive"):
        return "client"
    if local == "passive" or (local == "actpass" and remote == "active"):
        return "server"
    return "unknown"


def dtls_failed(pc: RTCPeerConnection, call_id: str) -> bool:
    """Whether the failed connection `pc` failed in DTLS (else in ICE); logs which."""
    transports = {t.sender.transport for t in pc.getTransceivers() if t.sender.transport}
    states = [(t.transport.state, t.state) for t in transports]
    shown = " ".join(f"ice={ice} dtls={dtls}" for ice, dtls in states)
    if not dtls_failure(states):
        logger.warning("call=%s ICE failed (%s): %s", call_id, shown, candidates.tried(pc))
        return False
    local, remote = pc.localDescription, pc.remoteDescription
    role = dtls_role(local.sdp, remote.sdp) if local and remote else "unknown"
    logger.warning(
        "call=%s DTLS handshake failed although ICE connected (%s, bot is DTLS %s)",
        call_id,
        shown,
        role,
    )
    return True

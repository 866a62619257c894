"""ICE candidates: relayed ones parsed for aiortc, and what a call's ICE agent tried."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiortc import RTCIceCandidate, RTCPeerConnection
from aiortc.sdp import candidate_from_sdp


def parse_candidate(data: dict[str, Any] | None) -> RTCIceCandidate | None:
    """A relayed `RTCIceCandidateInit` as aiortc's candidate; None means end of candidates.

    Raises ValueError for candidates to ignore: unparsable ones, and mDNS (`.local`) hosts,
    which aioice cannot resolve quickly; the peer-reflexive candidate found during the
    connectivity checks connects the call anyway.
    """
    if data is None or not data.get("candidate"):
        return None
    text = str(data["candidate"]).removeprefix("a=").removeprefix("candidate:")
    try:
        candidate = candidate_from_sdp(text)
    except (AssertionError, ValueError, IndexError):
        raise ValueError(f"unparsable candidate {text[:80]!r}") from None
    if candidate.ip.endswith(".local"):
        raise ValueError(f"mDNS candidate {candidate.ip}")
    candidate.sdpMid = data.get("sdpMid")
    candidate.sdpMLineIndex = data.get("sdpMLineIndex")
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0
    return candidate


def describe(candidate: RTCIceCandidate) -> str:
    """`relay udp 192.0.2.1:3478`: a candidate in a log line."""
    return f"{candidate.type} {candidate.protocol} {candidate.ip}:{candidate.port}"


def tried(pc: RTCPeerConnection) -> str:
    """What the call's ICE agent had to work with: local and remote candidates, check states.

    Reads aioice's check list (a private attribute of aiortc 1.16 / aioice 0.13); where it is
    not there, only the candidates are told.
    """
    parts = []
    for transceiver in pc.getTransceivers():
        ice = transceiver.sender.transport.transport
        local = ice.iceGatherer.getLocalCandidates()
        remote = ice.getRemoteCandidates()
        checks = Counter(
            str(getattr(pair.state, "name", pair.state)).lower()
            for pair in getattr(ice._connection, "_check_list", [])
        )
        check_text = ", ".join(f"{n} {state}" for state, n in sorted(checks.items())) or "none"
        parts.append(
            f"ICE {ice.state}; local [{'; '.join(map(describe, local)) or 'none'}]; "
            f"remote [{'; '.join(map(describe, remote)) or 'none'}]; checks: {check_text}"
        )
    return " | ".join(parts) or "no offer/answer exchanged: nothing to connect"

"""DTLS: the cipher patch (`allow_rsa_peers`) and telling DTLS failures from ICE failures."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiortc import RTCCertificate, RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack
from aiortc.rtcdtlstransport import SRTP_PROFILES, generate_certificate
from cryptography.hazmat.primitives.asymmetric import rsa
from OpenSSL import SSL

from agent_bot import dtls
from agent_bot.dtls import allow_rsa_peers, dtls_failure, dtls_role


def offered_ciphers() -> list[str]:
    context = RTCCertificate.generateCertificate()._create_ssl_context(SRTP_PROFILES)
    names: list[str] = SSL.Connection(context).get_cipher_list()
    return [name for name in names if not name.startswith("TLS_")]  # TLS 1.3: not in DTLS 1.2


def test_dtls_offers_ecdhe_rsa_after_ecdsa() -> None:
    assert allow_rsa_peers()
    assert allow_rsa_peers()  # idempotent
    names = offered_ciphers()
    assert names[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    assert "ECDHE-RSA-AES128-GCM-SHA256" in names
    assert all(name.startswith("ECDHE-") for name in names)  # no static-RSA key exchange


def test_an_unknown_aiortc_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(RTCCertificate, "_create_ssl_context", dtls._ORIGINAL)
    monkeypatch.setattr(dtls.aiortc, "__version__", "1.17.0")
    with caplog.at_level(logging.WARNING, logger="agent_bot.dtls"):
        assert not allow_rsa_peers()
    assert RTCCertificate._create_ssl_context is dtls._ORIGINAL
    assert "ECDHE-RSA-AES128-GCM-SHA256" not in offered_ciphers()
    assert "aiortc 1.17.0 is not one" in caplog.text


async def test_aiortc_completes_dtls_with_an_rsa_certificate_peer() -> None:
    """A real handshake in process: the offerer (DTLS server) holds an RSA 2048 certificate."""
    allow_rsa_peers()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_peer, bot = RTCPeerConnection(), RTCPeerConnection()
    rsa_peer._RTCPeerConnection__certificates = [  # type: ignore[attr-defined]
        RTCCertificate(key=key, cert=generate_certificate(key))  # type: ignore[arg-type]
    ]
    try:
        for pc in (rsa_peer, bot):
            pc.addTrack(AudioStreamTrack())
        await rsa_peer.setLocalDescription(await rsa_peer.createOffer())
        await bot.setRemoteDescription(rsa_peer.localDescription)
        await bot.setLocalDescription(await bot.createAnswer())
        assert dtls_role(bot.localDescription.sdp, rsa_peer.localDescription.sdp) == "client"
        await rsa_peer.setRemoteDescription(bot.localDescription)
        for _ in range(100):
            if {rsa_peer.connectionState, bot.connectionState} <= {"connected", "failed"}:
                break
            await asyncio.sleep(0.05)
        assert (rsa_peer.connectionState, bot.connectionState) == ("connected", "connected")
    finally:
        await rsa_peer.close()
        await bot.close()


@pytest.mark.parametrize(
    ("states", "in_dtls"),
    [
        ([("completed", "failed")], True),
        ([("failed", "new")], False),
        ([("failed", "failed")], False),
        ([("completed", "connected"), ("completed", "failed")], True),
        ([], False),
    ],
)
def test_a_failure_is_dtls_only_over_working_ice(
    states: list[tuple[str, str]], in_dtls: bool
) -> None:
    assert dtls_failure(states) is in_dtls


@pytest.mark.parametrize(
    ("local", "remote", "role"),
    [
        ("active", "actpass", "client"),
        ("passive", "actpass", "server"),
        ("actpass", "active", "server"),
        ("actpass", "passive", "client"),
        ("", "", "unknown"),
    ],
)
def test_dtls_role_from_setup(local: str, remote: str, role: str) -> None:
    def sdp(setup: str) -> str:
        return f"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=setup:{setup}\r\n" if setup else "v=0"

    assert dtls_role(sdp(local), sdp(remote)) == role

"""A receiver without a decoder skips aiortc's jitter buffer (`skip_jitter_buffer`)."""

from __future__ import annotations

import logging

import aiortc
import pytest
from aiortc import RTCPeerConnection
from aiortc.rtp import RtpPacket

from agent_bot.leanreceive import NoJitterBuffer, skip_jitter_buffer


async def test_a_stopped_receivers_packets_no_longer_fill_its_jitter_buffer() -> None:
    pc = RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
    receiver = pc.addTransceiver("audio").receiver
    assert skip_jitter_buffer(receiver)
    buffer = receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]
    assert isinstance(buffer, NoJitterBuffer)
    assert buffer.add(RtpPacket(payload_type=111, sequence_number=1)) == (False, None)
    await pc.close()


async def test_an_aiortc_not_checked_keeps_its_jitter_buffer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pc = RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
    receiver = pc.addTransceiver("audio").receiver
    original = receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]
    monkeypatch.setattr(aiortc, "__version__", "9.0.0")
    with caplog.at_level(logging.WARNING):
        assert not skip_jitter_buffer(receiver)
    assert receiver._RTCRtpReceiver__jitter_buffer is original  # type: ignore[attr-defined]
    assert "not one this bot was checked against" in caplog.text
    await pc.close()

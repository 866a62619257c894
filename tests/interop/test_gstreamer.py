"""GStreamer's webrtcbin (RSA DTLS certificate) as a customer calling a real `agent-bot answer`.

webrtcbin says one sample, the bot plays another; each side must receive the other's words,
judged in 1-s windows, whichever side offers. When webrtcbin offers, the bot is the DTLS
client and must offer an ECDHE-RSA suite (`agent_bot/dtls.py`).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.bots import SAMPLES, Bots, recordings
from tests.browser.similarity import assert_heard, read_wav, window_correlations
from tests.interop.gst import GstCustomer, looped_wav

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "interop"
CUSTOMER_SAMPLE = SAMPLES / "hello-48k.wav"
AGENT_SAMPLE = SAMPLES / "weather-48k.wav"
CALL_SECONDS = 9.0


@pytest.mark.parametrize("offerer", ["customer", "agent"])
async def test_webrtcbin_speech_crosses_both_ways(
    gstreamer: None, bots: Bots, tmp_path: Path, offerer: str
) -> None:
    record = tmp_path / "recordings"
    bot = await asyncio.to_thread(
        bots.answer, "--play", str(AGENT_SAMPLE), "--loop", "--record", str(record), name="Alice"
    )
    heard_by_gst = tmp_path / "gst-received.wav"
    customer = GstCustomer(
        bots.url,
        offerer,
        looped_wav(CUSTOMER_SAMPLE, tmp_path / "gst-sends.wav", times=3),
        heard_by_gst,
        tmp_path / "gst.log",
    )
    try:
        await customer.call()
        await customer.wait_connected()
        await asyncio.sleep(CALL_SECONDS)
        await customer.hang_up()
    finally:
        await customer.close()
    await asyncio.to_thread(bot.wait_log, "ended reason=hangup")
    assert customer.peer is not None
    assert customer.peer.first("error") is None, customer.peer.transcript()
    assert f"offerer={offerer}" in bot.text()

    [recording] = recordings(record)
    at_bot, _sent_by_bot = read_wav(recording)
    to_bot = window_correlations(at_bot, read_wav(CUSTOMER_SAMPLE)[0])
    to_gst = window_correlations(read_wav(heard_by_gst)[0], read_wav(AGENT_SAMPLE)[0])
    crossed = window_correlations(at_bot, read_wav(AGENT_SAMPLE)[0])
    marks = customer.marks
    figures = {
        "offerer": offerer,
        "request_to_connected_ms": 1000 * (marks["connected"] - marks["request"]),
        "offer_to_connected_ms": customer.offer_to_connected_ms(),
        "webrtcbin_to_bot": to_bot,
        "bot_to_webrtcbin": to_gst,
        "crossed": crossed,
    }
    folder = ARTIFACTS / f"webrtcbin-{offerer}-offers"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert_heard(to_bot, figures)
    assert_heard(to_gst, figures)
    assert float(np.median(crossed)) < 0.6, figures


async def test_a_dtls_failure_is_reported_as_dtls_failed(
    gstreamer: None, bots: Bots, tmp_path: Path
) -> None:
    """ICE connects, then the bot finds webrtcbin's certificate does not match the offer."""
    bot = await asyncio.to_thread(bots.answer, "--silence", name="Alice")

    def wrong_fingerprint(sdp: str) -> str:  # its first byte inverted
        def flip(found: re.Match[str]) -> str:
            return f"{found.group(1)}{int(found.group(2), 16) ^ 0xFF:02X}"

        return re.sub(r"(a=fingerprint:\S+ )([0-9A-Fa-f]{2})", flip, sdp)

    customer = GstCustomer(
        bots.url,
        "customer",
        CUSTOMER_SAMPLE,
        tmp_path / "gst-received.wav",
        tmp_path / "gst.log",
        edit_sdp=wrong_fingerprint,
    )
    try:
        await customer.call()
        await asyncio.to_thread(bot.wait_log, "ended reason=dtls-failed", 15)
        # the bot told the server why: the customer hears it
        assert await asyncio.wait_for(customer.ended, 5) == "dtls-failed"
    finally:
        await customer.close()
    [cause] = bot.wait_log("DTLS handshake failed although ICE connected")
    assert "ice=completed dtls=failed" in cause, cause
    assert "bot is DTLS client" in cause, cause
    assert "ended reason=ice-failed" not in bot.text()

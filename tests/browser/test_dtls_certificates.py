"""Chromium with an RSA (and, for contrast, an ECDSA) DTLS certificate calls a real bot.

The page is left as it is: an init script replaces `RTCPeerConnection` with a subclass that
adds a certificate made by `RTCPeerConnection.generateCertificate(KEY)` to the page's
configuration. When the page offers, the bot is the DTLS client and must offer a suite the
page's key can sign: ECDHE-RSA for an RSA key (`agent_bot/dtls.py`); when the bot offers, it
is the DTLS server and its own ECDSA key decides.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from playwright.async_api import Browser

from tests.bots import Bots, recordings
from tests.browser.conftest import AGENT_SAMPLE, SPEECH_SAMPLE, LaunchChromium
from tests.browser.customer import CustomerPage
from tests.browser.similarity import assert_heard, read_wav, window_correlations

pytestmark = pytest.mark.browser

KEYS: dict[str, dict[str, Any]] = {
    "rsa": {
        "name": "RSASSA-PKCS1-v1_5",
        "modulusLength": 2048,
        "publicExponent": [1, 0, 1],
        "hash": "SHA-256",
    },
    "ecdsa": {"name": "ECDSA", "namedCurve": "P-256"},  # what Chromium uses by default
}
"""`generateCertificate` parameters (`publicExponent` becomes a Uint8Array)."""

PEER_CONNECTION_WITH = """
((key) => {
  const Native = window.RTCPeerConnection;
  if (key.publicExponent) key.publicExponent = new Uint8Array(key.publicExponent);
  window.testConnections = [];
  window.testCertificate = null;
  Native.generateCertificate(key).then((made) => { window.testCertificate = made; });
  window.RTCPeerConnection = class extends Native {
    constructor(config = {}) {
      if (!window.testCertificate) throw new Error("the test certificate is not ready");
      super({ ...config, certificates: [window.testCertificate] });
      window.testConnections.push(this);
    }
  };
})(KEY);
"""

DTLS_STATS = """
async () => {
  const stats = await window.testConnections[0].getStats();
  for (const s of stats.values()) {
    if (s.type !== "transport") continue;
    const certificate = stats.get(s.localCertificateId);
    return { dtlsCipher: s.dtlsCipher, dtlsRole: s.dtlsRole,
             certificate: certificate ? certificate.base64Certificate : null };
  }
  return null;
}
"""
CALL_SECONDS = 8.0


async def open_page(browser: Browser, url: str, key: str, **query: str) -> CustomerPage:
    """The customer page whose peer connections carry a `key` certificate, once it is made."""
    page = await browser.new_page()
    await page.add_init_script(PEER_CONNECTION_WITH.replace("KEY", json.dumps(KEYS[key])))
    customer = CustomerPage(page)
    await page.goto(f"{url}/?{urlencode(query)}")
    await page.wait_for_function("window.testCertificate !== null")
    return customer


def key_type(base64_der: str) -> str:
    public_key = x509.load_der_x509_certificate(base64.b64decode(base64_der)).public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa"
    return "ecdsa" if isinstance(public_key, ec.EllipticCurvePublicKey) else str(public_key)


@pytest.mark.parametrize(
    "key_offerer", ["rsa-customer", "rsa-agent", "ecdsa-customer", "ecdsa-agent"]
)
async def test_speech_crosses_both_ways_whatever_the_page_certificate(
    launch_chromium: LaunchChromium, bots: Bots, tmp_path: Path, artifacts: Path, key_offerer: str
) -> None:
    key, offerer = key_offerer.split("-")
    record = tmp_path / "recordings"
    bot = await asyncio.to_thread(
        bots.answer, "--play", str(AGENT_SAMPLE), "--loop", "--record", str(record), name="Alice"
    )
    customer = await open_page(
        await launch_chromium(), bots.url, key, raw="1", record="1", offerer=offerer
    )
    await customer.call()
    await customer.wait_state("connected")
    await customer.wait_received(CALL_SECONDS)
    dtls: dict[str, Any] = await customer.page.evaluate(DTLS_STATS)
    received = await customer.received()
    timings = await customer.test_hook("timings")
    await customer.hang_up()
    await customer.wait_state("ended")
    await asyncio.to_thread(bot.wait_log, "ended reason=hangup")

    [recording] = recordings(record)
    to_bot = window_correlations(read_wav(recording)[0], read_wav(SPEECH_SAMPLE)[0])
    to_page = window_correlations(received, read_wav(AGENT_SAMPLE)[0])
    figures = {
        "key": key,
        "offerer": offerer,
        "dtls_cipher": dtls["dtlsCipher"],
        "page_dtls_role": dtls["dtlsRole"],
        "offer_to_connected_ms": timings["connected"]
        - timings["offerSent" if offerer == "customer" else "offerReceived"],
        "browser_to_bot": to_bot,
        "bot_to_browser": to_page,
    }
    (artifacts / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert key_type(dtls["certificate"]) == key, figures
    # The DTLS server's key signs the key exchange: the page's when it offered.
    signer = key if offerer == "customer" else "ecdsa"
    assert dtls["dtlsCipher"].startswith(f"TLS_ECDHE_{signer.upper()}_"), figures
    assert dtls["dtlsRole"] == ("server" if offerer == "customer" else "client"), figures
    assert_heard(to_bot, figures)
    assert_heard(to_page, figures)

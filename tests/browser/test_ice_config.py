"""The page guards building its RTCPeerConnection: a refused ICE configuration ends the call.

Chromium throws `InvalidAccessError` from `new RTCPeerConnection` for a TURN server without
`username`/`credential` (what v1 `/config` used to hand out). Here the constructor is made to
throw exactly that, whatever the configuration: the page must say why, hang up through the
server (the bot hears `call-ended hangup`) and be ready to call again.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from tests.bots import Bots
from tests.browser.conftest import LaunchChromium
from tests.browser.customer import CustomerPage

pytestmark = pytest.mark.browser

REFUSING_PEER_CONNECTION = """
window.RTCPeerConnection = class {
  constructor() {
    throw new DOMException(
      "Both username and credential are required when the URL scheme is \\"turn\\" or \\"turns\\".",
      "InvalidAccessError");
  }
};
"""


async def test_refused_peer_connection_ends_the_call_at_once(
    launch_chromium: LaunchChromium, bots: Bots
) -> None:
    bot = await asyncio.to_thread(bots.answer, "--silence", name="Alice")
    browser = await launch_chromium()
    context = await browser.new_context()
    await context.add_init_script(REFUSING_PEER_CONNECTION)
    page = await context.new_page()
    customer = CustomerPage(page)
    await page.goto(f"{bots.url}/")
    await customer.call()
    await customer.wait_state("ended", timeout_ms=5000)
    await expect(customer.status).to_have_text("Call ended: the call could not go on.")
    await expect(customer.alert).to_contain_text("refused the call service's network settings")
    await expect(customer.alert).to_contain_text("InvalidAccessError")
    # the page told the server why it gave up (`hangup {reason: "error"}`); the bot hears it
    await asyncio.to_thread(bot.wait_log, "ended reason=error", 10)
    await expect(page.get_by_role("button", name="Call an agent")).to_be_enabled()

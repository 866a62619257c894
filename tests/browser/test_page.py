"""The customer page in Chromium against the real server, the agent played by a Socket.IO client.

These tests need no media peer: they check what the page signals and what it shows.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import LaunchChromium
from tests.browser.customer import CustomerPage
from tests.procs import SignalingServer
from tests.server.client import Client

pytestmark = pytest.mark.browser


def health(server: SignalingServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as response:
        data: dict[str, Any] = json.load(response)
    return data


async def agent(server: SignalingServer, name: str = "Alice") -> Client:
    auth = {"role": "agent", "token": server.agent_token, "name": name}
    return await Client(server.url).connect(auth)


async def answered_call(
    launch_chromium: LaunchChromium, server: SignalingServer, **query: str
) -> tuple[Client, CustomerPage, str]:
    """Agent Alice and a customer page whose call she accepted; returns the call id too."""
    alice = await agent(server)
    customer = await CustomerPage.open(await launch_chromium(), server.url, **query)
    await customer.call()
    incoming = await alice.expect("incoming-call")
    await alice.call("call-accept", {"callId": incoming["callId"]})
    return alice, customer, str(incoming["callId"])


async def test_controls_are_labelled_and_work_from_the_keyboard(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    customer = await CustomerPage.open(await launch_chromium(), signaling_server.url)
    page = customer.page
    await expect(page.get_by_role("button", name="Hang up")).to_be_disabled()
    await expect(page.get_by_role("button", name="Mute microphone")).to_be_disabled()
    await expect(page.get_by_role("combobox", name="Microphone")).to_be_enabled()
    await expect(page.get_by_role("meter", name="Your microphone level")).to_be_visible()
    await expect(page.get_by_role("meter", name="Agent's voice level")).to_be_visible()
    await expect(customer.status).to_have_attribute("aria-live", "polite")

    # No agent is connected: Tab to the Call button, Enter, and the call waits in the queue.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Call an agent")).to_be_focused()
    await page.keyboard.press("Enter")
    await customer.wait_state("queued")
    await expect(customer.status).to_contain_text("number 1 in the queue")
    assert health(signaling_server)["queue"] == 1

    # Focus moved to Hang up; Enter leaves the queue.
    await expect(page.get_by_role("button", name="Hang up")).to_be_focused()
    await page.keyboard.press("Enter")
    await customer.wait_state("ended")
    await expect(customer.status).to_have_text("Call ended: you hung up.")
    await expect(page.get_by_role("button", name="Call an agent")).to_be_focused()
    assert health(signaling_server)["queue"] == 0


async def test_queue_position_follows_the_queue(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    browser = await launch_chromium()
    first = await CustomerPage.open(browser, signaling_server.url)
    second = await CustomerPage.open(browser, signaling_server.url)
    await first.call()
    await first.wait_state("queued")
    await second.call()
    await second.wait_state("queued")
    await expect(second.status).to_contain_text("number 2 in the queue")
    await first.hang_up()
    await expect(second.status).to_contain_text("number 1 in the queue")


async def test_offer_and_trickled_candidates_reach_the_agent(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    alice = await agent(signaling_server)
    customer = await CustomerPage.open(await launch_chromium(), signaling_server.url, name="Bob")
    await customer.call()
    incoming = await alice.expect("incoming-call")
    assert incoming["customerName"] == "Bob"
    assert incoming["offerer"] == "customer"
    accepted = await alice.call("call-accept", {"callId": incoming["callId"]})
    assert accepted["ok"] is True

    offer = await alice.expect("offer")
    assert offer["callId"] == incoming["callId"]
    assert offer["offer"]["type"] == "offer"
    assert "m=audio" in offer["offer"]["sdp"]
    candidates = []
    while (candidate := (await alice.expect("ice-candidate"))["candidate"]) is not None:
        candidates.append(candidate)
    assert candidates, "the page sent end-of-candidates without any candidate"
    assert all(c["candidate"].startswith("candidate:") for c in candidates)
    await customer.wait_state("media")
    await expect(customer.status).to_contain_text("Alice answered")
    await alice.close()


async def test_microphone_picker_lists_devices_and_switches_mid_call(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    alice, customer, _call_id = await answered_call(launch_chromium, signaling_server)
    await customer.wait_state("media")
    picker = customer.page.get_by_role("combobox", name="Microphone")
    # Chromium's fake capture devices, listed by name once the microphone was granted.
    await expect(picker.get_by_role("option")).to_have_text(
        ["Default microphone", "Fake Audio Input 1", "Fake Audio Input 2"]
    )
    assert await customer.test_hook("microphone") == "Fake Default Audio Input"
    await picker.select_option(label="Fake Audio Input 2")
    await customer.page.wait_for_function(
        "window.voiceTest.microphone === 'Fake Audio Input 2'", timeout=10_000
    )
    await expect(
        customer.page.get_by_role("meter", name="Your microphone level")
    ).not_to_have_attribute("value", "0")
    assert await customer.test_hook("message") == ""
    assert await customer.state() == "media"
    await alice.close()


async def test_audio_that_never_connects_ends_the_call(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    # The agent accepts but never answers the offer: the page gives up and hangs up.
    alice, customer, call_id = await answered_call(
        launch_chromium, signaling_server, connect_timeout="2"
    )
    await customer.wait_state("ended")
    await expect(customer.alert).to_have_text(
        "The audio connection to the agent failed. Please try again."
    )
    await expect(customer.status).to_have_text(
        "Call ended: the audio connection could not be set up in time."
    )
    events = []
    while (event := await asyncio.wait_for(alice.inbox.get(), 10))[0] != "call-ended":
        events.append(event[0])
    # the page told the server why it gave up; the agent hears that reason
    assert event[1] == {"callId": call_id, "reason": "connect-timeout"}
    assert "offer" in events
    await alice.close()


async def test_agent_hang_up_is_shown(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    alice, customer, call_id = await answered_call(launch_chromium, signaling_server)
    await customer.wait_state("media")
    assert (await alice.call("hangup", {"callId": call_id}))["ok"] is True
    await customer.wait_state("ended")
    await expect(customer.status).to_have_text("Call ended: the agent hung up.")
    await expect(customer.page.get_by_role("button", name="Call an agent")).to_be_enabled()
    await alice.close()


async def test_no_agent_available_is_shown(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    # The only agent declines: the server ends the call with reason no-agent.
    alice = await agent(signaling_server)
    customer = await CustomerPage.open(await launch_chromium(), signaling_server.url)
    await customer.call()
    incoming = await alice.expect("incoming-call")
    await alice.call("call-reject", {"callId": incoming["callId"]})
    await customer.wait_state("ended")
    await expect(customer.alert).to_have_text(
        "No agent is available right now. Please try again later."
    )
    assert await customer.test_hook("reason") == "no-agent"
    await alice.close()


async def test_denied_microphone_is_explained(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    browser = await launch_chromium(grant_microphone=False)
    customer = await CustomerPage.open(browser, signaling_server.url)
    await customer.call()
    await expect(customer.alert).to_contain_text("Microphone access was denied")
    await customer.wait_state("idle")
    await expect(customer.page.get_by_role("button", name="Call an agent")).to_be_enabled()
    assert health(signaling_server)["customers"] == 0, "no call may start without a microphone"


async def test_missing_microphone_is_explained(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    # No fake capture device, and this machine has no sound card.
    customer = await CustomerPage.open(await launch_chromium(mic=None), signaling_server.url)
    await customer.call()
    await expect(customer.alert).to_contain_text("No microphone was found")
    await customer.wait_state("idle")


async def test_unreachable_server_is_explained(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    customer = await CustomerPage.open(await launch_chromium(), signaling_server.url)
    signaling_server.stop()
    await customer.call()
    await expect(customer.alert).to_contain_text("Could not reach the call service")
    await customer.wait_state("idle")
    await expect(customer.page.get_by_role("button", name="Call an agent")).to_be_enabled()


BLOCKED_WEBSOCKET = """
window.WebSocket = class extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.readyState = 3;
    setTimeout(() => {
      this.onerror?.(new Event("error"));
      this.onclose?.(new CloseEvent("close", { code: 1006 }));
    }, 0);
  }
  send() {}
  close() {}
};
"""


async def test_blocked_signaling_connection_is_explained(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    customer = await CustomerPage.open(await launch_chromium(), signaling_server.url)
    # The page and /config load, but every WebSocket fails as a blocking proxy makes it fail.
    await customer.page.add_init_script(BLOCKED_WEBSOCKET)
    await customer.page.reload()
    await customer.call()
    await expect(customer.alert).to_have_text(
        "Could not reach the call service. Check your network connection and try again.",
        timeout=20_000,
    )
    await customer.wait_state("ended")
    await expect(customer.page.get_by_role("button", name="Call an agent")).to_be_enabled()


async def test_lost_signaling_mid_call_is_explained(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer
) -> None:
    alice, customer, _call_id = await answered_call(launch_chromium, signaling_server)
    await customer.wait_state("media")
    signaling_server.kill()
    await customer.wait_state("ended")
    await expect(customer.alert).to_have_text("The connection to the call service was lost.")
    await expect(customer.status).to_have_text(
        "Call ended: the connection to the call service was lost."
    )
    await alice.close()

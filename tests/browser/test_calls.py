"""Chromium calls a real `agent-bot answer` through the real signaling server over loopback.

The browser's fake microphone says one sample (`SPEECH_SAMPLE`), the bot plays another
(`AGENT_SAMPLE`): each side must receive the other's words, judged in 1-s windows.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import expect

from tests.bots import Bot, Bots, recordings
from tests.browser.conftest import AGENT_SAMPLE, SPEECH_SAMPLE, LaunchChromium
from tests.browser.customer import CustomerPage
from tests.browser.similarity import read_wav, window_correlations
from tests.procs import SignalingServer

pytestmark = [pytest.mark.browser, pytest.mark.solo]  # speech figures: 0.9 median correlation

CALL_SECONDS = 8.0
"""Audio each call carries before it is judged: 8 one-second windows."""
MIN_CORRELATION = 0.9
MIN_WINDOWS = 5


async def start_bot(bots: Bots, *args: str) -> Bot:
    """`agent-bot answer --play AGENT_SAMPLE --loop ARGS` as Alice, once registered."""
    return await asyncio.to_thread(
        bots.answer, "--play", str(AGENT_SAMPLE), "--loop", *args, name="Alice"
    )


async def connected_call(launch_chromium: LaunchChromium, url: str, **query: str) -> CustomerPage:
    customer = await CustomerPage.open(await launch_chromium(), url, raw="1", record="1", **query)
    await customer.call()
    await customer.wait_state("connected")
    await expect(customer.status).to_have_text("Connected to Alice.")
    return customer


def median(scores: list[float]) -> float:
    return float(np.median(scores)) if scores else 0.0


@pytest.mark.parametrize("offerer", ["customer", "agent"])
async def test_speech_crosses_both_ways(
    launch_chromium: LaunchChromium,
    bots: Bots,
    tmp_path: Path,
    artifacts: Path,
    offerer: str,
) -> None:
    record = tmp_path / "recordings"
    bot = await start_bot(bots, "--record", str(record))
    customer = await connected_call(launch_chromium, bots.url, offerer=offerer)
    await customer.wait_received(CALL_SECONDS)
    await customer.screenshot(artifacts / "connected.png")
    # Both meters move while the call runs (speech has pauses: wait for a non-zero reading).
    for meter in ("Your microphone level", "Agent's voice level"):
        await expect(customer.page.get_by_role("meter", name=meter)).not_to_have_attribute(
            "value", "0"
        )
    received = await customer.received()
    timings = await customer.test_hook("timings")
    receive_stats = await customer.receive_stats()

    await customer.hang_up()
    await customer.wait_state("ended")
    await expect(customer.status).to_have_text("Call ended: you hung up.")
    await asyncio.to_thread(bot.wait_log, "ended reason=hangup")
    assert f"offerer={offerer}" in bot.text()

    [recording] = recordings(record)
    at_bot, sent_by_bot = read_wav(recording)
    speech = read_wav(SPEECH_SAMPLE)[0]
    agent_speech = read_wav(AGENT_SAMPLE)[0]
    to_bot = window_correlations(at_bot, speech)
    to_page = window_correlations(received, agent_speech)
    # The same measure on the wrong pairing stays low: it tells the two directions apart.
    crossed = window_correlations(at_bot, agent_speech)
    figures = {
        "offerer": offerer,
        "offer_to_connected_ms": timings["connected"]
        - timings["offerSent" if offerer == "customer" else "offerReceived"],
        "browser_to_bot": to_bot,
        "bot_to_browser": to_page,
        "crossed": crossed,
        "page_receive_stats": receive_stats,
    }
    (artifacts / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert len(to_bot) >= MIN_WINDOWS, figures
    assert median(to_bot) >= MIN_CORRELATION, figures
    assert len(to_page) >= MIN_WINDOWS, figures
    assert median(to_page) >= MIN_CORRELATION, figures
    assert median(crossed) < 0.6, figures
    assert median(window_correlations(sent_by_bot, agent_speech)) >= MIN_CORRELATION


async def test_an_echo_bot_sends_the_browsers_own_packets_back(
    launch_chromium: LaunchChromium, bots: Bots, tmp_path: Path
) -> None:
    """Chromium's Opus goes back to Chromium as it came (`--echo` forwards packets)."""
    record = tmp_path / "recordings"
    bot = await asyncio.to_thread(bots.answer, "--echo", "--record", str(record), name="Alice")
    customer = await connected_call(launch_chromium, bots.url)
    await customer.wait_received(CALL_SECONDS)
    received = await customer.received()
    await customer.hang_up()
    await asyncio.to_thread(bot.wait_log, "ended reason=hangup")
    speech = read_wav(SPEECH_SAMPLE)[0]
    [recording] = recordings(record)
    at_bot, sent_by_bot = read_wav(recording)
    back = window_correlations(received, speech)
    assert len(back) >= MIN_WINDOWS, back
    assert median(back) >= MIN_CORRELATION, back
    assert median(window_correlations(sent_by_bot, speech)) >= MIN_CORRELATION
    assert median(window_correlations(at_bot, speech)) >= MIN_CORRELATION


async def test_queued_call_is_answered_when_a_bot_starts(
    launch_chromium: LaunchChromium, bots: Bots
) -> None:
    customer = await CustomerPage.open(await launch_chromium(), bots.url, raw="1", record="1")
    await customer.call()
    await customer.wait_state("queued")
    await expect(customer.status).to_contain_text("number 1 in the queue")
    await start_bot(bots)
    await customer.wait_state("connected")
    await customer.wait_received(6.0)
    heard = window_correlations(await customer.received(), read_wav(AGENT_SAMPLE)[0])
    assert len(heard) >= 4, heard
    assert median(heard) >= MIN_CORRELATION, heard


async def test_bot_hang_up_is_shown(launch_chromium: LaunchChromium, bots: Bots) -> None:
    bot = await start_bot(bots)
    customer = await connected_call(launch_chromium, bots.url)
    bot.signal(signal.SIGTERM)
    await customer.wait_state("ended")
    await expect(customer.status).to_have_text("Call ended: the agent hung up.")
    assert await asyncio.to_thread(bot.wait) == 0


async def test_killed_bot_ends_the_call(launch_chromium: LaunchChromium, bots: Bots) -> None:
    bot = await start_bot(bots)
    customer = await connected_call(launch_chromium, bots.url)
    bot.signal(signal.SIGKILL)
    await customer.wait_state("ended")
    await expect(customer.status).to_have_text("Call ended: the agent was disconnected.")
    await expect(customer.page.get_by_role("button", name="Call an agent")).to_be_enabled()


async def test_connected_call_outlives_the_signaling_server(
    launch_chromium: LaunchChromium, signaling_server: SignalingServer, bots: Bots
) -> None:
    bot = await start_bot(bots)
    customer = await connected_call(launch_chromium, bots.url)
    await customer.wait_received(2.0)
    signaling_server.kill()
    await expect(customer.alert).to_contain_text("Your call goes on")
    # Audio keeps flowing peer to peer: the next 5 s are still the bot's speech.
    lost_at = await customer.test_hook("receivedSeconds()")
    await customer.wait_received(lost_at + 5.0)
    after = (await customer.received())[round(lost_at * 48_000) :]
    heard = window_correlations(after, read_wav(AGENT_SAMPLE)[0])
    assert len(heard) >= 3, heard
    assert median(heard) >= MIN_CORRELATION, heard
    assert await customer.state() == "connected"
    # Hanging up closes the peer connection, which is all the bot can learn now.
    await customer.hang_up()
    await customer.wait_state("ended")
    await asyncio.to_thread(bot.wait_log, "ended reason=(remote-closed|media-timeout)")


async def test_mute_silences_what_the_bot_receives(
    launch_chromium: LaunchChromium,
    bots: Bots,
    tmp_path: Path,
) -> None:
    record = tmp_path / "recordings"
    bot = await start_bot(bots, "--record", str(record))
    customer = await connected_call(launch_chromium, bots.url)
    await customer.wait_received(3.0)
    mute = customer.page.get_by_role("button", name="Mute microphone")
    await mute.click()
    await expect(customer.page.get_by_role("button", name="Unmute microphone")).to_have_attribute(
        "aria-pressed", "true"
    )
    muted_at = await customer.test_hook("receivedSeconds()")
    await customer.wait_received(muted_at + 3.0)
    await customer.hang_up()
    await asyncio.to_thread(bot.wait_log, "ended reason=hangup")

    [recording] = recordings(record)
    at_bot = read_wav(recording)[0]
    rate = 48_000
    before, after = at_bot[rate : 2 * rate], at_bot[-2 * rate :]
    assert np.sqrt(np.mean(before**2)) > 0.01, "the bot heard nothing before mute"
    assert np.sqrt(np.mean(after**2)) < 0.001, "the bot still hears the customer after mute"

"""Chromium on the customer page, transferred by agent Alice to agent Bob (protocol v1.1).

Alice plays `AGENT_SAMPLE`, Bob the same words backwards (as unlike it as speech gets): what
the page receives must switch from one to the other with no action on the page. Transfers to
an unknown, a busy and an away agent are refused first, and the call with Alice goes on; a
hold shows "On hold" on the page.
"""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import expect

from tests.bots import Bot, Bots
from tests.browser.conftest import AGENT_SAMPLE, LaunchChromium
from tests.browser.customer import CustomerPage
from tests.browser.similarity import read_wav, window_correlations
from tests.server.client import Client

pytestmark = pytest.mark.browser

MIN_CORRELATION = 0.9
MIN_WINDOWS = 4
SECONDS = 10.0
"""Audio judged per leg: the first seconds of a stream are time-stretched by Chromium."""


def reversed_sample(path: Path) -> Path:
    """`AGENT_SAMPLE` backwards, as a 48 kHz mono WAV."""
    pcm = (read_wav(AGENT_SAMPLE)[0][::-1] * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(48_000)
        wav.writeframes(pcm.tobytes())
    return path


async def say(bot: Bot, line: str, expect_log: str, count: int = 1) -> None:
    bot.type(line)
    await asyncio.to_thread(bot.wait_log, expect_log, 30.0, count)


async def heard(customer: CustomerPage, reference: Path, seconds: float = SECONDS) -> list[float]:
    """Correlations of what the page received (since its last new stream) with `reference`."""
    await customer.wait_received(seconds)
    return window_correlations(await customer.received(), read_wav(reference)[0])


async def test_transfer_switches_the_page_to_the_new_agent(
    launch_chromium: LaunchChromium, bots: Bots, tmp_path: Path, artifacts: Path
) -> None:
    sample_b = reversed_sample(tmp_path / "backwards.wav")
    alice = await asyncio.to_thread(
        bots.answer, "--manual", "--play", str(AGENT_SAMPLE), "--loop", name="Alice", console=True
    )
    customer = await CustomerPage.open(await launch_chromium(), bots.url, raw="1", record="1")
    await customer.call()
    await asyncio.to_thread(alice.wait_log, "accept/reject")
    await say(alice, "accept", "accepted [0-9a-f]+")
    await customer.wait_state("connected")
    await expect(customer.status).to_have_text("Connected to Alice.")
    before = await heard(customer, AGENT_SAMPLE)

    bob = await asyncio.to_thread(
        bots.answer, "--manual", "--play", str(sample_b), "--loop", name="Bob", console=True
    )
    await say(bob, "away", "state away")
    carol = await asyncio.to_thread(bots.answer, "--tone", "300", name="Carol")
    # Carol busy: a signaling-only customer she accepts (its media never comes: that takes
    # her 15 s connect timeout to end, long enough)
    busy = await Client(bots.url).connect({"role": "customer", "name": "busy"})
    assert (await busy.call("call-request", {}))["status"] == "ringing"
    await asyncio.to_thread(carol.wait_log, "accepted from")

    await say(alice, "transfer Nobody", "refused: unknown-agent")
    await say(alice, "transfer Carol", "refused: agent-busy")
    await say(alice, "transfer Bob", "refused: agent-away")
    await customer.wait_state("connected")
    still = await heard(customer, AGENT_SAMPLE, SECONDS + 4)  # the same stream, longer

    await say(alice, "hold", "held [0-9a-f]+")
    await customer.wait_state("held")
    await expect(customer.status).to_have_text("On hold: Alice will be right back.")
    await customer.screenshot(artifacts / "on-hold.png")
    await say(alice, "resume", "resumed [0-9a-f]+")
    await customer.wait_state("connected")

    await say(bob, "ready", "state available")
    await say(alice, "transfer Bob", "transferring [0-9a-f]+ to Bob")
    await customer.wait_state("transferring")
    await customer.screenshot(artifacts / "transferring.png")
    await asyncio.to_thread(bob.wait_log, "accept/reject")
    await say(bob, "accept", "accepted [0-9a-f]+")
    await asyncio.to_thread(alice.wait_log, "ended reason=transferred")
    await customer.wait_state("connected")
    await expect(customer.status).to_have_text("Connected to Bob.")
    await customer.screenshot(artifacts / "transferred.png")
    after = await heard(customer, sample_b)
    after_vs_alice = window_correlations(await customer.received(), read_wav(AGENT_SAMPLE)[0])

    figures = {
        "alice_before": before,
        "alice_after_refusals": still,
        "bob_after_transfer": after,
        "after_transfer_vs_alice": after_vs_alice,
    }
    (artifacts / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    for scores in (before, still, after):
        assert len(scores) >= MIN_WINDOWS, figures
        assert float(np.median(scores)) >= MIN_CORRELATION, figures
    assert float(np.median(after_vs_alice)) < 0.6, figures

    await customer.hang_up()
    await customer.wait_state("ended")
    await asyncio.to_thread(bob.wait_log, "ended reason=hangup")
    await busy.close()

"""The customer page as the tests drive it: open, call, hang up, read what it shows."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from tests.browser.similarity import Floats

TIMEOUT_MS = 30_000


class CustomerPage:
    """One browser tab on the signaling server's page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", self._log)
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    @classmethod
    async def open(cls, browser: Browser, server_url: str, **query: str) -> CustomerPage:
        """Opens the page; `query` becomes its parameters (offerer, raw, record, name)."""
        page = await browser.new_page()
        customer = cls(page)
        url = f"{server_url}/?{urlencode(query)}" if query else f"{server_url}/"
        await page.goto(url)
        await expect(page.get_by_role("button", name="Call an agent")).to_be_enabled()
        return customer

    def _log(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")

    @property
    def status(self) -> Any:
        return self.page.get_by_role("status")

    @property
    def alert(self) -> Any:
        return self.page.get_by_role("alert")

    async def call(self) -> None:
        await self.page.get_by_role("button", name="Call an agent").click()

    async def hang_up(self) -> None:
        await self.page.get_by_role("button", name="Hang up").click()

    async def state(self) -> str:
        state: str = await self.page.evaluate("window.voiceTest.state")
        return state

    async def wait_state(self, state: str, timeout_ms: float = TIMEOUT_MS) -> None:
        """Waits until the page's call state is `state`; fails with the page's console."""
        try:
            await expect(self.status).to_have_attribute("data-state", state, timeout=timeout_ms)
        except AssertionError as exc:
            shown = await self.status.text_content()
            raise AssertionError(
                f"page never reached {state!r}; it shows {shown!r}; console:\n"
                + "\n".join(self.console[-30:])
            ) from exc

    async def test_hook(self, name: str) -> Any:
        return await self.page.evaluate(f"window.voiceTest.{name}")

    async def wait_received(self, seconds: float, timeout_ms: float = TIMEOUT_MS) -> None:
        """Waits until the page has received `seconds` of audio (needs ?record=1)."""
        await self.page.wait_for_function(
            "s => window.voiceTest.receivedSeconds() >= s", arg=seconds, timeout=timeout_ms
        )

    async def received(self) -> Floats:
        """What the page received so far (needs ?record=1), mono floats at 48 kHz."""
        encoded: str = await self.page.evaluate("window.voiceTest.receivedPcm16()")
        pcm = np.frombuffer(base64.b64decode(encoded), dtype="<i2")
        return pcm.astype(np.float64) / 32768

    async def receive_stats(self) -> dict[str, float]:
        """What Chromium's jitter buffer did to the received audio so far (samples and ms)."""
        stats = await self.page.evaluate("window.voiceTest.receiveStats()")
        if not stats:
            return {}
        emitted = stats.get("jitterBufferEmittedCount") or 1
        return {
            "packets_received": stats.get("packetsReceived", 0),
            "packets_lost": stats.get("packetsLost", 0),
            "jitter_ms": 1000 * stats.get("jitter", 0),
            "jitter_buffer_ms": 1000 * stats.get("jitterBufferDelay", 0) / emitted,
            "samples_received": stats.get("totalSamplesReceived", 0),
            "samples_concealed": stats.get("concealedSamples", 0),
            "samples_inserted_to_slow_down": stats.get("insertedSamplesForDeceleration", 0),
            "samples_removed_to_speed_up": stats.get("removedSamplesForAcceleration", 0),
        }

    async def screenshot(self, path: Path) -> None:
        await self.page.screenshot(path=str(path), full_page=True)

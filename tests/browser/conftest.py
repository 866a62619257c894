"""Fixtures for the customer tests: headless Chromium as the customer, bots as agents."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.bots import Bots
from tests.browser.chromium import (
    ChromiumMissingError,
    Launcher,
    find_chromium,
    playwright_disable_features,
)
from tests.procs import SignalingServer

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"
SPEECH_SAMPLE = REPO / "samples" / "hello-48k.wav"
"""What the browser's fake microphone says."""
AGENT_SAMPLE = REPO / "samples" / "weather-48k.wav"
"""What the bot plays: other words and another voice, so the two directions cannot be confused."""

LaunchChromium = Callable[..., Awaitable[Browser]]


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's Chromium; a missing package fails the test naming it."""
    try:
        return find_chromium()
    except ChromiumMissingError as exc:
        pytest.fail(str(exc), pytrace=False)


async def _probe(executable: str) -> str:
    async with async_playwright() as playwright:
        return await playwright_disable_features(playwright, executable)


@pytest.fixture(scope="session")
def playwright_flag(chromium_executable: str) -> str:
    """Playwright's own `--disable-features=...` flag, probed once per session."""
    # A fresh event loop in its own thread: the probe runs outside the tests' loops.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _probe(chromium_executable)).result()


@pytest.fixture(scope="session")
def samples() -> None:
    """The speech samples the fake microphone and the bot play; missing ones fail the test."""
    for sample in (SPEECH_SAMPLE, AGENT_SAMPLE):
        if not sample.is_file():
            pytest.fail(f"speech sample {sample} is missing (see samples/make.sh)", pytrace=False)


@pytest.fixture
async def launch_chromium(
    chromium_executable: str,
    playwright_flag: str,
    samples: None,
    signaling_server: SignalingServer,
) -> AsyncIterator[LaunchChromium]:
    """Launches headless Chromium; the fake microphone loops `mic` (None: no fake device).

    `grant_microphone=False` denies the microphone prompt. All closed at teardown, before the
    server stops (hence the dependency): a page still in a call would hold the server up.
    """
    async with async_playwright() as playwright:
        launcher = Launcher(playwright, chromium_executable, playwright_flag)
        browsers: list[Browser] = []

        async def launch(
            mic: Path | None = SPEECH_SAMPLE, *, grant_microphone: bool = True
        ) -> Browser:
            browser = await launcher.launch(mic, grant_microphone=grant_microphone)
            browsers.append(browser)
            return browser

        yield launch
        for browser in browsers:
            await browser.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A folder for this test's artifacts (screenshots), kept after the run (not committed)."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    yield folder


@pytest.fixture
def bots(tmp_path: Path, signaling_server: SignalingServer) -> Iterator[Bots]:
    """Starts `agent-bot` processes against `signaling_server`; all stopped at teardown."""
    manager = Bots(tmp_path, signaling_server.url, signaling_server.agent_token)
    yield manager
    manager.close()

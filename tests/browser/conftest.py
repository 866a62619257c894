"""Headless Chromium (Debian's `chromium`, driven by Playwright) as the customer.

Never `playwright install`: the browser is the distribution's, found on PATH.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.bot.conftest import Bots
from tests.procs import SignalingServer

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"
SPEECH_SAMPLE = REPO / "samples" / "hello-48k.wav"
"""What the browser's fake microphone says."""
AGENT_SAMPLE = REPO / "samples" / "weather-48k.wav"
"""What the bot plays: other words and another voice, so the two directions cannot be confused."""

# Features this harness turns off, merged into Playwright's own --disable-features list
# (Chromium honours only the last such flag). Host candidates instead of mDNS names: aioice
# cannot resolve `<uuid>.local` here.
DISABLED_FEATURES = ("WebRtcHideLocalIpsWithMdns",)

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # Lets the harness read the final command line back (CDP Browser.getBrowserCommandLine).
    "--enable-automation",
)

LaunchChromium = Callable[..., Awaitable[Browser]]


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's Chromium; a missing package fails the test naming it."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Chromium is missing: install the Debian package `chromium` "
            "(apt-get install chromium, or ./run setup)",
            pytrace=False,
        )
    return path


async def _command_line(browser: Browser) -> list[str]:
    session = await browser.new_browser_cdp_session()
    reply = await session.send("Browser.getBrowserCommandLine")
    arguments: list[str] = reply["arguments"]
    return arguments


async def _playwright_disable_features(executable: str) -> str:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS)
        )
        try:
            flags = [a for a in await _command_line(browser) if a.startswith("--disable-features=")]
        finally:
            await browser.close()
    if len(flags) != 1:
        raise RuntimeError(f"expected one --disable-features flag from Playwright, got {flags}")
    return flags[0]


@pytest.fixture(scope="session")
def playwright_disable_features(chromium_executable: str) -> str:
    """The exact `--disable-features=...` flag Playwright passes (read from a probe launch)."""
    # A fresh event loop in its own thread: the probe runs once, outside the tests' loops.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _playwright_disable_features(chromium_executable)).result()


def chromium_args(
    disable_features: str, mic: Path | None, *, loop: bool, grant_microphone: bool
) -> list[str]:
    """Command-line flags for one launch (`disable_features`: the merged feature list)."""
    args = [*CHROMIUM_ARGS, f"--disable-features={disable_features}"]
    if mic is not None:
        capture = str(mic) if loop else f"{mic}%noloop"
        args += [
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={capture}",
        ]
    # Auto-accept the microphone prompt, or auto-deny it like a customer who said no.
    args.append(
        "--use-fake-ui-for-media-stream" if grant_microphone else "--deny-permission-prompts"
    )
    return args


@pytest.fixture(scope="session")
def samples() -> None:
    """The speech samples the fake microphone and the bot play; missing ones fail the test."""
    for sample in (SPEECH_SAMPLE, AGENT_SAMPLE):
        if not sample.is_file():
            pytest.fail(f"speech sample {sample} is missing (see samples/make.sh)", pytrace=False)


@pytest.fixture
async def launch_chromium(
    chromium_executable: str, playwright_disable_features: str, samples: None
) -> AsyncIterator[LaunchChromium]:
    """Launches headless Chromium with a fake microphone playing `mic` (None: no fake device).

    `loop=False` plays the file once; `grant_microphone=False` denies the microphone prompt.
    """
    merged = ",".join([playwright_disable_features.split("=", 1)[1], *DISABLED_FEATURES])
    async with async_playwright() as playwright:
        browsers: list[Browser] = []

        async def launch(
            mic: Path | None = SPEECH_SAMPLE, *, loop: bool = True, grant_microphone: bool = True
        ) -> Browser:
            browser = await playwright.chromium.launch(
                executable_path=chromium_executable,
                args=chromium_args(merged, mic, loop=loop, grant_microphone=grant_microphone),
                ignore_default_args=[playwright_disable_features],
            )
            browsers.append(browser)
            disable_flags = [
                a for a in await _command_line(browser) if a.startswith("--disable-features=")
            ]
            assert disable_flags == [f"--disable-features={merged}"], disable_flags
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

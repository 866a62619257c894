"""Debian's Chromium, launched by Playwright with the flags the customer tests need.

Never `playwright install`: the browser is the distribution's, found on PATH. Chromium honours
only the last `--disable-features` flag and Playwright passes its own, so the harness reads
Playwright's list from a probe launch and passes one merged flag instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from playwright.async_api import Browser, Playwright

# Host candidates instead of `<uuid>.local` mDNS names, which aioice cannot resolve here.
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


class ChromiumMissingError(Exception):
    """Debian's `chromium` is not installed."""


def find_chromium() -> str:
    """Path of Debian's Chromium; raises `ChromiumMissingError` naming the package."""
    path = shutil.which("chromium")
    if path is None:
        raise ChromiumMissingError(
            "Chromium is missing: install the Debian package `chromium` "
            "(apt-get install chromium, or ./run setup)"
        )
    return path


async def command_line(browser: Browser) -> list[str]:
    """The browser process's command line, as Chromium itself reports it."""
    session = await browser.new_browser_cdp_session()
    reply = await session.send("Browser.getBrowserCommandLine")
    arguments: list[str] = reply["arguments"]
    return arguments


def disable_features_flags(arguments: list[str]) -> list[str]:
    return [a for a in arguments if a.startswith("--disable-features=")]


async def playwright_disable_features(playwright: Playwright, executable: str) -> str:
    """The exact `--disable-features=...` flag Playwright passes, read from a probe launch."""
    browser = await playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
    try:
        flags = disable_features_flags(await command_line(browser))
    finally:
        await browser.close()
    if len(flags) != 1:
        raise RuntimeError(f"expected one --disable-features flag from Playwright, got {flags}")
    return flags[0]


def chromium_args(disable_features: str, mic: Path | None, *, grant_microphone: bool) -> list[str]:
    """Flags for one launch; `disable_features` is the merged flag."""
    args = [*CHROMIUM_ARGS, disable_features]
    if mic is not None:
        args += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={mic}"]
    # Auto-accept the microphone prompt, or auto-deny it like a customer who said no.
    args.append(
        "--use-fake-ui-for-media-stream" if grant_microphone else "--deny-permission-prompts"
    )
    return args


class Launcher:
    """Launches headless Chromium with a fake microphone and one merged --disable-features."""

    def __init__(self, playwright: Playwright, executable: str, playwright_flag: str) -> None:
        self.playwright = playwright
        self.executable = executable
        self.playwright_flag = playwright_flag
        self.flag = ",".join([playwright_flag, *DISABLED_FEATURES])

    async def launch(
        self, mic: Path | None, *, grant_microphone: bool = True, extra_args: Sequence[str] = ()
    ) -> Browser:
        """A browser whose fake microphone loops `mic` (None: no fake capture device)."""
        browser = await self.playwright.chromium.launch(
            executable_path=self.executable,
            args=[*chromium_args(self.flag, mic, grant_microphone=grant_microphone), *extra_args],
            ignore_default_args=[self.playwright_flag],
        )
        flags = disable_features_flags(await command_line(browser))
        if flags != [self.flag]:
            await browser.close()
            raise RuntimeError(f"--disable-features not merged into one flag: {flags}")
        return browser

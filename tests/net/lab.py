"""One relay-only call set-up: the signaling server in wan, a bot in agent, Chromium in cust."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from playwright.async_api import Browser, Playwright

from tests.bots import Bot
from tests.browser.chromium import Launcher
from tests.browser.conftest import AGENT_SAMPLE, SPEECH_SAMPLE
from tests.browser.customer import CustomerPage
from tests.net.namespaces import Topology
from tests.net.services import NetnsSignalingServer, chromium_wrapper
from tests.procs import AGENT_TOKEN


class RelayLab:
    """Starts the three parties of relay-only calls and stops them all in `close()`."""

    def __init__(
        self, topology: Topology, tmp_path: Path, playwright: Playwright, playwright_flag: str
    ) -> None:
        self.topology = topology
        self.tmp_path = tmp_path
        self.launcher = Launcher(playwright, str(chromium_wrapper(topology, tmp_path)),
                                 playwright_flag)  # fmt: skip
        self.servers: list[NetnsSignalingServer] = []
        self.bots: list[Bot] = []
        self.browsers: list[Browser] = []
        self.dropped: list[str] = []

    def server(self, *args: str) -> NetnsSignalingServer:
        """`signaling-server ARGS` on the service address in wan."""
        log = self.tmp_path / f"server-{len(self.servers)}.log"
        server = NetnsSignalingServer(self.topology, log, args)
        self.servers.append(server)
        server.start()
        return server

    def bot(self, server: NetnsSignalingServer, *args: str) -> Bot:
        """`agent-bot answer` as Alice in the agent namespace, playing AGENT_SAMPLE; registered."""
        command = ["answer", "--server", server.url, "--token", AGENT_TOKEN, "--name", "Alice",
                   "--play", str(AGENT_SAMPLE), "--loop", *args]  # fmt: skip
        bot = Bot(
            command,
            self.tmp_path / f"bot-{len(self.bots)}.log",
            launcher=("tests.net.netns_exec", self.topology.agent, "agent_bot"),
        )
        self.bots.append(bot)
        bot.wait_log("agent registered")
        return bot

    async def customer(self, server: NetnsSignalingServer, **query: str) -> CustomerPage:
        """The page in Chromium in the cust namespace; the fake microphone says SPEECH_SAMPLE."""
        extra = [f"--unsafely-treat-insecure-origin-as-secure={server.url}"]
        browser = await self.launcher.launch(SPEECH_SAMPLE, extra_args=extra)
        self.browsers.append(browser)
        return await CustomerPage.open(browser, server.url, raw="1", record="1", **query)

    def drop(self, namespace: str, protocol: str) -> None:
        """Drop all `protocol` traffic in `namespace` until `close()`."""
        self.topology.drop(namespace, protocol)
        self.dropped.append(namespace)

    async def close(self) -> None:
        for browser in self.browsers:
            with contextlib.suppress(Exception):
                await browser.close()
        for bot in self.bots:
            await asyncio.to_thread(bot.close)
        for server in self.servers:
            await asyncio.to_thread(server.stop)
        for namespace in self.dropped:
            self.topology.undrop(namespace)

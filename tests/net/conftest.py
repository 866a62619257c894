"""Fixtures for relay-only calls: namespaces, two coturns, and a lab that starts the rest.

Missing tools (ip, nft, turnserver, chromium) or running as non-root fail the tests loudly,
naming what to install: these tests never skip.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.browser.conftest import chromium_executable, playwright_flag, samples
from tests.net.coturn import Coturn
from tests.net.lab import RelayLab
from tests.net.namespaces import SERVICE_IP, Topology, leftover, made_topology

__all__ = ["chromium_executable", "playwright_flag", "samples"]

STATIC_USER = ("alice", "wonderland")
SECRET = "north-wind"


@dataclass
class Coturns:
    """One coturn per way of authenticating, both in the wan namespace."""

    static: Coturn
    minted: Coturn

    def static_url(self, query: str = "") -> str:
        user, password = STATIC_USER
        return f"turn:{user}:{password}@{SERVICE_IP}:{self.static.port}{query}"

    def minted_url(self, query: str = "") -> str:
        return f"turn:{SERVICE_IP}:{self.minted.port}{query}"


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    """wan, cust and agent namespaces (module-wide); always removed afterwards."""
    with made_topology("ip", "nft", "turnserver", "chromium") as made:
        yield made
    assert not [ns for ns in leftover() if made.tag in ns]


@pytest.fixture(scope="module")
def coturns(topology: Topology, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturns]:
    """coturn with a static user on 3478, coturn with `use-auth-secret` on 3479."""
    workdir = tmp_path_factory.mktemp("coturn")
    prefix = topology.exec(topology.wan)
    servers = Coturns(
        static=Coturn(prefix, SERVICE_IP, 3478, workdir, user=STATIC_USER),
        minted=Coturn(prefix, SERVICE_IP, 3479, workdir, secret=SECRET),
    )
    try:
        servers.static.start()
        servers.minted.start()
        yield servers
    finally:
        servers.static.stop()
        servers.minted.stop()


@pytest.fixture
async def lab(
    topology: Topology,
    tmp_path: Path,
    playwright_flag: str,
    samples: None,
) -> AsyncIterator[RelayLab]:
    """Starts servers (wan), bots (agent) and customers (cust); all stopped at teardown."""
    async with async_playwright() as playwright:
        made = RelayLab(topology, tmp_path, playwright, playwright_flag)
        try:
            yield made
        finally:
            await made.close()

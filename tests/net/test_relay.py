"""Calls that can connect only through coturn: customer and agent have no route to each other.

Chromium (cust namespace) calls a real `agent-bot answer` (agent namespace); coturn and the
signaling server run in the wan namespace, which does not forward. Static credentials
(`--ice-server turn:USER:PASS@...`) and minted ones (`--turn-secret`), TURN over UDP and,
with every UDP packet dropped in the agent's namespace, over TCP.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.bots import recordings
from tests.browser.conftest import AGENT_SAMPLE, ARTIFACTS, SPEECH_SAMPLE
from tests.browser.customer import CustomerPage
from tests.browser.similarity import read_wav, window_correlations
from tests.net.conftest import SECRET, STATIC_USER, Coturns
from tests.net.lab import RelayLab
from tests.net.namespaces import CLIENT_IPS

pytestmark = [pytest.mark.browser, pytest.mark.solo]  # speech figures, setup times

CALL_SECONDS = 6.0
MIN_CORRELATION = 0.9
SETUP_CALLS = 3


def write_figures(name: str, figures: dict[str, Any]) -> None:
    """Kept in artifacts/net/ (not committed) for the docs' figures."""
    folder = ARTIFACTS.parent / "net"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")


def median(scores: list[float]) -> float:
    return float(np.median(scores)) if scores else 0.0


async def connect(customer: CustomerPage) -> dict[str, Any]:
    """Call, wait for connected; the selected candidate pair, which must use a relay."""
    await customer.call()
    await customer.wait_state("connected")
    pair: dict[str, Any] = await customer.test_hook("selectedPair()")
    assert "relay" in (pair["local"], pair["remote"]), pair
    return pair


@pytest.mark.parametrize(
    ("transport", "credentials"), [("udp", "static"), ("tcp", "minted")], ids=["udp-static",
                                                                               "tcp-minted"]
)  # fmt: skip
async def test_speech_both_ways_through_the_relay(
    lab: RelayLab, coturns: Coturns, tmp_path: Path, transport: str, credentials: str
) -> None:
    query = f"?transport={transport}"
    if credentials == "static":
        server = lab.server("--ice-server", coturns.static_url(query))
        coturn = coturns.static
    else:
        server = lab.server("--turn-secret", SECRET, "--turn-url", coturns.minted_url(query))
        coturn = coturns.minted
    if transport == "tcp":
        lab.drop(lab.topology.agent, "udp")
    logged = len(coturn.log())
    record = tmp_path / "recordings"
    bot = lab.bot(server, "--record", str(record))
    customer = await lab.customer(server)
    pair = await connect(customer)
    call_id = await customer.test_hook("callId")
    await customer.wait_received(CALL_SECONDS)
    received = await customer.received()
    await customer.hang_up()
    await customer.wait_state("ended")
    await asyncio.to_thread(bot.wait_log, "ended reason=hangup")

    [recording] = recordings(record)
    at_bot, _ = read_wav(recording)
    to_bot = window_correlations(at_bot, read_wav(SPEECH_SAMPLE)[0])
    to_page = window_correlations(received, read_wav(AGENT_SAMPLE)[0])
    figures = {"pair": pair, "browser_to_bot": to_bot, "bot_to_browser": to_page}
    write_figures(f"speech-{transport}-{credentials}", figures)
    assert len(to_bot) >= 4, figures
    assert median(to_bot) >= MIN_CORRELATION, figures
    assert len(to_page) >= 4, figures
    assert median(to_page) >= MIN_CORRELATION, figures
    log = coturn.log()[logged:]
    user = STATIC_USER[0] if credentials == "static" else call_id
    assert re.search(f"user <[0-9:]*{user}>: incoming packet ALLOCATE processed, success", log)
    if transport == "tcp":
        assert f"tcp or tls connected to: {CLIENT_IPS['agent'][1]}:" in log
    assert STATIC_USER[1] not in bot.text() + server.log()
    assert SECRET not in bot.text() + server.log()


async def test_request_to_connected_through_the_relay(lab: RelayLab, coturns: Coturns) -> None:
    """Median of a few calls (minted credentials, UDP): the figure docs/deployment.md quotes."""
    server = lab.server("--turn-secret", SECRET, "--turn-url", coturns.minted_url())
    lab.bot(server)
    customer = await lab.customer(server)
    setups: list[dict[str, float]] = []
    for _ in range(SETUP_CALLS):
        await connect(customer)
        timings = await customer.test_hook("timings")
        setups.append(
            {
                "request_to_connected_ms": timings["connected"] - timings["start"],
                "accepted_to_connected_ms": timings["connected"] - timings["accepted"],
            }
        )
        await customer.hang_up()
        await customer.wait_state("ended")
    medians = {key: statistics.median(s[key] for s in setups) for key in setups[0]}
    write_figures("relay-setup", {"median": medians, "calls": setups})
    assert medians["request_to_connected_ms"] < 10_000, setups

"""Without a working relay the call does not connect, the bot ends it, and the page says so.

No TURN server listening (coturn stopped), minted credentials with the wrong secret (coturn
answers 401), an expired minted credential (401 too): the bot logs the TURN failure, gives
up at its connect timeout and the page shows the end.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse

import pytest

from signaling_server.turn import mint
from tests.net.conftest import SECRET, Coturns
from tests.net.lab import RelayLab
from tests.net.namespaces import SERVICE_IP

pytestmark = pytest.mark.browser

BOT_CONNECT_TIMEOUT = 4.0
UNUSED_PORT = 3490


def expired_url(coturns: Coturns) -> str:
    """A credential minted with the right secret that expired a minute ago, as a URL."""
    credential = mint(SECRET, "late", int(time.time()) - 60)
    user, password = (urllib.parse.quote(s, safe="") for s in (credential.username,
                                                                credential.password))  # fmt: skip
    return f"turn:{user}:{password}@{SERVICE_IP}:{coturns.minted.port}"


@pytest.mark.parametrize("case", ["coturn-stopped", "wrong-secret", "expired-credential"])
async def test_call_without_a_relay_does_not_connect(
    lab: RelayLab, coturns: Coturns, case: str
) -> None:
    if case == "coturn-stopped":
        args: tuple[str, ...] = ("--ice-server", f"turn:u:p@{SERVICE_IP}:{UNUSED_PORT}")
        failure = "no allocation within"
    elif case == "wrong-secret":
        args = ("--turn-secret", "not-" + SECRET, "--turn-url", coturns.minted_url())
        failure = "allocation failed: TransactionFailed: STUN transaction failed (401"
    else:
        args = ("--ice-server", expired_url(coturns))
        failure = "allocation failed: TransactionFailed: STUN transaction failed (401"
    server = lab.server(*args)
    bot = lab.bot(server, "--connect-timeout", str(BOT_CONNECT_TIMEOUT))
    customer = await lab.customer(server, connect_timeout="30")
    await customer.call()
    started = time.monotonic()
    await customer.wait_state("media")
    await customer.wait_state("ended", timeout_ms=1000 * (BOT_CONNECT_TIMEOUT + 10))
    waited = time.monotonic() - started
    assert "connected" not in await customer.test_hook("timings")
    [ended] = await asyncio.to_thread(bot.wait_log, r"ended reason=")
    [turn] = await asyncio.to_thread(bot.wait_log, r"TURN turn:")
    assert failure in turn, turn
    found = re.search(r"ended reason=(connect-timeout|ice-failed)", ended)
    assert found, ended
    reason = await customer.test_hook("reason")
    assert reason == found.group(1)  # the bot told the server why, the page heard it
    print(f"{case}: bot {ended.split('ended ')[-1]}, page reason {reason}, after {waited:.1f} s")
    assert waited < BOT_CONNECT_TIMEOUT + 8
    assert SECRET not in bot.text()

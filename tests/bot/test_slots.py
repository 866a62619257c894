"""A full bot's slot: freed the moment a call ends, however it ends; a bot that fails over.

Real `agent-bot` processes and real server processes, on one node or two sharing a real
redis-server (the bot on one node, its customers on the other).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.bots import Bot, Bots
from tests.procs import SignalingServer
from tests.server.client import Client

ServerFactory = Callable[..., SignalingServer]
SLOT_FREED_WITHIN = 1.0
FAILOVER_WITHIN = 2.0


def logged_at(bot: Bot, pattern: str) -> float:
    """The wall-clock time of the first log line matching `pattern` (logging's asctime)."""
    line = bot.wait_log(pattern)[0]
    stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


def report_of(path: Path) -> dict[str, object]:
    [call] = json.loads(path.read_text())["calls"]
    result: dict[str, object] = call
    return result


def hung_up(caller: Bot, report: Path) -> dict[str, object]:
    """The caller's one call, which connected and which it hung up itself.

    (Its exit status is its QA verdict: these far ends send silence, which the verdict fails.)
    """
    caller.wait()
    call = report_of(report)
    assert call["end_reason"] == "local-hangup", caller.text()
    assert times(call)["connected"], call
    return call


def times(report: dict[str, object]) -> dict[str, float]:
    result: dict[str, float] = report["times"]  # type: ignore[assignment]
    return result


@pytest.fixture(params=["one-node", "two-nodes"])
def nodes(request: pytest.FixtureRequest, server_factory: ServerFactory) -> list[SignalingServer]:
    """[the bot's node, the customers' node]: the same server, or two nodes on one Redis."""
    if request.param == "one-node":
        server = server_factory()
        return [server, server]
    redis_url = request.getfixturevalue("redis_url")
    return [server_factory("--redis", redis_url) for _ in range(2)]


def bots_on(tmp_path: Path, *servers: SignalingServer) -> Bots:
    """Bots given the URLs of `servers` (several: the nodes of one deployment)."""
    return Bots(tmp_path, ",".join(s.url for s in servers), servers[0].agent_token)


async def test_call_that_never_connects_frees_the_slot(
    nodes: list[SignalingServer], tmp_path: Path
) -> None:
    bots = bots_on(tmp_path, nodes[0])
    customers: list[Client] = []
    try:
        agent = bots.answer("--silence", "--max-calls", "1", "--connect-timeout", "2")
        # a customer that never sends its offer, and one queued behind it
        mute, waiting = Client(nodes[1].url), Client(nodes[1].url)
        customers += [mute, waiting]
        await mute.connect({"role": "customer", "name": "mute"})
        await waiting.connect({"role": "customer", "name": "waiting"})
        call_id = (await mute.call("call-request", {}))["callId"]
        await mute.expect("call-accepted")
        assert (await waiting.call("call-request", {}))["status"] == "queued"
        ended = await mute.expect("call-ended", within=10)
        gave_up = time.monotonic()
        assert ended == {"callId": call_id, "reason": "connect-timeout"}
        accepted = await waiting.expect("call-accepted", within=5)
        assert time.monotonic() - gave_up <= SLOT_FREED_WITHIN
        assert accepted["agentName"] == "answer"
        agent.wait_log(f"call={call_id} not connected after 2 s: no offer/answer")
    finally:
        for customer in customers:
            await customer.close()
        bots.close()


@pytest.mark.parametrize("who", ["customer", "agent"])
def test_queued_customer_is_taken_when_the_call_ends(
    nodes: list[SignalingServer], tmp_path: Path, who: str
) -> None:
    bots = bots_on(tmp_path, nodes[0])
    customers = bots_on(tmp_path, nodes[1])
    try:
        # the agent ends a call whose caller went quiet after 1 s (media-timeout)
        agent = bots.answer("--silence", "--max-calls", "1", "--media-timeout", "1")
        first_report, second_report = tmp_path / "first.json", tmp_path / "second.json"
        first = customers.call("--tone", "300", "--duration", "3" if who == "customer" else "60",
                               "--report", str(first_report), name="first")  # fmt: skip
        agent.wait_log("first audio in")
        second = customers.call("--tone", "300", "--duration", "2",
                                "--report", str(second_report), name="second")  # fmt: skip
        second.wait_log("requested: queued")
        if who == "agent":
            first.signal(signal.SIGSTOP)  # frozen: no media, signaling socket still open
            ended = logged_at(agent, "ended reason=media-timeout")
        else:
            ended = times(hung_up(first, first_report))["ended"]
        accepted = times(hung_up(second, second_report))["accepted"]
        assert 0 < accepted - ended <= SLOT_FREED_WITHIN, (accepted, ended)
        assert "rejected" not in agent.text()
    finally:
        for bot in customers.started:
            bot.signal(signal.SIGCONT)
        customers.close()
        bots.close()


@pytest.mark.redis
@pytest.mark.solo  # a time to fail over, held to 2 s
def test_bot_fails_over_to_another_node(
    server_factory: ServerFactory, redis_url: str, tmp_path: Path
) -> None:
    """The bot's node dies mid-call; its customer's node lives (and cleans up after 2-2.7 s).

    The bot registers on the surviving node at once and takes over its call there: the
    call's media goes on, and the customer's hang-up still reaches the bot.
    """
    dying, surviving = (server_factory("--redis", redis_url, "--node-ttl", "2") for _ in "ab")
    bots = bots_on(tmp_path, dying, surviving)
    customers = bots_on(tmp_path, surviving)
    try:
        agent = bots.answer("--silence", "--max-calls", "2")
        first_report, second_report = tmp_path / "first.json", tmp_path / "second.json"
        first = customers.call("--tone", "300", "--duration", "6",
                               "--report", str(first_report), name="first")  # fmt: skip
        agent.wait_log("first audio in")
        dying.kill()
        killed = time.time()
        second = customers.call("--tone", "300", "--duration", "2",
                                "--report", str(second_report), name="second")  # fmt: skip
        assert times(hung_up(second, second_report))["accepted"] - killed <= FAILOVER_WITHIN
        agent.wait_log(f"signaling connected url={surviving.url}")
        # the first call went on through the kill, the failover and the dead node's clean-up
        report = hung_up(first, first_report)
        frames = report["frames_received"]
        assert isinstance(frames, int) and frames >= 0.9 * 6 * 50, report
        agent.wait_log(f"call={report['call_id']} ended reason=hangup")
    finally:
        customers.close()
        bots.close()

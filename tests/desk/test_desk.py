"""The desk driven by Textual's pilot against the real server and a real `agent-bot call`.

ring → accept → levels move → mute (the caller's audio goes silent) → hold (the caller gets
`call-hold` and hears the hold notes) → resume → network figures → hang up → a history row.
An SVG screenshot of each state goes to artifacts/desk/.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_bot.agent import Agent
from agent_bot.calloptions import CallOptions
from agent_bot.desk.app import DeskApp
from agent_bot.desk.history import History
from agent_bot.desk.incall import CallInfo, NetworkLine
from agent_bot.desk.incoming import IncomingCall
from agent_bot.desk.meters import Meter
from agent_bot.desk.prompts import KeysHelp
from agent_bot.desk.status import StatusBar
from agent_bot.media.frames import SAMPLE_RATE
from agent_bot.media.sources import ToneSource
from tests.bot.conftest import bots
from tests.bot.test_call_control import dominant_hz, rms
from tests.bots import Bots, read_recording, recordings
from tests.procs import SignalingServer

__all__ = ["bots"]  # the fixture, imported

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "desk"
SIZE = (100, 28)


async def until(pilot: object, check: Callable[[], bool], what: str, within: float = 20) -> None:
    """Let the app run until `check()` holds."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not reached in {within} s: {what}"
        await asyncio.sleep(0.05)


@pytest.fixture(autouse=True)
def artifacts() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


async def test_ring_accept_mute_hold_resume_hang_up(
    signaling_server: SignalingServer, bots: Bots, tmp_path: Path
) -> None:
    app = DeskApp(desk_agent(signaling_server))
    record = tmp_path / "caller"

    def shot(name: str) -> None:
        app.save_screenshot(f"{name}.svg", str(ARTIFACTS))

    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one(StatusBar)
        await until(pilot, lambda: status.connection == "connected", "connected")
        await until(pilot, lambda: status.queue == 0, "queue length shown")
        shot("1-idle")
        caller = bots.call("--tone", "300", "--duration", "40", "--record", str(record))
        incoming = app.query_one(IncomingCall)
        await until(pilot, lambda: incoming.caller is not None, "ringing")
        assert incoming.caller == "agent-bot-caller-1"
        await until(pilot, lambda: incoming.ringing_for >= 1, "ringing time counts")
        shot("2-ringing")

        await pilot.press("a")
        mic, speaker = app.query_one("#mic-level", Meter), app.query_one("#speaker-level", Meter)
        await until(pilot, lambda: mic.level > 0.05 and speaker.level > 0.05, "levels move")
        assert not incoming.has_class("ringing")  # the prompt went
        info = app.query_one(CallInfo)
        assert info.peer == "agent-bot-caller-1"
        await until(pilot, lambda: info.connected and info.seconds >= 1, "connected, timer")
        shot("3-in-call")

        await pilot.press("m")
        await until(pilot, lambda: info.muted and mic.level < 0.001, "muted: mic silent")
        shot("4-muted")
        await asyncio.sleep(1.5)
        await pilot.press("m")
        await until(pilot, lambda: not info.muted and mic.level > 0.05, "unmuted")

        await pilot.press("h")
        await asyncio.to_thread(caller.wait_log, "held by the peer")
        await until(pilot, lambda: info.held, "on hold shown")
        shot("5-on-hold")
        await asyncio.sleep(6.5)  # two periods of the hold pattern (its notes every 3 s)
        await pilot.press("h")
        await asyncio.to_thread(caller.wait_log, "resumed by the peer")
        await until(pilot, lambda: not info.held, "resumed")

        network = app.query_one(NetworkLine)
        await until(pilot, lambda: "MOS 4" in network.summary, "network MOS", within=30)
        await until(pilot, lambda: info.seconds >= 3, "call timer")
        shot("6-network")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, KeysHelp), "keys listed")
        shot("7-keys")
        await pilot.press("x")

        await pilot.press("e")
        history = app.query_one(History)
        await until(pilot, lambda: history.row_count == 1, "history row")
        row = history.get_row_at(0)
        assert row[1] == "agent-bot-caller-1"
        assert row[3] == "local-hangup"
        assert row[4].startswith("4."), row
        shot("8-history")
        await pilot.press("q")

    await asyncio.to_thread(caller.wait, 30)  # (its QA verdict judges other things)
    assert "ended reason=hangup" in caller.text()
    [path] = recordings(record)
    received, _sent = read_recording(path)
    half = SAMPLE_RATE // 2
    windows = [received[i : i + half] for i in range(0, len(received) - half, half)]
    loud = [i for i, w in enumerate(windows) if rms(w) > 0.1]
    during = windows[loud[0] : loud[-1]]
    # muted: silence (below -60 dBFS: a decoder's concealment of a late packet is not sound)
    assert any(rms(w) < 0.001 for w in during), ("muted: no silence", [rms(w) for w in during])
    held = [dominant_hz(w) for w in during if 0.005 < rms(w) < 0.05]
    assert any(abs(hz - 523) < 10 or abs(hz - 659) < 10 for hz in held), held


def desk_agent(server: SignalingServer, wrap_up: float | None = None) -> Agent:
    return Agent(
        [server.url],
        CallOptions(source=ToneSource(440)),
        token=server.agent_token,
        name="Dana",
        auto_accept=False,
        wrap_up=wrap_up,
    )


async def test_away_then_ready_rings_the_queued_caller_who_gives_up(
    signaling_server: SignalingServer, bots: Bots
) -> None:
    app = DeskApp(desk_agent(signaling_server))
    async with app.run_test(size=SIZE) as pilot:
        status, incoming = app.query_one(StatusBar), app.query_one(IncomingCall)
        await until(pilot, lambda: status.connection == "connected", "connected")
        await pilot.press("s")
        await until(pilot, lambda: status.state == "away", "away")
        caller = bots.call("--tone", "300", "--duration", "30")
        await until(pilot, lambda: status.queue == 1, "the caller waits in the queue")
        assert not incoming.has_class("ringing")
        app.save_screenshot("away-queue.svg", str(ARTIFACTS))
        await pilot.press("s")
        await until(pilot, lambda: incoming.caller is not None, "ringing once ready")
        # (the queue update and the ring are two events: either may come first)
        await until(pilot, lambda: status.queue == 0, "the queue emptied")
        caller.close()  # the caller gives up: the prompt goes
        await until(pilot, lambda: incoming.caller is None, "prompt gone")
        await pilot.press("q")


async def test_refused_transfer_then_wrap_up_then_available(
    signaling_server: SignalingServer, bots: Bots
) -> None:
    app = DeskApp(desk_agent(signaling_server, wrap_up=2.0))
    async with app.run_test(size=SIZE) as pilot:
        status, incoming = app.query_one(StatusBar), app.query_one(IncomingCall)
        await until(pilot, lambda: status.connection == "connected", "connected")
        bots.call("--tone", "300", "--duration", "30")
        await until(pilot, lambda: incoming.caller is not None, "ringing")
        await pilot.press("a")
        await until(pilot, lambda: app.query_one(CallInfo).connected, "connected call")
        await pilot.press("t")
        await pilot.press(*"Nobody", "enter")
        await until(pilot, lambda: "unknown-agent" in status.problem, "transfer refused")
        app.save_screenshot("transfer-refused.svg", str(ARTIFACTS))
        await pilot.press("e")
        await until(pilot, lambda: status.state == "wrap-up", "wrap-up")
        app.save_screenshot("wrap-up.svg", str(ARTIFACTS))
        await until(pilot, lambda: status.state == "available", "available again", within=5)
        await pilot.press("q")


async def test_an_unreachable_server_shows_as_a_problem(tmp_path: Path) -> None:
    agent = Agent(["http://127.0.0.1:9"], CallOptions(source=ToneSource(440)), token=None)
    app = DeskApp(agent)
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one(StatusBar)
        await until(pilot, lambda: "cannot register" in status.problem, "problem shown")
        assert status.connection == "connecting"
        app.save_screenshot("unreachable.svg", str(ARTIFACTS))


async def test_a_tick_after_the_desk_closed_touches_no_widget() -> None:
    """Textual removes the screens before it stops the app's timers: the level meters' and the
    status line's last tick, or the agent's last event, must find nothing to do, not fail the
    app on its way out (seen under load: `NoMatches: '#mic-level'`)."""
    agent = Agent(["http://127.0.0.1:9"], CallOptions(source=ToneSource(440)), token=None)
    app = DeskApp(agent)
    async with app.run_test(size=SIZE):
        pass
    app.sync()
    app._levels()
    await app._every_second()


async def test_a_lost_server_shows_reconnecting_then_connected(
    signaling_server: SignalingServer,
) -> None:
    app = DeskApp(desk_agent(signaling_server))
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one(StatusBar)
        await until(pilot, lambda: status.connection == "connected", "connected")
        signaling_server.kill()
        await until(pilot, lambda: status.connection == "reconnecting", "reconnecting")
        await until(pilot, lambda: "signaling disconnected" in status.problem, "problem shown")
        app.save_screenshot("reconnecting.svg", str(ARTIFACTS))
        signaling_server.start()
        await until(pilot, lambda: status.connection == "connected", "back", within=30)
        await pilot.press("q")

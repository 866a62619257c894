"""The desk app: the widgets, the keys, and the glue to one `Agent` (no call handling here).

The `Agent` tells the app when something changed (`Agent.listeners`); the app then copies
what it shows into the widgets' reactive attributes. Every second it also reads the call's
getStats() figures; five times a second the levels.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import ClassVar, Protocol

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer

from agent_bot.agent import Agent
from agent_bot.call import Call
from agent_bot.desk.devices import DevicePrompt, Kind, SoundDevices
from agent_bot.desk.history import History
from agent_bot.desk.incall import CallInfo, InCall, NetworkLine, SoundLine
from agent_bot.desk.incoming import IncomingCall
from agent_bot.desk.meters import Meter
from agent_bot.desk.problems import ProblemLog
from agent_bot.desk.prompts import KeysHelp, TransferPrompt
from agent_bot.desk.quality import NetworkQuality
from agent_bot.desk.status import StatusBar
from agent_bot.media.level import CallLevels
from agent_bot.report import sound_summary
from agent_bot.signaling import SignalingError
from signaling_server.protocol import AgentState

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 5.0
"""Between attempts to register when the server is unreachable or refuses."""


class Device(Protocol):
    """A sound device the desk opens once its event loop runs, and closes on quit."""

    def start(self) -> None: ...

    def close(self) -> None: ...


class Ring(Device, Protocol):
    """An audible ring (`media.ringer.Ringer`)."""

    def ring(self, on: bool) -> None: ...


class DeskApp(App[int]):
    """One agent's desk: status, the ringing call, the call in progress, the history."""

    TITLE = "agent desk"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "accept", "Accept"),
        Binding("r", "reject", "Reject"),
        Binding("m", "mute", "Mute"),
        Binding("h", "hold", "Hold/resume"),
        Binding("e", "hang_up", "Hang up"),
        Binding("t", "transfer", "Transfer"),
        Binding("s", "ready_or_away", "Ready/away"),
        Binding("d", "devices", "Devices"),
        Binding("question_mark", "keys", "Keys", key_display="?"),
        Binding("q", "quit_desk", "Quit"),
    ]

    def __init__(
        self,
        agent: Agent,
        problems: ProblemLog | None = None,
        ringer: Ring | None = None,
        devices: SoundDevices | None = None,
        sound: Device | None = None,
    ) -> None:
        """`sound`: what plays and captures the calls (the sound engine, or a speaker)."""
        super().__init__()
        self.agent = agent
        self.devices = devices
        self._sound: list[Device] = [d for d in (sound, ringer) if d is not None]
        self.problems = problems or ProblemLog()
        self.ringer = ringer
        self.levels: dict[str, CallLevels] = {}
        self._rung_at: dict[str, float] = {}
        self._connected = False

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield IncomingCall(id="incoming")
        yield InCall(id="in-call")
        yield History(id="history")
        yield Footer()

    async def on_mount(self) -> None:
        logging.getLogger().addHandler(self.problems)
        self.query_one(StatusBar).agent_name = self.agent.name
        self.agent.listeners.append(self.sync)
        self.agent.ended_listeners.append(self._ended)
        for device in self._sound:
            device.start()
        self.set_interval(1.0, self._every_second)
        self.set_interval(0.2, self._levels)
        self.run_worker(self._sign_in(), exclusive=True)

    async def _sign_in(self) -> None:
        """Connect and register; a refusal or an unreachable server shows, then retries."""
        while True:
            try:
                await self.agent.start()
            except SignalingError as exc:
                self.show_problem(f"cannot register: {exc.message}")
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            self._connected = True
            self.sync()
            return

    # --- what is shown -----------------------------------------------------------------------

    @property
    def call(self) -> Call | None:
        """The call in focus: the newest not ending."""
        calls = [call for call in self.agent.calls.values() if not call.ending]
        return calls[-1] if calls else None

    @property
    def ringing(self) -> tuple[str, dict[str, object]] | None:
        return next(iter(self.agent.ringing.items()), None)

    def sync(self) -> None:
        """Copy the agent's state into the widgets."""
        if not self.is_running:
            return  # closing: Textual removes the screens before it stops the timers
        status = self.query_one(StatusBar)
        presence = self.agent.presence
        if not self._connected:
            status.connection = "connecting"
        else:
            status.connection = "connected" if self.agent.signaling.connected else "reconnecting"
        status.state = str(presence.state)
        status.queue = presence.queue_length
        until = presence.wrap_up_until
        status.wrap_up_left = None if until is None else max(0, round(until - time.monotonic()))
        incoming = self.query_one(IncomingCall)
        ringing = self.ringing
        self._rung_at = {k: v for k, v in self._rung_at.items() if k in self.agent.ringing}
        if self.ringer is not None:
            self.ringer.ring(ringing is not None)
        if ringing is None:
            incoming.caller = None
        else:
            call_id, data = ringing
            rung_at = self._rung_at.setdefault(call_id, time.monotonic())
            incoming.caller = str(data.get("customerName") or "a customer")
            incoming.transfer_from = str(data["transferFrom"]) if "transferFrom" in data else None
            incoming.ringing_for = int(time.monotonic() - rung_at)
        self._sync_call()

    def _sync_call(self) -> None:
        call = self.call
        panel = self.query_one(InCall)
        panel.active = call is not None
        if call is None:
            return
        info = self.query_one(CallInfo)
        info.peer = call.report.peer_name or call.peer_id
        started = call.report.times.accepted or time.time()
        info.seconds = int(time.time() - started)
        info.connected = call.connected.is_set()
        info.muted = call.muted
        info.held = call.held
        info.note = f"transfer failed: {call.transfer_failed}" if call.transfer_failed else ""

    async def _every_second(self) -> None:
        if not self.is_running:
            return  # closing, as in `sync`
        self.sync()
        for line in self.problems.take():
            self.show_problem(line)
        call = self.call
        if call is None or not call.connected.is_set():
            return
        try:
            quality = NetworkQuality.from_stats(await call.transport_stats())
        except Exception as exc:  # a call closing under us: no figures this second
            logger.debug("call=%s no stats: %s", call.call_id, exc)
            return
        if self.is_running:  # (it may have begun closing while the stats came)
            self.query_one(NetworkLine).summary = quality.summary()

    def _levels(self) -> None:
        if not self.is_running:
            return  # closing, as in `sync`
        call = self.call
        levels = None if call is None else self.levels.get(call.call_id)
        self.query_one("#mic-level", Meter).level = 0.0 if levels is None else levels.sent.rms
        self.query_one("#speaker-level", Meter).level = (
            0.0 if levels is None else levels.received.rms
        )
        speaker = self.agent.options.speaker
        sound = None if call is None or speaker is None else speaker.sound(call.call_id)
        self.query_one(SoundLine).summary = "–" if sound is None else sound_summary(sound)

    def show_problem(self, text: str) -> None:
        self.query_one(StatusBar).problem = text
        self.notify(text, severity="warning", timeout=5)

    def _ended(self, call: Call) -> None:
        report = call.report
        stamps = report.times
        began = stamps.connected or stamps.accepted
        seconds = 0 if began is None or stamps.ended is None else int(stamps.ended - began)
        mos = NetworkQuality.from_stats(report.stats).mos_text
        self.query_one(History).add_call(
            time.strftime("%H:%M:%S", time.localtime(began or time.time())),
            report.peer_name or call.peer_id,
            f"{seconds // 60:02d}:{seconds % 60:02d}",
            report.end_reason or "?",
            mos,
        )
        self.levels.pop(call.call_id, None)

    # --- keys --------------------------------------------------------------------------------

    async def action_accept(self) -> None:
        ringing = self.ringing
        if ringing is None:
            self.show_problem("no call is ringing")
            return
        call = await self.agent.accept(ringing[0])
        if call is None:
            self.show_problem("the call is gone (the caller gave up or it was taken)")
            return
        levels = CallLevels()
        call.add_tap(levels)
        self.levels[call.call_id] = levels

    async def action_reject(self) -> None:
        ringing = self.ringing
        if ringing is not None:
            await self.agent.reject(ringing[0])

    def action_mute(self) -> None:
        call = self.call
        if call is not None:
            self.agent.mute(call.call_id, not call.muted)

    async def action_hold(self) -> None:
        call = self.call
        if call is None:
            return
        try:
            await self.agent.hold(call.call_id, not call.held)
        except SignalingError as exc:
            self.show_problem(f"hold refused: {exc}")

    async def action_hang_up(self) -> None:
        call = self.call
        if call is not None:
            await call.hangup()

    def action_transfer(self) -> None:
        call = self.call
        if call is None:
            return

        async def chosen(to: str | None) -> None:
            if to is None:
                return
            try:
                await self.agent.transfer(call.call_id, to)
            except SignalingError as exc:
                self.show_problem(f"transfer to {to} refused: {exc}")
                return
            self.query_one(CallInfo).note = f"transferring to {to}…"

        self.push_screen(TransferPrompt(), chosen)

    async def action_ready_or_away(self) -> None:
        """Away when available; ready (available) when away or in wrap-up."""
        available = self.agent.presence.chosen is AgentState.AVAILABLE
        await self.agent.set_state(AgentState.AWAY if available else AgentState.AVAILABLE)

    def action_devices(self) -> None:
        devices = self.devices
        choices = [] if devices is None else devices.choices()
        if devices is None or not choices:
            self.show_problem("no sound device to switch to")
            return

        def chosen(choice: tuple[Kind, int] | None) -> None:
            if choice is not None:
                devices.switch(*choice)

        self.push_screen(DevicePrompt(choices), chosen)

    def action_keys(self) -> None:
        keys = [(b.key_display or b.key, b.description) for b in self._bindings_list()]
        self.push_screen(KeysHelp(keys))

    def _bindings_list(self) -> list[Binding]:
        return [b for b in self.BINDINGS if isinstance(b, Binding)]

    def on_unmount(self) -> None:
        logging.getLogger().removeHandler(self.problems)
        # the agent may outlive the screen (a test, ctrl+c): it no longer reaches the widgets
        self.agent.listeners.remove(self.sync)
        self.agent.ended_listeners.remove(self._ended)

    async def action_quit_desk(self) -> None:
        await self.agent.stop()
        for device in self._sound:
            device.close()
        self.exit(0)

"""The answering role: registers as an agent, takes calls, routes signaling to each call."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from agent_bot.admission import Admission, Limits, LoadMonitor
from agent_bot.call import Call
from agent_bot.calloptions import CallOptions
from agent_bot.endings import CallEnd
from agent_bot.ice import per_call_options
from agent_bot.presence import Presence
from agent_bot.report import CallReport
from agent_bot.routing import route_to_calls
from agent_bot.signaling import SignalingClient, SignalingError
from signaling_server.protocol import AgentState, Event

logger = logging.getLogger(__name__)


class Agent:
    """An agent bot: up to `max_calls` calls at once on one signaling connection."""

    def __init__(
        self,
        server_urls: list[str],
        options: CallOptions,
        *,
        token: str | None,
        name: str = "agent-bot",
        max_calls: int = 1,
        auto_accept: bool = True,
        limits: Limits | None = None,
        on_call_end: Callable[[CallReport], None] | None = None,
        wrap_up: float | None = None,
    ) -> None:
        self.options = options
        self.name = name
        self.on_call_end = on_call_end
        """Called with each call's report when it ends (the metrics)."""
        self.max_calls = max_calls
        self.auto_accept = auto_accept
        self.calls: dict[str, Call] = {}
        auth = {
            "role": "agent",
            "token": token,
            "name": name,
            "maxCalls": max_calls,
            "reportsConnected": True,
            "queueUpdates": True,
        }

        def registration() -> dict[str, Any]:
            """After a reconnection (its node may have died), the bot takes over its calls."""
            previous = self.signaling.previous_sid
            return auth if previous is None else {**auth, "replaces": previous}

        self.signaling = SignalingClient(server_urls, registration)
        self.signaling.on(Event.INCOMING_CALL, self._on_incoming)
        route_to_calls(self.signaling, self.calls)
        self.signaling.on(Event.CALL_ENDED, self._on_call_ended)
        self.signaling.on_reconnect(self._on_reconnect)
        self.ringing: dict[str, dict[str, Any]] = {}
        """Calls offered to this agent and not yet accepted or rejected, by call id."""
        self.on_ringing: Callable[[dict[str, Any]], None] | None = None
        self.admission = Admission(limits)
        self._monitor = LoadMonitor(self.admission, self._on_admission)
        self.listeners: list[Callable[[], None]] = []
        """Called after anything a front end shows changed (ringing, calls, state, queue)."""
        self.ended_listeners: list[Callable[[Call], None]] = []
        """Called with each call that ended (the desk's history)."""
        self.presence = Presence(self.signaling.request, wrap_up=wrap_up, on_change=self.changed)
        self.signaling.on(Event.QUEUE_UPDATE, self._on_queue_update)
        self.signaling.on(Event.CALL_TRANSFER_FAILED, self._on_transfer_failed)

    @property
    def calls_in_progress(self) -> int:
        """Calls that take a slot: a call being torn down does not."""
        return sum(not call.ending for call in self.calls.values())

    async def start(self) -> None:
        """Connect and register; raises `SignalingError` when refused."""
        await self.signaling.connect()
        logger.info("agent registered sid=%s max_calls=%d", self.signaling.sid, self.max_calls)
        await self.presence.tell()
        self._monitor.start()

    async def stop(self) -> None:
        """Hang up every call (the callers get `call-ended`) and disconnect."""
        self._monitor.stop()
        self.presence.close()
        await asyncio.gather(*(call.hangup() for call in list(self.calls.values())))
        await self.signaling.close()

    async def accept(self, call_id: str) -> Call | None:
        """Accept a ringing call and start it; None when it is gone or refused."""
        incoming = self.ringing.pop(call_id, None)
        if incoming is None:
            return None
        # The call exists before the server confirms, so that an offer or candidates racing
        # the acknowledgement find it.
        call = Call(
            call_id,
            self.signaling,
            per_call_options(self.options, call_id, incoming.get("iceServers")),
            role="agent",
            peer_id=str(incoming["customerId"]),
            offerer=str(incoming["offerer"]),
        )
        call.report.peer_name = incoming.get("customerName")
        call.on_end = self._on_end
        self.calls[call_id] = call
        try:
            await self.signaling.request(Event.CALL_ACCEPT, {"callId": call_id})
        except SignalingError as exc:
            logger.warning("call=%s accept refused: %s", call_id, exc)
            call.report.error = str(exc)
            await call.end(CallEnd.ERROR, notify=False)
            return None
        call.report.mark("accepted")
        logger.info("call=%s accepted from %s", call_id, call.peer_id)
        self.changed()
        if incoming["offerer"] == "agent":
            await call.attempt(call.send_offer())
        return call

    async def reject(self, call_id: str) -> None:
        if self.ringing.pop(call_id, None) is not None:
            await self.signaling.send(Event.CALL_REJECT, {"callId": call_id})
            self.changed()

    async def transfer(self, call_id: str, to: str) -> dict[str, Any]:
        """Hand a call to the agent named `to` (or `"queue"`); `SignalingError` when refused.

        The call goes on until the server ends it here (`call-ended transferred`).
        """
        ack = await self.signaling.request(Event.CALL_TRANSFER, {"callId": call_id, "to": to})
        logger.info("call=%s transfer to %s started", call_id, to)
        return ack

    async def hold(self, call_id: str, held: bool = True) -> None:
        """Put a call on hold (the customer hears the hold sound) or resume it."""
        await self.calls[call_id].hold(held)
        self.changed()

    def mute(self, call_id: str, muted: bool = True) -> None:
        """Send silence instead of the source (local: the server is not told)."""
        self.calls[call_id].mute(muted)
        self.changed()

    async def set_state(self, state: AgentState) -> None:
        """available (ready), away or wrap-up, as the person at the desk chooses."""
        await self.presence.set(state)

    def changed(self) -> None:
        for listener in list(self.listeners):
            listener()

    async def _on_queue_update(self, data: dict[str, Any]) -> None:
        self.presence.queue_update(data)

    async def _on_transfer_failed(self, data: dict[str, Any]) -> None:
        call_id = str(data.get("callId"))
        logger.info("call=%s transfer failed: %s", call_id, data.get("reason"))
        call = self.calls.get(call_id)
        if call is not None:
            call.transfer_failed = str(data.get("reason"))
        self.changed()

    async def _on_incoming(self, data: dict[str, Any]) -> None:
        call_id = str(data.get("callId"))
        self.ringing[call_id] = data
        logger.info(
            "call=%s incoming from %s (%s), offerer=%s",
            call_id,
            data.get("customerName"),
            data.get("customerId"),
            data.get("offerer"),
        )
        busy = self.calls_in_progress
        if busy >= self.max_calls or not self.admission.available:
            logger.info(
                "call=%s rejected: %d calls in progress, %s",
                call_id,
                busy,
                "available" if self.admission.available else "overloaded",
            )
            await self.reject(call_id)
        elif self.auto_accept:
            await self.accept(call_id)
        elif self.on_ringing is not None:
            self.on_ringing(data)
        self.changed()

    async def _on_call_ended(self, data: dict[str, Any]) -> None:
        call_id = str(data.get("callId"))
        self.ringing.pop(call_id, None)
        call = self.calls.get(call_id)
        if call is not None:
            await call.end(str(data.get("reason", "hangup")), notify=False)
        self.changed()

    async def _on_reconnect(self) -> None:
        # The server forgot everything if it restarted; calls with flowing media go on.
        await self.presence.tell()  # (its state and the queue length, which it may have lost)
        logger.info(
            "agent re-registered sid=%s, %d calls in progress", self.signaling.sid, len(self.calls)
        )

    async def _on_admission(self, available: bool) -> None:
        await self.presence.overload(not available)

    async def _on_end(self, call: Call) -> None:
        self.calls.pop(call.call_id, None)
        logger.info("call=%s report %s", call.call_id, json.dumps(call.report.to_dict()))
        if self.on_call_end is not None:
            self.on_call_end(call.report)
        for listener in list(self.ended_listeners):
            listener(call)
        self.changed()
        await self.presence.call_ended()

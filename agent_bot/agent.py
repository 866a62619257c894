"""The answering role: registers as an agent, takes calls, routes signaling to each call."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from agent_bot.admission import Admission, Limits, LoadMonitor
from agent_bot.call import Call, CallEnd, CallOptions, route_to_calls
from agent_bot.ice import per_call_options
from agent_bot.signaling import SignalingClient, SignalingError
from signaling_server.protocol import Event

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
    ) -> None:
        self.options = options
        self.max_calls = max_calls
        self.auto_accept = auto_accept
        self.calls: dict[str, Call] = {}
        auth = {
            "role": "agent",
            "token": token,
            "name": name,
            "maxCalls": max_calls,
            "reportsConnected": True,
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

    @property
    def calls_in_progress(self) -> int:
        """Calls that take a slot: a call being torn down does not."""
        return sum(not call.ending for call in self.calls.values())

    async def start(self) -> None:
        """Connect and register; raises `SignalingError` when refused."""
        await self.signaling.connect()
        logger.info("agent registered sid=%s max_calls=%d", self.signaling.sid, self.max_calls)
        self._monitor.start()

    async def stop(self) -> None:
        """Hang up every call (the callers get `call-ended`) and disconnect."""
        self._monitor.stop()
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
        if incoming["offerer"] == "agent":
            await call.attempt(call.send_offer())
        return call

    async def reject(self, call_id: str) -> None:
        if self.ringing.pop(call_id, None) is not None:
            await self.signaling.send(Event.CALL_REJECT, {"callId": call_id})

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

    async def _on_call_ended(self, data: dict[str, Any]) -> None:
        call_id = str(data.get("callId"))
        self.ringing.pop(call_id, None)
        call = self.calls.get(call_id)
        if call is not None:
            await call.end(str(data.get("reason", "hangup")), notify=False)

    async def _on_reconnect(self) -> None:
        # The server forgot everything if it restarted; calls with flowing media go on.
        if not self.admission.available:
            await self._on_admission(False)
        logger.info(
            "agent re-registered sid=%s, %d calls in progress", self.signaling.sid, len(self.calls)
        )

    async def _on_admission(self, available: bool) -> None:
        await self.signaling.send(Event.AGENT_STATUS, {"available": available})

    async def _on_end(self, call: Call) -> None:
        self.calls.pop(call.call_id, None)
        logger.info("call=%s report %s", call.call_id, json.dumps(call.report.to_dict()))

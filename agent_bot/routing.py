"""Relayed signaling to the call it names: one handler per event for all of a client's calls."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agent_bot.call import Call
from agent_bot.signaling import Handler, SignalingClient
from signaling_server.protocol import Event

logger = logging.getLogger(__name__)


def route_to_calls(signaling: SignalingClient, calls: Mapping[str, Call]) -> None:
    """Deliver the relayed `offer`, `answer`, `ice-candidate` (and `call-hold` /
    `call-resume`) events to the call they name.

    `calls` is read at each event, so calls added to it later are found.
    """

    def routed(step: Callable[[Call, dict[str, Any]], Awaitable[None]]) -> Handler:
        async def dispatch(data: dict[str, Any]) -> None:
            call = calls.get(str(data.get("callId")))
            if call is None:
                logger.warning("signaling for unknown call=%s ignored", data.get("callId"))
            else:
                await call.attempt(step(call, data))

        return dispatch

    signaling.on(Event.OFFER, routed(lambda call, data: call.on_offer(data["offer"])))
    signaling.on(Event.ANSWER, routed(lambda call, data: call.on_answer(data["answer"])))
    signaling.on(
        Event.ICE_CANDIDATE, routed(lambda call, data: call.on_candidate(data.get("candidate")))
    )
    signaling.on(Event.CALL_HOLD, routed(lambda call, data: call.on_peer_hold(True)))
    signaling.on(Event.CALL_RESUME, routed(lambda call, data: call.on_peer_hold(False)))

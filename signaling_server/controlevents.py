"""The v1.1 agent events (`agent-status` with `state`, hold, resume, transfer): payload to
pairing operation. `app.py` registers each like any other event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from signaling_server.outcome import Outcome
from signaling_server.pairing import Pairing
from signaling_server.protocol import (
    AgentStatus,
    CallRef,
    CallTransfer,
    ErrorCode,
    Event,
    ProtocolError,
    parse,
)

Operation = Callable[[Pairing, str, Any], Awaitable[Outcome]]


async def agent_status(pairing: Pairing, sid: str, data: Any) -> Outcome:
    """`{available}` (v1, acked as before) or `{state}` (v1.1, the ack adds state and queue)."""
    if data is None:  # (every field is optional: `parse` would take null for {})
        raise ProtocolError(ErrorCode.INVALID_PAYLOAD, "payload must be a JSON object, not null")
    status = parse(AgentStatus, data)
    state = status.resolved()
    if status.state is None:
        return await pairing.set_available(sid, bool(status.available))
    return await pairing.set_state(sid, state)


async def hold(pairing: Pairing, sid: str, data: Any) -> Outcome:
    return await pairing.hold(sid, parse(CallRef, data).callId, True)


async def resume(pairing: Pairing, sid: str, data: Any) -> Outcome:
    return await pairing.hold(sid, parse(CallRef, data).callId, False)


async def transfer(pairing: Pairing, sid: str, data: Any) -> Outcome:
    request = parse(CallTransfer, data)
    return await pairing.transfer(sid, request.callId, request.to)


CONTROL_EVENTS: dict[Event, Operation] = {
    Event.AGENT_STATUS: agent_status,
    Event.CALL_HOLD: hold,
    Event.CALL_RESUME: resume,
    Event.CALL_TRANSFER: transfer,
}

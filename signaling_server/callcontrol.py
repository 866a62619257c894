"""Call control by the agent of an active call (v1.1): hold / resume and transfer.

Pure rules, mixed into `Pairing` (they share its store, lock and helpers). A transfer to a
named agent rings it while the call goes on with the first agent; once it accepts, the call is
its and the first agent's leg ends (`call-ended transferred`); a reject, ring timeout or
disconnect of the target fails the transfer and nothing else changes. A transfer to the queue
ends the first agent's leg at once and puts the call at the head of the queue.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any

from signaling_server.identity import customer_identity
from signaling_server.outcome import Emit, Outcome, Ring
from signaling_server.protocol import (
    TRANSFER_TO_QUEUE,
    EndReason,
    ErrorCode,
    Event,
    ProtocolError,
)
from signaling_server.stores.base import Agent, Call, CallState, PairingStore

log = logging.getLogger(__name__)


def call_as_offered(call: Call) -> dict[str, Any]:
    """`call` as an agent is told of it: the `incoming-call` payload (`iceServers` are added
    when it is sent) and the fields of the `call-accept` ack."""
    return {
        "callId": call.id,
        "customerId": call.customer,
        "customerName": call.customer_name,
        "customerIdentity": customer_identity(call.customer_identity, call.customer_name),
        "offerer": call.offerer,
    }


class CallControl(ABC):
    """Hold, resume and transfer; the operations `Pairing` offers on top of its own."""

    _store: PairingStore
    _clock: Callable[[], float]

    @abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[Outcome]: ...

    @abstractmethod
    async def _agent(self, sid: str) -> Agent: ...

    @abstractmethod
    async def _call_of(self, sid: str, call_id: str) -> Call: ...

    @abstractmethod
    async def _release(self, call_id: str, agent_sid: str) -> None: ...

    @abstractmethod
    async def _dispatch(self, out: Outcome) -> None: ...

    # --- hold --------------------------------------------------------------------------------

    async def hold(self, sid: str, call_id: str, held: bool) -> Outcome:
        """The agent puts its active call on hold (or resumes it): the customer is told."""
        async with self._transaction() as out:
            call = await self._active_call_of_agent(sid, call_id)
            event = Event.CALL_HOLD if held else Event.CALL_RESUME
            out.emits.append(Emit(call.customer, event, {"callId": call.id}))
            out.ack = {"callId": call.id}
            log.info("call %s: %s by agent %s", call.id, "held" if held else "resumed", sid)
            return out

    # --- transfer ----------------------------------------------------------------------------

    async def transfer(self, sid: str, call_id: str, to: str) -> Outcome:
        """The agent hands its active call to the agent named `to`, or to the queue."""
        async with self._transaction() as out:
            call = await self._active_call_of_agent(sid, call_id)
            if call.transfer_to is not None:
                raise ProtocolError(
                    ErrorCode.INVALID_STATE, f"call {call_id} is already being transferred"
                )
            agent = await self._agent(sid)
            if to == TRANSFER_TO_QUEUE:
                await self._to_queue(call, agent, out)
            else:
                await self._ring_transfer(call, agent, await self._target(to, sid), out)
            return out

    async def _active_call_of_agent(self, sid: str, call_id: str) -> Call:
        call = await self._call_of(sid, call_id)
        if sid != call.agent:
            raise ProtocolError(ErrorCode.FORBIDDEN, "only the call's agent may do this")
        if call.state is not CallState.ACTIVE:
            raise ProtocolError(ErrorCode.INVALID_STATE, f"call {call_id} is not accepted")
        return call

    async def _target(self, name: str, sid: str) -> Agent:
        """The agent named `name` (not `sid`) that can take a call now; else why not."""
        named = [a for a in await self._store.agents() if a.name == name and a.sid != sid]
        if not named:
            raise ProtocolError(ErrorCode.UNKNOWN_AGENT, f"no other agent named {name!r}")
        ready = [a for a in named if a.available]
        if not ready:
            raise ProtocolError(ErrorCode.AGENT_AWAY, f"agent {name!r} is {named[0].state}")
        free = [a for a in ready if a.free_slots > 0]
        if not free:
            raise ProtocolError(ErrorCode.AGENT_BUSY, f"agent {name!r} has no free call slot")
        return min(free, key=lambda a: (len(a.calls), a.idle_since, a.sid))

    async def _ring_transfer(self, call: Call, agent: Agent, target: Agent, out: Outcome) -> None:
        await self._store.put_agent(replace(target, calls=target.calls | {call.id}))
        await self._store.put_call(replace(call, transfer_to=target.sid))
        offered = {**call_as_offered(call), "transferFrom": agent.name}
        out.emits.append(Emit(target.sid, Event.INCOMING_CALL, offered))
        out.emits.append(Emit(call.customer, Event.CALL_TRANSFERRING, {"callId": call.id}))
        out.rings.append(Ring(call.id, target.sid))
        out.ack = {"callId": call.id, "to": target.name, "agentId": target.sid}
        log.info("call %s: transfer from agent %s ringing agent %s", call.id, agent.sid,
                 target.sid)  # fmt: skip

    async def _to_queue(self, call: Call, agent: Agent, out: Outcome) -> None:
        await self._release(call.id, agent.sid)
        queued = replace(
            call,
            state=CallState.QUEUED,
            agent=None,
            connected=False,
            head=True,
            declined=call.declined | {agent.sid},
        )
        await self._store.put_call(queued)
        await self._store.enqueue(call.id, queued.order)
        out.emits.append(
            Emit(agent.sid, Event.CALL_ENDED, {"callId": call.id, "reason": EndReason.TRANSFERRED})
        )
        out.emits.append(Emit(call.customer, Event.CALL_TRANSFERRING, {"callId": call.id}))
        out.ack = {"callId": call.id, "to": TRANSFER_TO_QUEUE}
        log.info("call %s: transferred by agent %s to the head of the queue", call.id, agent.sid)
        await self._dispatch(out)

    async def _take_transfer(self, agent: Agent, call_id: str, out: Outcome) -> bool:
        """`agent` accepts `call_id` rung at it by a transfer: the call becomes its call."""
        call = await self._store.get_call(call_id)
        if call is None or call.transfer_to != agent.sid or call.agent is None:
            return False
        previous = call.agent
        await self._release(call.id, previous)
        await self._store.put_call(
            replace(call, agent=agent.sid, transfer_to=None, connected=False)
        )
        out.accepted = 1
        if agent.reports_connected:
            out.deadlines.append(call.id)
        out.emits.append(
            Emit(previous, Event.CALL_ENDED, {"callId": call.id, "reason": EndReason.TRANSFERRED})
        )
        out.emits.append(
            Emit(
                call.customer,
                Event.CALL_ACCEPTED,
                {
                    "callId": call.id,
                    "agentId": agent.sid,
                    "agentName": agent.name,
                    "transferred": True,
                },
            )
        )
        out.ack = call_as_offered(call)
        log.info("call %s: transferred from agent %s to agent %s", call.id, previous, agent.sid)
        await self._dispatch(out)
        return True

    async def _fail_transfer(self, target: str, call_id: str, reason: str, out: Outcome) -> bool:
        """The transfer of `call_id` to `target` did not happen; the call goes on as it was."""
        call = await self._store.get_call(call_id)
        if call is None or call.transfer_to != target:
            return False
        await self._release(call.id, target)
        await self._store.put_call(replace(call, transfer_to=None))
        failed = {"callId": call.id, "reason": reason}
        for party in (call.agent, call.customer):
            if party is not None:
                out.emits.append(Emit(party, Event.CALL_TRANSFER_FAILED, failed))
        log.info("call %s: transfer to agent %s failed (%s)", call.id, target, reason)
        await self._dispatch(out)
        return True

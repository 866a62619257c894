"""Pairing customers with agents: ringing, the FIFO queue, accept/reject, endings, relay routes.

Pure logic: no Socket.IO, no timers. Each operation reads and writes a `PairingStore` and
returns an `Outcome` (`outcome.py`): the fields of the caller's acknowledgement, the messages
to send and the timers to start. Refusals raise `ProtocolError` before anything is changed.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

from signaling_server.callcontrol import CallControl, call_as_offered
from signaling_server.outcome import Emit, Outcome, Ring, Stats, Timing, TimingName
from signaling_server.protocol import (
    AgentState,
    EndReason,
    ErrorCode,
    Event,
    HangupReason,
    Offerer,
    ProtocolError,
)
from signaling_server.registration import Registration
from signaling_server.stores.base import Agent, Call, CallState, Customer, PairingStore

log = logging.getLogger(__name__)


class Pairing(Registration, CallControl):
    """Who talks to whom. Operations are serialised by the store's lock.

    Registration (`registration.py`), hold and transfer (`callcontrol.py`) are mixed in.
    """

    def __init__(
        self,
        store: PairingStore,
        clock: Callable[[], float] = time.monotonic,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._store = store
        self._clock = clock
        self._new_id = new_id

    # --- connections -------------------------------------------------------------------------

    async def dispatch(self) -> Outcome:
        """Offer queued calls to free agents (done by every operation that frees a slot)."""
        async with self._transaction() as out:
            await self._dispatch(out)
            return out

    async def remove(self, sid: str) -> Outcome:
        """A client disconnected: end or re-offer its calls, forget it."""
        async with self._transaction() as out:
            agent = await self._store.get_agent(sid)
            customer = await self._store.get_customer(sid)
            if agent is not None:
                # gone first: its ringing calls then wait for the agents that remain, or for new
                await self._store.delete_agent(sid)
                for call_id in sorted(agent.calls):
                    call = await self._store.get_call(call_id)
                    if call is None or await self._fail_transfer(
                        sid, call_id, EndReason.PEER_DISCONNECTED, out
                    ):
                        continue
                    if call.state is CallState.RINGING:
                        await self._decline(call, out)
                    else:
                        await self._end(call, EndReason.PEER_DISCONNECTED, out, call.customer)
            if customer is not None:
                if customer.call is not None:
                    call = await self._store.get_call(customer.call)
                    if call is not None:
                        await self._end(call, EndReason.PEER_DISCONNECTED, out, call.agent)
                await self._store.delete_customer(sid)
            await self._dispatch(out)
            return out

    # --- requests ----------------------------------------------------------------------------

    async def request_call(self, sid: str, offerer: Offerer) -> Outcome:
        async with self._transaction() as out:
            customer = await self._customer(sid)
            if customer.call is not None:
                raise ProtocolError(
                    ErrorCode.INVALID_STATE, f"you already have a call: {customer.call}"
                )
            call = Call(
                self._new_id(), sid, customer.name, offerer, created=self._clock(),
                customer_identity=customer.identity,
            )  # fmt: skip
            await self._store.put_customer(replace(customer, call=call.id))
            await self._store.put_call(call)
            await self._store.enqueue(call.id, call.created)
            log.info("call %s: requested by customer %s", call.id, sid)
            await self._dispatch(out)
            queue = await self._store.queue()
            if call.id in queue:
                out.quiet.add(call.id)
                out.ack = {
                    "callId": call.id,
                    "status": "queued",
                    "position": queue.index(call.id) + 1,
                }
                log.info("call %s: queued at %d", call.id, out.ack["position"])
            else:
                out.ack = {"callId": call.id, "status": "ringing", "position": 0}
            return out

    async def accept(self, sid: str, call_id: str) -> Outcome:
        async with self._transaction() as out:
            agent = await self._agent(sid)
            if await self._take_transfer(agent, call_id, out):
                return out
            call = await self._ringing_at(agent, call_id)
            now = self._clock()
            await self._store.put_call(replace(call, state=CallState.ACTIVE, accepted_at=now))
            out.accepted = 1
            out.timings.append(Timing(TimingName.ACCEPTED, now - call.created))
            if agent.reports_connected:
                out.deadlines.append(call.id)
            out.emits.append(
                Emit(
                    call.customer,
                    Event.CALL_ACCEPTED,
                    {"callId": call.id, "agentId": sid, "agentName": agent.name},
                )
            )
            out.ack = call_as_offered(call)
            log.info("call %s: accepted by agent %s", call.id, sid)
            return out

    async def reject(self, sid: str, call_id: str) -> Outcome:
        async with self._transaction() as out:
            agent = await self._agent(sid)
            out.ack = {"callId": call_id}
            if await self._fail_transfer(sid, call_id, "rejected", out):
                return out
            call = await self._ringing_at(agent, call_id)
            log.info("call %s: rejected by agent %s", call.id, sid)
            await self._decline(call, out)
            await self._dispatch(out)
            out.ack = {"callId": call.id}
            return out

    async def ring_timeout(self, call_id: str, agent_sid: str) -> Outcome:
        """The ring timer of `call_id` at `agent_sid` expired; a no-op if it was answered."""
        async with self._transaction() as out:
            call = await self._store.get_call(call_id)
            if call is not None and call.transfer_to == agent_sid:
                out.emits.append(
                    Emit(agent_sid, Event.CALL_ENDED,
                         {"callId": call.id, "reason": EndReason.RING_TIMEOUT})
                )  # fmt: skip
                await self._fail_transfer(agent_sid, call_id, EndReason.RING_TIMEOUT, out)
                return out
            if call is None or call.state is not CallState.RINGING or call.agent != agent_sid:
                return out
            log.info("call %s: agent %s did not answer in time", call.id, agent_sid)
            out.emits.append(
                Emit(
                    agent_sid,
                    Event.CALL_ENDED,
                    {"callId": call.id, "reason": EndReason.RING_TIMEOUT},
                )
            )
            await self._decline(call, out)
            await self._dispatch(out)
            return out

    async def hangup(self, sid: str, call_id: str, reason: HangupReason | None = None) -> Outcome:
        """`sid` ends its call: a person hung up, or (`reason`) its media failed."""
        async with self._transaction() as out:
            call = await self._call_of(sid, call_id)
            if sid == call.agent and call.state is CallState.RINGING:
                raise ProtocolError(
                    ErrorCode.INVALID_STATE, f"call {call_id} is ringing: use call-reject"
                )
            other = call.agent if sid == call.customer else call.customer
            log.info("call %s: hung up by %s (%s)", call.id, sid, reason or "hangup")
            await self._end(call, EndReason(reason or EndReason.HANGUP), out, other)
            await self._dispatch(out)
            out.ack = {"callId": call.id}
            return out

    async def connected(self, sid: str, call_id: str) -> Outcome:
        """A party of an accepted call reports its media connected: no connect deadline."""
        async with self._transaction() as out:
            call = await self._call_of(sid, call_id)
            if call.state is not CallState.ACTIVE:
                raise ProtocolError(ErrorCode.INVALID_STATE, f"call {call_id} is not accepted")
            if not call.connected:
                await self._store.put_call(replace(call, connected=True))
                out.timings.append(Timing(TimingName.CONNECTED, self._clock() - call.created))
                log.info("call %s: connected (reported by %s)", call.id, sid)
            out.ack = {"callId": call.id}
            return out

    async def connect_timeout(self, call_id: str) -> Outcome:
        """The connect deadline of an accepted call expired: end it unless it connected."""
        async with self._transaction() as out:
            call = await self._store.get_call(call_id)
            if call is None or call.state is not CallState.ACTIVE or call.connected:
                return out
            log.info("call %s: no party reported connected media in time", call.id)
            await self._end(call, EndReason.CONNECT_TIMEOUT, out, call.customer, call.agent)
            await self._dispatch(out)
            return out

    async def set_available(self, sid: str, available: bool) -> Outcome:
        """`agent-status {available}` (v1): available, or away."""
        out = await self.set_state(sid, AgentState.AVAILABLE if available else AgentState.AWAY)
        out.ack = {"available": available}
        return out

    async def set_state(self, sid: str, state: AgentState) -> Outcome:
        """`agent-status {state}` (v1.1): only an available agent is offered calls."""
        async with self._transaction() as out:
            agent = await self._agent(sid)
            available = state is AgentState.AVAILABLE
            await self._store.put_agent(replace(agent, available=available, state=state))
            log.info("agent %s: %s", sid, state)
            await self._dispatch(out)
            queued = len(await self._store.queue())
            out.ack = {"available": available, "state": state, "queue": queued}
            return out

    async def route(self, sender: str, target: str, call_id: str | None) -> str:
        """The id of the accepted call between `sender` and `target`, else `not-your-peer`."""
        call = await self._active_between(sender, target)
        if call is None or (call_id is not None and call_id != call.id):
            raise ProtocolError(
                ErrorCode.NOT_YOUR_PEER,
                f"{target} is not your peer in an accepted call"
                + (f" {call_id}" if call_id is not None else ""),
            )
        return call.id

    async def stats(self) -> Stats:
        calls = await self._store.calls()
        return Stats(
            agents=len(await self._store.agents()),
            customers=await self._store.customer_count(),
            ringing=sum(c.state is CallState.RINGING for c in calls),
            active=sum(c.state is CallState.ACTIVE for c in calls),
            queued=len(await self._store.queue()),
        )

    # --- rules -------------------------------------------------------------------------------

    async def _dispatch(self, out: Outcome) -> None:
        """Offer queued calls, first in line first, to the least busy, longest-idle agents."""
        queue = await self._store.queue()
        if not queue:
            return
        free = [a for a in await self._store.agents() if a.available and a.free_slots > 0]
        for call_id in queue:
            if not free:
                return
            call = await self._store.get_call(call_id)
            if call is None:
                continue
            candidates = [a for a in free if a.sid not in call.declined]
            if not candidates:
                continue
            agent = min(candidates, key=lambda a: (len(a.calls), a.idle_since, a.sid))
            await self._store.dequeue(call.id)
            rung = await self._ring(call, agent, out)
            free = [a for a in free if a.sid != agent.sid]
            if rung.free_slots > 0:
                free.append(rung)

    async def _ring(self, call: Call, agent: Agent, out: Outcome) -> Agent:
        agent = replace(agent, calls=agent.calls | {call.id})
        await self._store.put_agent(agent)
        await self._store.put_call(replace(call, state=CallState.RINGING, agent=agent.sid))
        out.emits.append(Emit(agent.sid, Event.INCOMING_CALL, call_as_offered(call)))
        if not call.declined:  # its first ring: it waited from the request until now
            out.timings.append(Timing(TimingName.QUEUE_WAIT, self._clock() - call.created))
        out.rings.append(Ring(call.id, agent.sid))
        log.info("call %s: ringing agent %s", call.id, agent.sid)
        return agent

    async def _decline(self, call: Call, out: Outcome) -> None:
        """Take a ringing call from its agent: queue it again, or end it if no agent is left."""
        assert call.agent is not None
        await self._release(call.id, call.agent)
        call = replace(
            call, state=CallState.QUEUED, agent=None, declined=call.declined | {call.agent}
        )
        connected = {a.sid for a in await self._store.agents()}
        if connected and connected <= call.declined:
            await self._end(call, EndReason.NO_AGENT, out, call.customer)
            return
        await self._store.put_call(call)
        await self._store.enqueue(call.id, call.order)

    async def _end(self, call: Call, reason: EndReason, out: Outcome, *notify: str | None) -> None:
        """Forget `call`, free its agent's slot and tell each party in `notify` why it ended."""
        await self._store.delete_call(call.id)
        await self._store.dequeue(call.id)
        customer = await self._store.get_customer(call.customer)
        if customer is not None and customer.call == call.id:
            await self._store.put_customer(replace(customer, call=None))
        if call.agent is not None:
            await self._release(call.id, call.agent)
        if call.transfer_to is not None:  # a transfer was ringing: that agent is told too
            await self._release(call.id, call.transfer_to)
            notify = (*notify, call.transfer_to)
        for sid in notify:
            if sid is not None:
                out.emits.append(Emit(sid, Event.CALL_ENDED, {"callId": call.id, "reason": reason}))
        out.ended.append(reason)
        if call.accepted_at is not None:
            out.timings.append(Timing(TimingName.DURATION, self._clock() - call.accepted_at))
        log.info("call %s: ended (%s)", call.id, reason)

    async def _release(self, call_id: str, agent_sid: str) -> None:
        agent = await self._store.get_agent(agent_sid)
        if agent is None:
            return
        calls = agent.calls - {call_id}
        idle_since = self._clock() if not calls else agent.idle_since
        await self._store.put_agent(replace(agent, calls=calls, idle_since=idle_since))

    async def _active_between(self, sender: str, target: str) -> Call | None:
        customer = await self._store.get_customer(sender)
        if customer is not None:
            agent = target
        else:
            customer = await self._store.get_customer(target)
            agent = sender
        if customer is None or customer.call is None:
            return None
        call = await self._store.get_call(customer.call)
        if call is None or call.state is not CallState.ACTIVE or call.agent != agent:
            return None
        return call

    # --- lookups -----------------------------------------------------------------------------

    async def _agent(self, sid: str) -> Agent:
        agent = await self._store.get_agent(sid)
        if agent is None:
            raise ProtocolError(ErrorCode.FORBIDDEN, "only agents may do this")
        return agent

    async def _customer(self, sid: str) -> Customer:
        customer = await self._store.get_customer(sid)
        if customer is None:
            raise ProtocolError(ErrorCode.FORBIDDEN, "only customers may do this")
        return customer

    async def _call_of(self, sid: str, call_id: str) -> Call:
        call = await self._store.get_call(call_id)
        if call is None or sid not in (call.customer, call.agent):
            raise ProtocolError(ErrorCode.UNKNOWN_CALL, f"no call {call_id} of yours")
        return call

    async def _ringing_at(self, agent: Agent, call_id: str) -> Call:
        call = await self._store.get_call(call_id)
        if call is None or call.agent != agent.sid:
            raise ProtocolError(ErrorCode.UNKNOWN_CALL, f"no call {call_id} of yours")
        if call.state is not CallState.RINGING:
            raise ProtocolError(ErrorCode.INVALID_STATE, f"call {call_id} is not ringing")
        return call

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Outcome]:
        """Serialise an operation; afterwards tell queued customers whose position changed,
        and the agents that asked (`queueUpdates`) the queue's length when it changed."""
        async with self._store.lock():
            before = {call_id: i for i, call_id in enumerate(await self._store.queue(), start=1)}
            out = Outcome()
            yield out
            queue = await self._store.queue()
            if len(queue) != len(before):
                for agent in await self._store.agents():
                    if agent.queue_updates:
                        out.emits.append(
                            Emit(agent.sid, Event.QUEUE_UPDATE, {"length": len(queue)})
                        )
            for position, call_id in enumerate(queue, start=1):
                if before.get(call_id) == position or call_id in out.quiet:
                    continue
                call = await self._store.get_call(call_id)
                if call is not None:
                    out.emits.append(
                        Emit(
                            call.customer,
                            Event.CALL_QUEUED,
                            {"callId": call_id, "position": position},
                        )
                    )

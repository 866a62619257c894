"""Registration, mixed into `Pairing`: a client joins as an agent or a customer.

A reconnected agent (`replaces`: its old sid) takes over the calls of its old registration
when the name and the token identity match: its active calls (and a transfer ringing at it)
move to the new sid, its ringing calls go back in line where they were.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from signaling_server.identity import Identity
from signaling_server.stores.base import Agent, CallState, Customer, PairingStore

log = logging.getLogger(__name__)


class Registration:
    """Clients joining, with `Pairing`'s store, lock and clock: no Socket.IO, no timers."""

    _store: PairingStore
    _clock: Callable[[], float]

    async def add_agent(
        self,
        sid: str,
        name: str,
        max_calls: int,
        *,
        reports_connected: bool = False,
        replaces: str | None = None,
        identity: Identity | None = None,
        queue_updates: bool = False,
    ) -> None:
        """Register an agent; call `dispatch` once it can receive messages.

        `replaces`: the sid the same agent had before it reconnected (through another node,
        when its node died). If that registration is still here under the same name and
        the same token identity (`sub`; none for the shared token), the new one takes over
        its active calls, so they can still be hung up and relayed; its ringing calls are
        offered again.
        """
        agent = Agent(
            sid, name, max_calls, idle_since=self._clock(), reports_connected=reports_connected,
            identity=identity, queue_updates=queue_updates,
        )  # fmt: skip
        async with self._store.lock():
            previous = None if replaces is None else await self._store.get_agent(replaces)
            if previous is not None and previous.name == name and replaces != sid:
                if _sub(previous.identity) == _sub(identity):
                    agent = await self._take_over(previous, agent)
                else:
                    log.warning("agent %s: may not replace %s: another identity", sid, replaces)
            await self._store.put_agent(agent)

    async def _take_over(self, previous: Agent, agent: Agent) -> Agent:
        """`agent` replaces `previous` (the same agent, reconnected): its calls move over."""
        await self._store.delete_agent(previous.sid)
        active = set()
        for call_id in previous.calls:
            call = await self._store.get_call(call_id)
            if call is None:
                continue
            if call.transfer_to == previous.sid:  # a transfer ringing here: it rings on
                await self._store.put_call(replace(call, transfer_to=agent.sid))
                active.add(call_id)
            elif call.state is CallState.ACTIVE:
                await self._store.put_call(replace(call, agent=agent.sid))
                active.add(call_id)
            else:  # ringing at the old connection: in line again, where it was
                await self._store.put_call(replace(call, state=CallState.QUEUED, agent=None))
                await self._store.enqueue(call.id, call.order)
        log.info("agent %s: replaces %s, taking over %d calls", agent.sid, previous.sid,
                 len(active))  # fmt: skip
        return replace(
            agent,
            calls=frozenset(active),
            available=previous.available,
            idle_since=previous.idle_since,
        )

    async def add_customer(self, sid: str, name: str, identity: Identity | None = None) -> None:
        await self._store.put_customer(Customer(sid, name, identity=identity))


def _sub(identity: Identity | None) -> str | None:
    return None if identity is None else identity.sub

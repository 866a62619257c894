"""The pairing state (agents, customers, calls, queue) and the narrow async store interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum

from signaling_server.identity import Identity
from signaling_server.protocol import Offerer

HEAD_OF_QUEUE = 1e12
"""Seconds a transferred call's queue order is moved ahead of its request time."""


class CallState(StrEnum):
    QUEUED = "queued"
    RINGING = "ringing"
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class Agent:
    """A connected agent; `calls` holds the calls ringing at it or active with it."""

    sid: str
    name: str
    max_calls: int
    available: bool = True
    calls: frozenset[str] = frozenset()
    idle_since: float = 0.0
    # it sends `call-connected`: its accepted calls that never connect are ended
    reports_connected: bool = False
    # from its signed token; None: the shared agent token (or none)
    identity: Identity | None = None
    # v1.1: available / away / wrap-up (`available` is True exactly when it is "available")
    state: str = "available"
    # v1.1: it asked for `queue-update` messages
    queue_updates: bool = False

    @property
    def free_slots(self) -> int:
        return self.max_calls - len(self.calls)


@dataclass(frozen=True, slots=True)
class Customer:
    """A connected customer; `call` is its one call (queued, ringing or active), if any."""

    sid: str
    name: str
    call: str | None = None
    # from its signed token; None: anonymous
    identity: Identity | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """A customer's call; `declined` holds the agents that rejected it or let it ring out.

    `connected`: a party reported (`call-connected`) that the call's media connected.
    """

    id: str
    customer: str
    customer_name: str
    offerer: Offerer
    created: float
    state: CallState = CallState.QUEUED
    agent: str | None = None
    declined: frozenset[str] = frozenset()
    connected: bool = False
    # the customer's verified identity, if any; when the agent accepted (pairing clock)
    customer_identity: Identity | None = None
    accepted_at: float | None = None
    # v1.1 transfers: the agent being rung to take over this active call; `head`: it went
    # back to the queue by transfer, so it waits ahead of every call that did not
    transfer_to: str | None = None
    head: bool = False

    @property
    def order(self) -> float:
        """Its place in the queue: request time, ahead of everything when transferred."""
        return self.created - HEAD_OF_QUEUE if self.head else self.created


class PairingStore(ABC):
    """Records keyed by Socket.IO sid / call id, plus the FIFO queue of call ids.

    Records are immutable: a change is a `put` of a new record. `lock()` serialises the
    pairing operations of every server sharing the store.
    """

    @abstractmethod
    def lock(self) -> AbstractAsyncContextManager[object]: ...

    @abstractmethod
    async def get_agent(self, sid: str) -> Agent | None: ...

    @abstractmethod
    async def put_agent(self, agent: Agent) -> None: ...

    @abstractmethod
    async def delete_agent(self, sid: str) -> None: ...

    @abstractmethod
    async def agents(self) -> list[Agent]: ...

    @abstractmethod
    async def get_customer(self, sid: str) -> Customer | None: ...

    @abstractmethod
    async def put_customer(self, customer: Customer) -> None: ...

    @abstractmethod
    async def delete_customer(self, sid: str) -> None: ...

    @abstractmethod
    async def customer_count(self) -> int: ...

    @abstractmethod
    async def get_call(self, call_id: str) -> Call | None: ...

    @abstractmethod
    async def put_call(self, call: Call) -> None: ...

    @abstractmethod
    async def delete_call(self, call_id: str) -> None: ...

    @abstractmethod
    async def calls(self) -> list[Call]: ...

    @abstractmethod
    async def enqueue(self, call_id: str, order: float) -> None:
        """Add a call to the queue, kept sorted by `order` (the call's creation time)."""

    @abstractmethod
    async def dequeue(self, call_id: str) -> None:
        """Remove a call from the queue (no error if it is not there)."""

    @abstractmethod
    async def queue(self) -> list[str]:
        """The queued call ids, first in line first."""

"""In-process `PairingStore`: dictionaries and a sorted list (one server node)."""

from __future__ import annotations

import asyncio
import bisect

from signaling_server.stores.base import Agent, Call, Customer, PairingStore


class MemoryStore(PairingStore):
    def __init__(self) -> None:
        self._agents: dict[str, Agent] = {}
        self._customers: dict[str, Customer] = {}
        self._calls: dict[str, Call] = {}
        self._queue: list[tuple[float, str]] = []
        self._lock = asyncio.Lock()

    def lock(self) -> asyncio.Lock:
        return self._lock

    async def get_agent(self, sid: str) -> Agent | None:
        return self._agents.get(sid)

    async def put_agent(self, agent: Agent) -> None:
        self._agents[agent.sid] = agent

    async def delete_agent(self, sid: str) -> None:
        self._agents.pop(sid, None)

    async def agents(self) -> list[Agent]:
        return list(self._agents.values())

    async def get_customer(self, sid: str) -> Customer | None:
        return self._customers.get(sid)

    async def put_customer(self, customer: Customer) -> None:
        self._customers[customer.sid] = customer

    async def delete_customer(self, sid: str) -> None:
        self._customers.pop(sid, None)

    async def customer_count(self) -> int:
        return len(self._customers)

    async def get_call(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    async def put_call(self, call: Call) -> None:
        self._calls[call.id] = call

    async def delete_call(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    async def calls(self) -> list[Call]:
        return list(self._calls.values())

    async def enqueue(self, call_id: str, order: float) -> None:
        bisect.insort(self._queue, (order, call_id))

    async def dequeue(self, call_id: str) -> None:
        self._queue = [entry for entry in self._queue if entry[1] != call_id]

    async def queue(self) -> list[str]:
        return [call_id for _, call_id in self._queue]

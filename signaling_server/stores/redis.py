"""`PairingStore` in Redis, shared by several server nodes.

Agents, customers and calls are JSON values in three hashes; the queue is a sorted set scored
by request time. Pairing operations of all nodes are serialised by a Redis lock (plus a local
one, so coroutines of one node queue up without polling Redis). `NodeRegistry` keeps each
node's heartbeat and client list, so that the clients of a crashed node can be cleaned up.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from signaling_server.identity import Identity
from signaling_server.stores.base import Agent, Call, CallState, Customer, PairingStore
from signaling_server.stores.liveness import dead_nodes

# A pairing operation is a few round trips; the lock expires if its holder dies mid-way.
LOCK_TIMEOUT = 10.0
LOCK_WAIT = 30.0


def _strings(members: Iterable[Any]) -> list[str]:
    return [m.decode() if isinstance(m, bytes) else str(m) for m in members]


def _identity_json(identity: Identity | None) -> dict[str, Any] | None:
    return None if identity is None else identity.to_json()


def _agent(raw: str | bytes) -> Agent:
    data = json.loads(raw)
    return Agent(
        data["sid"],
        data["name"],
        data["max_calls"],
        data["available"],
        frozenset(data["calls"]),
        data["idle_since"],
        data.get("reports_connected", False),
        identity=Identity.from_json(data.get("identity")),
        state=data.get("state", "available"),
        queue_updates=data.get("queue_updates", False),
    )


def _agent_json(agent: Agent) -> str:
    return json.dumps(
        {
            "sid": agent.sid,
            "name": agent.name,
            "max_calls": agent.max_calls,
            "available": agent.available,
            "calls": sorted(agent.calls),
            "idle_since": agent.idle_since,
            "reports_connected": agent.reports_connected,
            "identity": _identity_json(agent.identity),
            "state": agent.state,
            "queue_updates": agent.queue_updates,
        }
    )


def _customer(raw: str | bytes) -> Customer:
    data = json.loads(raw)
    return Customer(
        data["sid"], data["name"], data["call"], identity=Identity.from_json(data.get("identity"))
    )


def _customer_json(customer: Customer) -> str:
    return json.dumps(
        {
            "sid": customer.sid,
            "name": customer.name,
            "call": customer.call,
            "identity": _identity_json(customer.identity),
        }
    )


def _call(raw: str | bytes) -> Call:
    data = json.loads(raw)
    return Call(
        data["id"],
        data["customer"],
        data["customer_name"],
        data["offerer"],
        data["created"],
        CallState(data["state"]),
        data["agent"],
        frozenset(data["declined"]),
        data.get("connected", False),
        customer_identity=Identity.from_json(data.get("customer_identity")),
        accepted_at=data.get("accepted_at"),
        transfer_to=data.get("transfer_to"),
        head=data.get("head", False),
    )


def _call_json(call: Call) -> str:
    return json.dumps(
        {
            "id": call.id,
            "customer": call.customer,
            "customer_name": call.customer_name,
            "offerer": call.offerer,
            "created": call.created,
            "state": call.state,
            "agent": call.agent,
            "declined": sorted(call.declined),
            "connected": call.connected,
            "customer_identity": _identity_json(call.customer_identity),
            "accepted_at": call.accepted_at,
            "transfer_to": call.transfer_to,
            "head": call.head,
        }
    )


class RedisStore(PairingStore):
    """Keys: `PREFIX:agents`, `PREFIX:customers`, `PREFIX:calls` (hashes), `PREFIX:queue`."""

    def __init__(self, redis: Redis, prefix: str = "signaling") -> None:
        self._redis = redis
        self._agents = f"{prefix}:agents"
        self._customers = f"{prefix}:customers"
        self._calls = f"{prefix}:calls"
        self._queue = f"{prefix}:queue"
        self._lock_name = f"{prefix}:lock"
        self._local = asyncio.Lock()

    @asynccontextmanager
    async def lock(self) -> AsyncIterator[object]:
        async with (
            self._local,
            self._redis.lock(
                self._lock_name, timeout=LOCK_TIMEOUT, sleep=0.005, blocking_timeout=LOCK_WAIT
            ) as held,
        ):
            yield held

    async def get_agent(self, sid: str) -> Agent | None:
        raw = await self._redis.hget(self._agents, sid)
        return None if raw is None else _agent(raw)

    async def put_agent(self, agent: Agent) -> None:
        await self._redis.hset(self._agents, agent.sid, _agent_json(agent))

    async def delete_agent(self, sid: str) -> None:
        await self._redis.hdel(self._agents, sid)

    async def agents(self) -> list[Agent]:
        values: list[Any] = await self._redis.hvals(self._agents)
        return [_agent(raw) for raw in values]

    async def get_customer(self, sid: str) -> Customer | None:
        raw = await self._redis.hget(self._customers, sid)
        return None if raw is None else _customer(raw)

    async def put_customer(self, customer: Customer) -> None:
        await self._redis.hset(self._customers, customer.sid, _customer_json(customer))

    async def delete_customer(self, sid: str) -> None:
        await self._redis.hdel(self._customers, sid)

    async def customer_count(self) -> int:
        return int(await self._redis.hlen(self._customers))

    async def get_call(self, call_id: str) -> Call | None:
        raw = await self._redis.hget(self._calls, call_id)
        return None if raw is None else _call(raw)

    async def put_call(self, call: Call) -> None:
        await self._redis.hset(self._calls, call.id, _call_json(call))

    async def delete_call(self, call_id: str) -> None:
        await self._redis.hdel(self._calls, call_id)

    async def calls(self) -> list[Call]:
        values: list[Any] = await self._redis.hvals(self._calls)
        return [_call(raw) for raw in values]

    async def enqueue(self, call_id: str, order: float) -> None:
        await self._redis.zadd(self._queue, {call_id: order})

    async def dequeue(self, call_id: str) -> None:
        await self._redis.zrem(self._queue, call_id)

    async def queue(self) -> list[str]:
        return _strings(await self._redis.zrange(self._queue, 0, -1))


class NodeRegistry:
    """This node's heartbeat and client list in Redis; finding and claiming dead nodes.

    Keys: `PREFIX:nodes` (set of node ids), `PREFIX:node:ID:alive` (the heartbeat, with a TTL),
    `PREFIX:node:ID:clients` (set of sids), `PREFIX:node:ID:claim` (who cleans up a dead node).
    A node id whose heartbeat expired is never revived: a node that finds its own heartbeat
    gone rejoins under a new id (`rejoin`).
    """

    def __init__(self, redis: Redis, ttl: float, prefix: str = "signaling") -> None:
        self._redis = redis
        self._ttl_ms = max(1, round(ttl * 1000))
        self._prefix = prefix
        self._nodes = f"{prefix}:nodes"
        self.node = ""

    def _key(self, node: str, what: str) -> str:
        return f"{self._prefix}:node:{node}:{what}"

    async def rejoin(self) -> str:
        """Register under a new node id with a fresh heartbeat; return the id."""
        self.node = uuid.uuid4().hex
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(self.node, "alive"), "1", px=self._ttl_ms)
            pipe.sadd(self._nodes, self.node)
            await pipe.execute()
        return self.node

    async def beat(self) -> bool:
        """Refresh this node's heartbeat; False if it had already expired (then call `rejoin`)."""
        return bool(
            await self._redis.set(self._key(self.node, "alive"), "1", px=self._ttl_ms, xx=True)
        )

    async def join(self, sid: str) -> None:
        await self._redis.sadd(self._key(self.node, "clients"), sid)

    async def leave(self, sid: str) -> None:
        await self._redis.srem(self._key(self.node, "clients"), sid)

    async def dead(self) -> list[str]:
        """Known nodes other than this one whose heartbeat has expired."""
        nodes = _strings(await self._redis.smembers(self._nodes))
        async with self._redis.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.exists(self._key(node, "alive"))
            beating = await pipe.execute()
        return dead_nodes(self.node, dict(zip(nodes, map(bool, beating), strict=True)))

    async def claim(self, node: str) -> bool:
        """Whether this node is the one to clean up dead `node` (for one TTL; atomic)."""
        claimed = await self._redis.set(
            self._key(node, "claim"), self.node, px=self._ttl_ms, nx=True
        )
        return bool(claimed)

    async def clients(self, node: str) -> list[str]:
        return sorted(_strings(await self._redis.smembers(self._key(node, "clients"))))

    async def forget(self, node: str) -> None:
        """Drop `node` and its client list (once its clients are cleaned up, or it left)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(node, "clients"), self._key(node, "alive"))
            pipe.srem(self._nodes, node)
            await pipe.execute()

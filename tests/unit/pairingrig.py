"""A `Pairing` with a fake clock over each store (in memory, and in a real redis-server), and
the helpers the pairing unit tests share."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from signaling_server.outcome import Outcome
from signaling_server.pairing import Pairing
from signaling_server.protocol import ErrorCode, Event, ProtocolError
from signaling_server.stores.memory import MemoryStore
from signaling_server.stores.redis import RedisStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "redis"])
async def pairing(request: pytest.FixtureRequest, clock: Clock) -> AsyncIterator[Pairing]:
    """The rules over each store: in memory, and in a real redis-server."""
    ids = (f"call{n}" for n in itertools.count(1))
    if request.param == "memory":
        yield Pairing(MemoryStore(), clock=clock, new_id=lambda: next(ids))
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    yield Pairing(RedisStore(redis), clock=clock, new_id=lambda: next(ids))
    await redis.aclose()


def sent(out: Outcome, event: Event) -> list[tuple[str, dict[str, Any]]]:
    return [(e.to, e.data) for e in out.emits if e.event is event]


async def agent(pairing: Pairing, sid: str, max_calls: int = 1) -> Outcome:
    await pairing.add_agent(sid, f"name-{sid}", max_calls)
    return await pairing.dispatch()


async def customers(pairing: Pairing, *sids: str) -> None:
    for sid in sids:
        await pairing.add_customer(sid, f"name-{sid}")


ANONYMOUS_C1 = {"sub": None, "name": "name-c1", "verified": False}


async def refused(code: ErrorCode, operation: Any) -> str:
    with pytest.raises(ProtocolError) as exc:
        await operation
    assert exc.value.code is code
    return exc.value.message

"""Fixtures of the pairing unit tests: a `Pairing` with a fake clock over each store (in memory,
and in a real redis-server)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from signaling_server.pairing import Pairing
from signaling_server.stores.memory import MemoryStore
from signaling_server.stores.redis import RedisStore
from tests.unit.pairingrig import Clock


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

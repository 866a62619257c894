"""The fake clock and the helpers the pairing unit tests share (their `clock` and `pairing`
fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from signaling_server.outcome import Outcome
from signaling_server.pairing import Pairing
from signaling_server.protocol import ErrorCode, Event, ProtocolError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds


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

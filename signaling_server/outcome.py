"""What a pairing operation yields: the ack's fields, messages to send, timers to start."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from signaling_server.protocol import EndReason, Event


@dataclass(frozen=True, slots=True)
class Emit:
    """A message for one client."""

    to: str
    event: Event
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Ring:
    """Start the ring timer of `call_id` at `agent`; on expiry call `Pairing.ring_timeout`."""

    call_id: str
    agent: str


@dataclass
class Outcome:
    ack: dict[str, Any] = field(default_factory=dict)
    emits: list[Emit] = field(default_factory=list)
    rings: list[Ring] = field(default_factory=list)
    # accepted calls whose connect deadline starts: on expiry call `Pairing.connect_timeout`
    deadlines: list[str] = field(default_factory=list)
    accepted: int = 0
    ended: list[EndReason] = field(default_factory=list)
    # queued calls whose position the caller learns from `ack` (no `call-queued` for them)
    quiet: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Stats:
    agents: int
    customers: int
    ringing: int
    active: int
    queued: int

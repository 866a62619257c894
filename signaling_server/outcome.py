"""What a pairing operation yields: the ack's fields, messages to send, timers to start."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
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


class TimingName(StrEnum):
    ACCEPTED = "accepted"
    """From the call request to the agent's accept."""
    CONNECTED = "connected"
    """From the call request to the first `call-connected` report."""
    QUEUE_WAIT = "queue_wait"
    """From the call request until the call first rings at an agent."""
    DURATION = "duration"
    """An accepted call, from the accept to its end."""


@dataclass(frozen=True, slots=True)
class Timing:
    """A duration a pairing operation measured (for the metrics' histograms)."""

    name: TimingName
    seconds: float


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
    timings: list[Timing] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Stats:
    agents: int
    customers: int
    ringing: int
    active: int
    queued: int

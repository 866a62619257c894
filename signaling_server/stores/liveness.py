"""Node liveness for several server nodes sharing one store: the figures and the pure rules.

Each node refreshes a heartbeat that expires after its TTL; a node whose heartbeat has expired
is dead, and one surviving node cleans up its clients as if they had disconnected.
"""

from __future__ import annotations

from collections.abc import Mapping

NODE_TTL = 10.0
"""Seconds a node's heartbeat lives without a refresh (`--node-ttl`): a crashed node is
detected at most `NODE_TTL + heartbeat_interval(NODE_TTL)` seconds after its crash."""

HEARTBEATS_PER_TTL = 3
"""Heartbeats a live node sends per TTL, so that two missed ones still leave it alive."""


def heartbeat_interval(ttl: float) -> float:
    """Seconds between two heartbeats (and two checks for dead nodes) of a node."""
    return ttl / HEARTBEATS_PER_TTL


def detection_bound(ttl: float) -> float:
    """The longest time from a node's crash until a surviving node checks and finds it dead."""
    return ttl + heartbeat_interval(ttl)


def dead_nodes(me: str, alive: Mapping[str, bool]) -> list[str]:
    """The nodes to clean up: known nodes, other than `me`, whose heartbeat is gone (sorted)."""
    return sorted(node for node, beating in alive.items() if not beating and node != me)

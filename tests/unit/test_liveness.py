"""Node liveness rules: which nodes are dead, and how soon a crash is found."""

from __future__ import annotations

from signaling_server.stores.liveness import (
    NODE_TTL,
    dead_nodes,
    detection_bound,
    heartbeat_interval,
)


def test_dead_nodes_are_the_others_without_heartbeat() -> None:
    alive = {"c": False, "me": True, "a": False, "b": True}
    assert dead_nodes("me", alive) == ["a", "c"]


def test_a_node_never_finds_itself_dead() -> None:
    assert dead_nodes("me", {"me": False}) == []


def test_no_nodes_no_dead() -> None:
    assert dead_nodes("me", {}) == []


def test_a_live_node_beats_several_times_per_ttl() -> None:
    assert heartbeat_interval(NODE_TTL) * 2 < NODE_TTL
    assert heartbeat_interval(2.0) * 2 < 2.0


def test_a_crash_is_found_within_ttl_plus_one_interval() -> None:
    assert detection_bound(NODE_TTL) == NODE_TTL + heartbeat_interval(NODE_TTL)
    assert NODE_TTL < detection_bound(NODE_TTL) < 1.5 * NODE_TTL

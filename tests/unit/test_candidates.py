"""Pure parsing of relayed ICE candidates and ICE server flags."""

import argparse

import pytest

from agent_bot.candidates import parse_candidate
from agent_bot.cli import ice_server

HOST = "candidate:1 1 udp 2122260223 192.0.2.10 54321 typ host generation 0"


def test_candidate_from_browser_init() -> None:
    candidate = parse_candidate({"candidate": HOST, "sdpMid": "0", "sdpMLineIndex": 0})
    assert candidate is not None
    assert (candidate.ip, candidate.port, candidate.type) == ("192.0.2.10", 54321, "host")
    assert candidate.sdpMid == "0"


@pytest.mark.parametrize("data", [None, {"candidate": ""}, {"candidate": "", "sdpMid": "0"}])
def test_end_of_candidates(data: dict[str, object] | None) -> None:
    assert parse_candidate(data) is None


def test_mdns_candidate_is_skipped() -> None:
    mdns = HOST.replace("192.0.2.10", "3f1e2a4b-1c2d-4e5f-8a9b-0c1d2e3f4a5b.local")
    with pytest.raises(ValueError, match="mDNS"):
        parse_candidate({"candidate": mdns, "sdpMid": "0"})


def test_garbage_candidate_is_refused() -> None:
    with pytest.raises(ValueError, match="unparsable"):
        parse_candidate({"candidate": "candidate:nonsense", "sdpMid": "0"})


def test_missing_mid_defaults_to_first_line() -> None:
    candidate = parse_candidate({"candidate": HOST})
    assert candidate is not None and candidate.sdpMLineIndex == 0


def test_ice_server_flags() -> None:
    assert ice_server("stun:127.0.0.1:3478").urls == "stun:127.0.0.1:3478"
    turn = ice_server("turn:alice:s3cret@127.0.0.1:3478?transport=udp")
    assert (turn.urls, turn.username, turn.credential) == (
        "turn:127.0.0.1:3478?transport=udp",
        "alice",
        "s3cret",
    )
    with pytest.raises(argparse.ArgumentTypeError):
        ice_server("http://127.0.0.1")

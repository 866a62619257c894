"""The one ICE URL parser: what it accepts, what it refuses, what logs may show."""

from __future__ import annotations

import pytest

from signaling_server.iceservers import IceServer, ice_servers_from_json, parse_ice_url


@pytest.mark.parametrize(
    ("text", "url", "username", "credential"),
    [
        ("stun:10.0.0.1:3478", "stun:10.0.0.1:3478", None, None),
        ("stun:stun.example.org", "stun:stun.example.org:3478", None, None),
        ("STUN:[2001:db8::1]:19302", "stun:[2001:db8::1]:19302", None, None),
        ("turn:alice:s3cret@10.0.0.2:3478", "turn:10.0.0.2:3478", "alice", "s3cret"),
        ("turn:a:p:q@h?transport=tcp", "turn:h:3478?transport=tcp", "a", "p:q"),
        ("turn:a%40b:p%40ss@h:80?transport=udp", "turn:h:80?transport=udp", "a@b", "p@ss"),
        (
            "turns:u:p@turn.example.org?transport=tcp",
            "turns:turn.example.org:5349?transport=tcp",
            "u",
            "p",
        ),
    ],
)
def test_parses(text: str, url: str, username: str | None, credential: str | None) -> None:
    assert parse_ice_url(text) == IceServer(url, username, credential)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://10.0.0.1", "the scheme must be one of stun, stuns, turn, turns"),
        ("10.0.0.1:3478", "the scheme must be one of"),
        ("stun:", "the host is missing"),
        ("turn:u:p@:3478", "the host is missing"),
        ("stun:host:0", "the port must be a number from 1 to 65535"),
        ("stun:host:65536", "the port must be a number from 1 to 65535"),
        ("stun:host:http", "the port must be a number"),
        ("stun:host:", "the port must be a number"),
        ("stun:ho_st", "is not a host name or IPv4 address"),
        ("stun:[::1", "malformed IPv6 address"),
        ("stun:u:p@host", "a stun: URL takes no credentials"),
        ("stun:host?transport=udp", "a stun: URL takes no ?query"),
        ("turn:alice:@host", "the TURN password is empty"),
        ("turn:alice@host", "the TURN password is empty"),
        ("turn::pw@host", "the TURN username is empty"),
        ("turn:host:3478", "a TURN URL needs credentials"),
        ("turn:u:p@host?transport=sctp", "unknown transport 'sctp'"),
        ("turn:u:p@host?proto=tcp", "the only query is ?transport=udp or ?transport=tcp"),
        ("turns:u:p@host?transport=udp", "turns: (TLS) runs over TCP only"),
    ],
)
def test_refuses_malformed_urls(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_ice_url(text)
    assert message in str(caught.value)


def test_errors_never_show_the_password() -> None:
    with pytest.raises(ValueError) as caught:
        parse_ice_url("turn:alice:s3cret@host:99999")
    assert "s3cret" not in str(caught.value)
    assert "turn:alice:***@host:99999" in str(caught.value)


def test_without_credentials_for_minted_urls() -> None:
    assert parse_ice_url("turn:h:3478?transport=tcp", credentials=False).username is None
    with pytest.raises(ValueError, match="credentials are minted by the server"):
        parse_ice_url("turn:u:p@h", credentials=False)


def test_browser_form_and_redaction() -> None:
    server = parse_ice_url("turn:alice:s3cret@10.0.0.2:3478?transport=tcp")
    assert server.to_json() == {
        "urls": "turn:10.0.0.2:3478?transport=tcp",
        "username": "alice",
        "credential": "s3cret",
    }
    assert server.redacted() == "turn:alice:***@10.0.0.2:3478?transport=tcp"
    assert "s3cret" not in repr(server)
    assert parse_ice_url("stun:h").to_json() == {"urls": "stun:h:3478"}
    assert parse_ice_url("stun:h").redacted() == "stun:h:3478"


def test_from_signaling_json() -> None:
    servers = ice_servers_from_json(
        [
            {"urls": "stun:h:3478"},
            {
                "urls": ["turn:h:3478", "turn:h:3478?transport=tcp"],
                "username": "1:x",
                "credential": "c",
            },
        ]
    )
    assert [s.url for s in servers] == ["stun:h:3478", "turn:h:3478", "turn:h:3478?transport=tcp"]
    assert servers[2].username == "1:x"
    for bad in ("x", [1], [{"urls": 5}], [{"urls": "turn:h"}], [{"urls": "ftp:h"}]):
        with pytest.raises(ValueError):
            ice_servers_from_json(bad)

"""Minted TURN credentials match coturn's `use-auth-secret` scheme."""

from __future__ import annotations

import base64
import hashlib
import hmac

from signaling_server.iceservers import parse_ice_url
from signaling_server.turn import TurnMinter, mint

# Computed with OpenSSL, independently of Python's hmac:
#   printf '%s' '1700000000:call-1' | openssl dgst -sha1 -hmac north -binary | base64
KNOWN = ("north", "1700000000:call-1", "mFebIVk+U4JUXZSU1hI39EJNRFQ=")


def test_known_vector() -> None:
    secret, username, password = KNOWN
    credential = mint(secret, "call-1", 1_700_000_000)
    assert credential.username == username
    assert credential.password == password


def test_matches_the_rest_api_formula() -> None:
    credential = mint("s3", "abc", 42)
    digest = hmac.new(b"s3", b"42:abc", hashlib.sha1).digest()
    assert base64.b64decode(credential.password) == digest


def test_minter_gives_every_url_one_fresh_credential() -> None:
    urls = (parse_ice_url("turn:h:3478", credentials=False),
            parse_ice_url("turn:h:3478?transport=tcp", credentials=False))  # fmt: skip
    minter = TurnMinter("north", urls, ttl=600)
    servers = minter.servers("call:1", now=1000.4)
    assert [s.url for s in servers] == ["turn:h:3478", "turn:h:3478?transport=tcp"]
    assert {s.username for s in servers} == {"1600:call-1"}  # ':' in the id would split it
    assert servers[0].credential == mint("north", "call-1", 1600).password
    assert minter.servers("call:1", now=2000.0)[0].username == "2600:call-1"
    assert "north" not in minter.describe()
    assert "north" not in repr(minter)

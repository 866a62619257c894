"""Short-lived TURN credentials: coturn's `use-auth-secret`, the "TURN REST API" scheme.

Pure: no I/O, the clock is an argument. The server and coturn share a secret; for each page
load and each call the server mints username `EXPIRY:ID` (EXPIRY in Unix seconds) and
password base64(HMAC-SHA1(secret, username)). coturn recomputes the password from the
username and refuses it once EXPIRY has passed, so a credential a browser leaks is useless an
hour later, and no user list has to be kept in step with coturn.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from signaling_server.iceservers import IceServer

DEFAULT_TTL = 3600.0
"""Seconds a minted credential stays valid (coturn checks EXPIRY at each allocation and
refresh; an allocation made in time lives on until it is released)."""


@dataclass(frozen=True)
class TurnCredential:
    username: str
    password: str = field(repr=False)


def mint(secret: str, ident: str, expiry: int) -> TurnCredential:
    """The credential for `ident` (a call or page id, no ':') valid until Unix time `expiry`."""
    username = f"{expiry}:{ident}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode())


@dataclass(frozen=True)
class TurnMinter:
    """Mints credentials for every configured TURN URL (`--turn-url`, no credentials in it)."""

    secret: str = field(repr=False)
    urls: tuple[IceServer, ...]
    ttl: float = DEFAULT_TTL

    def servers(self, ident: str, now: float) -> list[IceServer]:
        """One RTCIceServer per TURN URL, all with one fresh credential for `ident`."""
        credential = mint(self.secret, ident.replace(":", "-"), int(now + self.ttl))
        return [IceServer(url.url, credential.username, credential.password) for url in self.urls]

    def describe(self) -> str:
        """For the start-up log line: URLs and TTL, never the secret."""
        urls = ", ".join(url.url for url in self.urls)
        return f"minted for {urls} (TTL {self.ttl:g} s)"

"""ICE server URLs (RFC 7064 `stun:`/`stuns:`, RFC 7065 `turn:`/`turns:`), parsed once.

Pure: no I/O. The server's `--ice-server` / `--turn-url` and the bot's `--ice-server` use
this parser, so a malformed URL is a usage error at start, never a call that cannot connect.
Credentials ride in the URL on the command line (`turn:USER:PASSWORD@HOST:PORT`, both
percent-decoded) but never on the wire: `IceServer.to_json()` is an RTCIceServer with
`urls`, `username` and `credential` apart, as browsers require, and `redacted()` is what logs
show.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

SCHEMES = ("stun", "stuns", "turn", "turns")
TRANSPORTS = ("udp", "tcp")
DEFAULT_PORTS = {"stun": 3478, "turn": 3478, "stuns": 5349, "turns": 5349}
HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9-]{1,63})*")
SECRET = "***"


@dataclass(frozen=True)
class IceServer:
    """One STUN or TURN server: its URL without credentials, and the credentials apart."""

    url: str
    username: str | None = None
    credential: str | None = field(default=None, repr=False)

    @property
    def scheme(self) -> str:
        return self.url.split(":", 1)[0]

    @property
    def is_turn(self) -> bool:
        return self.scheme in ("turn", "turns")

    def to_json(self) -> dict[str, str]:
        """An RTCIceServer dictionary, as browsers and `/config` take it."""
        data = {"urls": self.url}
        if self.username is not None and self.credential is not None:
            data.update(username=self.username, credential=self.credential)
        return data

    def redacted(self) -> str:
        """The URL for logs: `turn:alice:***@host:3478`; the credential never appears."""
        if self.username is None:
            return self.url
        scheme, rest = self.url.split(":", 1)
        user = urllib.parse.quote(self.username, safe="")
        return f"{scheme}:{user}:{SECRET}@{rest}"


def parse_ice_url(text: str, *, credentials: bool = True) -> IceServer:
    """Parse `stun:HOST[:PORT]` or `turn[s]:USER:PASSWORD@HOST[:PORT][?transport=udp|tcp]`.

    With `credentials=False` (the server's `--turn-url`, whose credentials it mints) a TURN
    URL must carry none. Raises ValueError saying what is wrong.
    """
    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() not in SCHEMES:
        raise ValueError(f"{text!r}: the scheme must be one of {', '.join(SCHEMES)}")
    scheme = scheme.lower()
    turn = scheme.startswith("turn")
    address, question, query = rest.partition("?")
    username = password = None
    if "@" in address:
        if not turn:
            raise ValueError(f"{_shown(text)!r}: a {scheme}: URL takes no credentials")
        userinfo, address = address.rsplit("@", 1)
        user, colon, secret = userinfo.partition(":")
        username, password = urllib.parse.unquote(user), urllib.parse.unquote(secret)
        if not username:
            raise ValueError(f"{_shown(text)!r}: the TURN username is empty")
        if not colon or not password:
            raise ValueError(f"{_shown(text)!r}: the TURN password is empty")
    shown = _shown(text)
    host, port = _host_port(shown, address, DEFAULT_PORTS[scheme])
    transport = _transport(shown, scheme, query) if question else None
    if turn and credentials and username is None:
        raise ValueError(f"{shown!r}: a TURN URL needs credentials: {scheme}:USER:PASSWORD@HOST")
    if turn and not credentials and username is not None:
        raise ValueError(f"{shown!r}: credentials are minted by the server; give none here")
    url = f"{scheme}:{host}:{port}" + (f"?transport={transport}" if transport else "")
    return IceServer(url, username, password)


def ice_servers_from_json(data: Any) -> list[IceServer]:
    """RTCIceServer dictionaries (`iceServers` as signaling carries it); ValueError if malformed."""
    if not isinstance(data, list):
        raise ValueError("iceServers must be a list")
    servers = []
    for entry in data:
        if not isinstance(entry, dict):
            raise ValueError("each ICE server must be an object")
        urls = entry.get("urls")
        urls = [urls] if isinstance(urls, str) else urls
        if not isinstance(urls, list) or not all(isinstance(url, str) for url in urls):
            raise ValueError("an ICE server's urls must be a string or a list of strings")
        for url in urls:
            parsed = parse_ice_url(url, credentials=False)
            username, credential = entry.get("username"), entry.get("credential")
            if parsed.is_turn and not (isinstance(username, str) and isinstance(credential, str)):
                raise ValueError(f"{url!r}: a TURN server needs a username and a credential")
            servers.append(IceServer(parsed.url, username, credential))
    return servers


def _shown(text: str) -> str:
    """`text` with any password replaced, for error messages."""
    head, at, tail = text.rpartition("@")
    if not at:
        return text
    scheme, _, userinfo = head.partition(":")
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}:{user}{':' + SECRET if colon else ''}@{tail}"


def _host_port(shown: str, address: str, default: int) -> tuple[str, int]:
    if address.startswith("["):
        end = address.find("]")
        after = address[end + 1 :]
        if end < 0 or (after and not after.startswith(":")):
            raise ValueError(f"{shown!r}: malformed IPv6 address")
        host, port_text = address[1:end], after.removeprefix(":") or str(default)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{shown!r}: {host!r} is not an IPv6 address") from None
        host = f"[{host}]"
    else:
        host, colon, port_text = address.partition(":")
        if not host:
            raise ValueError(f"{shown!r}: the host is missing")
        if not HOSTNAME.fullmatch(host):
            raise ValueError(f"{shown!r}: {host!r} is not a host name or IPv4 address")
        if not colon:
            port_text = str(default)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{shown!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def _transport(shown: str, scheme: str, query: str) -> str:
    if not scheme.startswith("turn"):
        raise ValueError(f"{shown!r}: a {scheme}: URL takes no ?query")
    key, equals, transport = query.partition("=")
    if key != "transport" or not equals:
        raise ValueError(f"{shown!r}: the only query is ?transport=udp or ?transport=tcp")
    if transport not in TRANSPORTS:
        raise ValueError(f"{shown!r}: unknown transport {transport!r} (udp or tcp)")
    if scheme == "turns" and transport != "tcp":
        raise ValueError(f"{shown!r}: turns: (TLS) runs over TCP only")
    return transport

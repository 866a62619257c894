"""Which web origins may use the server from a browser (`--allowed-origin`).

Same origin always works (the server's own page). A listed origin (the company's site that
embeds the widget) may also open Socket.IO connections and read the widget's HTTP routes:
`/config`, the page and its scripts (`call.js` is imported as a module, which needs CORS).
Anything else is refused as python-engineio refuses it by default (HTTP 400 on the Socket.IO
handshake) and gets no CORS headers (the browser then keeps the response from the page).
Requests without an `Origin` header (bots, curl) are not affected.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

NOT_WIDGET = ("/socket.io/", "/metrics", "/healthz")
"""Paths that get no CORS headers from here (python-engineio adds its own to Socket.IO's)."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_origin(text: str) -> str:
    """`https://app.example.com[:port]` normalised (lower case, no default port); ValueError."""
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not an origin like https://app.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{text!r}: an origin has no path, query or credentials")
    port = parts.port  # raises ValueError for a bad port
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def same_origins(environ: dict[str, Any]) -> set[str]:
    """The server's own origin(s) for one request, as python-engineio computes them."""
    host = environ.get("HTTP_HOST")
    if host is None:
        return set()
    scheme = environ.get("wsgi.url_scheme", "http")
    forwarded_scheme = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()
    forwarded_host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[0].strip()
    return {f"{scheme}://{host}", f"{forwarded_scheme}://{forwarded_host}"}


class OriginPolicy:
    """The allowed origins: python-engineio's `cors_allowed_origins` and an aiohttp middleware."""

    def __init__(self, allowed: tuple[str, ...] = ()) -> None:
        self.allowed = frozenset(allowed)

    def socketio_option(self) -> Any:
        """None (python-engineio's default: same origin only) or a check that also lets the
        listed origins in."""
        return None if not self.allowed else self.allows

    def allows(self, origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None or origin in self.allowed or origin in same_origins(environ):
            return True
        log.info("origin %.100s refused (not listed with --allowed-origin)", origin)
        return False

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """CORS headers on the widget's routes for listed origins; preflights answered."""
        origin = request.headers.get("Origin")
        widget = not request.path.startswith(NOT_WIDGET)
        listed = origin is not None and origin in self.allowed and widget
        if listed and request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD"
            wanted = request.headers.get("Access-Control-Request-Headers")
            if wanted:
                response.headers["Access-Control-Allow-Headers"] = wanted
            response.headers["Access-Control-Max-Age"] = "600"
        else:
            response = await handler(request)
        if widget:
            response.headers.add("Vary", "Origin")
        if listed:
            assert origin is not None
            response.headers["Access-Control-Allow-Origin"] = origin
        return response

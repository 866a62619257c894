"""Socket.IO client for protocol v1: connect, reconnect with backoff, acknowledged requests."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import socketio

from signaling_server.protocol import Event

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]

REQUEST_TIMEOUT = 10.0


class SignalingError(Exception):
    """The server refused a request, refused the connection, or did not answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SignalingClient:
    """One Socket.IO connection to the signaling server, through one of its nodes.

    `urls` are the nodes of one deployment: the client connects to the first that answers
    and, after a drop, tries the next one first, then goes round with backoff. The `auth`
    payload (or the function that makes it, asked at each attempt) registers the client (agent
    or customer), again on every reconnection. Handlers
    receive each server event's payload; requests wait for the server's acknowledgement.
    """

    def __init__(
        self,
        urls: str | Sequence[str],
        auth: dict[str, Any] | Callable[[], dict[str, Any]],
        *,
        reconnect: bool = True,
    ) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        if not self.urls:
            raise ValueError("no signaling server URL")
        self.url = self.urls[0]
        """The node tried last: the one connected to, while connected."""
        self._auth = auth
        self._sio = socketio.AsyncClient(
            reconnection=reconnect,
            reconnection_delay=0.5,
            reconnection_delay_max=5,
            handle_sigint=False,
        )
        self._sio.on("connect", self._on_connect)
        self._sio.on("disconnect", self._on_disconnect)
        self._on_reconnect: Callable[[], Awaitable[None]] | None = None
        self._connected_once = False
        self._tried = False
        self.previous_sid: str | None = None
        """The id this client had on its last connection (None before the first)."""

    @property
    def sid(self) -> str | None:
        """This client's id on the server (the `userId` peers see); changes on reconnect."""
        sid: str | None = self._sio.get_sid()
        return sid

    @property
    def connected(self) -> bool:
        return bool(self._sio.connected)

    def on(self, event: Event, handler: Handler) -> None:
        """Call `handler(payload)` for every `event` from the server."""

        async def dispatch(data: Any = None) -> None:
            if not isinstance(data, dict):
                logger.warning("event=%s ignored: payload is not an object", event)
                return
            try:
                await handler(data)
            except Exception:
                logger.exception("event=%s handler failed", event)

        self._sio.on(str(event), dispatch)

    def on_reconnect(self, handler: Callable[[], Awaitable[None]]) -> None:
        """Call `handler()` after every reconnection (not the first connection)."""
        self._on_reconnect = handler

    async def connect(self, wait: float = 10.0) -> None:
        """Connect to the first node that takes this client; `SignalingError` when none does."""
        errors = []
        for _ in self.urls:
            try:
                # a function: python-socketio asks it for the URL at each (re)connection
                await self._sio.connect(
                    self._next_url,
                    auth=self._auth,
                    transports=["websocket"],
                    wait_timeout=wait,
                )
                return
            except socketio.exceptions.ConnectionError as exc:
                # Not connected: this only releases the Engine.IO client's HTTP session.
                await self._sio.eio.disconnect()
                errors.append(f"{self.url}: {exc}")
        raise SignalingError("connect-failed", "; ".join(errors))

    def _next_url(self) -> str:
        """The node after the one tried last (the first node at the first call)."""
        if self._tried:
            self.url = self.urls[(self.urls.index(self.url) + 1) % len(self.urls)]
        self._tried = True
        return self.url

    async def request(self, event: Event, payload: dict[str, Any]) -> dict[str, Any]:
        """Emit `event` and return the `ok` acknowledgement; raise `SignalingError` otherwise."""
        try:
            ack = await self._sio.call(str(event), payload, timeout=REQUEST_TIMEOUT)
        except socketio.exceptions.TimeoutError:
            raise SignalingError("timeout", f"no acknowledgement for {event}") from None
        except socketio.exceptions.BadNamespaceError:
            raise SignalingError("disconnected", f"not connected, {event} not sent") from None
        if not isinstance(ack, dict):
            raise SignalingError("bad-ack", f"{event}: acknowledgement is not an object")
        if not ack.get("ok"):
            error = ack.get("error") or {}
            raise SignalingError(str(error.get("code")), str(error.get("message")))
        return ack

    async def send(self, event: Event, payload: dict[str, Any]) -> bool:
        """Like `request`, but log a refusal instead of raising; return whether it was taken."""
        try:
            await self.request(event, payload)
        except SignalingError as exc:
            logger.warning("event=%s not delivered: %s", event, exc)
            return False
        return True

    async def close(self) -> None:
        await self._sio.disconnect()

    async def _on_connect(self) -> None:
        logger.info("signaling connected url=%s sid=%s", self.url, self.sid)
        self.previous_sid = self.sid
        if self._connected_once and self._on_reconnect is not None:
            await self._on_reconnect()
        self._connected_once = True

    async def _on_disconnect(self, reason: Any = None) -> None:
        logger.warning("signaling disconnected url=%s reason=%s", self.url, reason)

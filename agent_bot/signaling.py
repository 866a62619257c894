"""Socket.IO client for protocol v1: connect, reconnect with backoff, acknowledged requests."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
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
    """One Socket.IO connection to the signaling server.

    The `auth` payload registers the client (agent or customer); the client reconnects with
    backoff after a drop and, since auth is sent again, registers again. Handlers receive each
    server event's payload; requests wait for the server's acknowledgement.
    """

    def __init__(self, url: str, auth: dict[str, Any], *, reconnect: bool = True) -> None:
        self.url = url
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
        """Connect and register; raises `SignalingError` when refused or unreachable."""
        try:
            await self._sio.connect(
                self.url,
                auth=self._auth,
                transports=["websocket"],
                wait_timeout=wait,
            )
        except socketio.exceptions.ConnectionError as exc:
            # Not connected: this only releases the Engine.IO client's HTTP session.
            await self._sio.eio.disconnect()
            raise SignalingError("connect-failed", f"{self.url}: {exc}") from None

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
        if self._connected_once and self._on_reconnect is not None:
            await self._on_reconnect()
        self._connected_once = True

    async def _on_disconnect(self, reason: Any = None) -> None:
        logger.warning("signaling disconnected url=%s reason=%s", self.url, reason)

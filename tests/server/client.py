"""A real python-socketio client for server tests, recording what the server sends it."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

TIMEOUT = 10.0
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


class RefusedError(Exception):
    """The server refused the connection; `message` is what it said."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Client:
    """One Socket.IO connection; every server event lands in `inbox` as (event, data)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._refusal: Any = None
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._refused)
        self._gone = asyncio.Event()
        self.sio.on("disconnect", lambda *reason: self._gone.set())

    async def _record(self, event: str, data: Any = None) -> None:
        self.inbox.put_nowait((event, data))

    async def _refused(self, data: Any) -> None:
        self._refusal = data

    async def connect(self, auth: Any, transports: list[str] | None = None) -> Client:
        try:
            await self.sio.connect(
                self.url, auth=auth, transports=transports or ["websocket"], wait_timeout=TIMEOUT
            )
        except socketio.exceptions.ConnectionError:
            refusal = self._refusal
            message = refusal.get("message") if isinstance(refusal, dict) else refusal
            raise RefusedError(str(message)) from None
        return self

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid()
        assert sid is not None
        return str(sid)

    async def call(self, event: str, *data: Any) -> Any:
        """Emit and return the acknowledgement."""
        return await self.sio.call(event, data[0] if len(data) == 1 else data, timeout=TIMEOUT)

    async def expect(self, event: str, within: float = TIMEOUT) -> Any:
        """The next server event, which must be `event`; returns its data."""
        got, data = await asyncio.wait_for(self.inbox.get(), within)
        assert got == event, f"expected {event!r}, got {got!r}: {data!r}"
        return data

    async def expect_nothing(self, within: float = 0.5) -> None:
        """No server event arrives within `within` seconds."""
        await asyncio.sleep(within)
        assert self.inbox.empty(), f"unexpected event: {self.inbox.get_nowait()!r}"

    async def wait_disconnected(self, within: float = TIMEOUT) -> None:
        """Wait until the connection is gone (the server closed it)."""
        await asyncio.wait_for(self._gone.wait(), within)

    async def close(self) -> None:
        await self.sio.disconnect()

"""A minimal Socket.IO client for load generators: Engine.IO v4 / Socket.IO v5 spoken directly
over an aiohttp WebSocket, so thousands of connections stay light on the client's core."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp


async def _ignore(client: RawClient, name: str, data: Any) -> None:
    pass


class RawClient:
    """One Socket.IO connection over a bare WebSocket; `on_event(client, name, data)`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, sid: str) -> None:
        self.ws = ws
        self.sid = sid
        self.peer = ""
        self.acks = False  # ask for an ack with every emit (the acks are read and dropped)
        self._ack_ids = itertools.count()
        self.on_event: Callable[[RawClient, str, Any], Awaitable[None]] = _ignore
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, url: str, auth: Any) -> RawClient:
        ws = await session.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket", max_msg_size=0)
        opening = await ws.receive_str()
        assert opening.startswith("0"), opening
        await ws.send_str("40" + json.dumps(auth))
        while True:
            reply = await ws.receive_str()
            if reply.startswith("40"):
                return cls(ws, json.loads(reply[2:])["sid"])
            if reply.startswith("44"):
                raise RuntimeError(f"connection refused: {reply[2:]}")

    async def emit(self, event: str, data: Any) -> None:
        ack_id = str(next(self._ack_ids)) if self.acks else ""
        await self.ws.send_str(f"42{ack_id}" + json.dumps([event, data]))

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            text: str = message.data
            if text == "2":
                await self.ws.send_str("3")
            elif text.startswith("42"):
                name, data = json.loads(text[2:])
                await self.on_event(self, name, data)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()

"""Connected clients for server tests, closed at teardown."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.procs import SignalingServer
from tests.server.client import Client


class Clients:
    """Opens agents and customers against one server."""

    def __init__(self, server: SignalingServer) -> None:
        self.server = server
        self.opened: list[Client] = []

    async def open(self, auth: Any, server: SignalingServer | None = None) -> Client:
        client = Client((server or self.server).url)
        self.opened.append(client)
        return await client.connect(auth)

    async def agent(self, name: str = "agent", max_calls: int = 1, **auth: Any) -> Client:
        return await self.open(
            {"role": "agent", "token": self.server.agent_token, "name": name, "maxCalls": max_calls}
            | auth
        )

    async def customer(self, name: str = "customer") -> Client:
        return await self.open({"role": "customer", "name": name})

    async def close(self) -> None:
        for client in self.opened:
            await client.close()


@pytest.fixture
async def clients_for() -> AsyncIterator[Callable[[SignalingServer], Clients]]:
    """`Clients` for any server (e.g. one from `server_factory`)."""
    made: list[Clients] = []

    def make(server: SignalingServer) -> Clients:
        made.append(Clients(server))
        return made[-1]

    yield make
    for opened in made:
        await opened.close()


@pytest.fixture
def clients(
    signaling_server: SignalingServer, clients_for: Callable[[SignalingServer], Clients]
) -> Clients:
    """`Clients` for the default `signaling_server`."""
    return clients_for(signaling_server)

"""Fixtures shared by every test directory: the real signaling server on a free port."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.procs import AGENT_TOKEN, RedisServer, SignalingServer, free_port, wait_http

__all__ = ["RedisServer", "SignalingServer", "free_port", "wait_http"]

ServerFactory = Callable[..., SignalingServer]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers with extra CLI arguments (`"--ring-timeout", "1"`); stopped at teardown.

    `agent_token=""` starts one without an agent token; `host` is the address it listens on.
    """
    servers: list[SignalingServer] = []

    def start(
        *extra_args: str, agent_token: str = AGENT_TOKEN, host: str = "127.0.0.1"
    ) -> SignalingServer:
        server = SignalingServer(
            port=free_port(),
            log_path=tmp_path / (f"server-{len(servers)}.log" if servers else "server.log"),
            agent_token=agent_token,
            extra_args=tuple(extra_args),
            host=host,
        )
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def signaling_server(server_factory: ServerFactory) -> SignalingServer:
    """A signaling server with agent token "test-token"; log in `tmp_path/server.log`."""
    return server_factory()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A private, empty redis-server; its URL."""
    server = RedisServer(port=free_port(), log_path=tmp_path / "redis.log")
    server.start()
    yield server.url
    server.stop()

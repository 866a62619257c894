"""The `bots` fixture: agent bots against the test's signaling server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bots import Bots
from tests.procs import SignalingServer


@pytest.fixture
def bots(tmp_path: Path, signaling_server: SignalingServer) -> Iterator[Bots]:
    manager = Bots(tmp_path, signaling_server.url, signaling_server.agent_token)
    yield manager
    manager.close()

"""The event dispatcher's last line of defence: a failing handler becomes `internal-error`."""

from __future__ import annotations

from typing import Any

import pytest

from signaling_server.app import Session, SignalingServer
from signaling_server.config import Settings
from signaling_server.protocol import Role
from signaling_server.ratelimit import TokenBucket


async def test_handler_crash_is_an_internal_error_ack(caplog: pytest.LogCaptureFixture) -> None:
    server = SignalingServer(Settings())
    server._sessions["sid1"] = Session("sid1", Role.CUSTOMER, "c", TokenBucket(10, 10))

    async def broken(session: Session, data: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    ack = await server._dispatch("call-request", broken, "sid1", {})
    assert ack == {
        "ok": False,
        "error": {"code": "internal-error", "message": "internal error (logged by the server)"},
    }
    assert "boom" not in str(ack)
    assert "RuntimeError: boom" in caplog.text
    registry = server.metrics.registry
    assert registry.get_sample_value("signaling_errors_total", {"code": "internal-error"}) == 1

"""The signaling benchmark's baseline: a bare python-socketio relay of `ice-candidate`s.

No auth, no validation, no pairing: the floor python-socketio itself sets, against which
`bench/signaling.py` measures what the signaling server adds. Run as
`python bench/baselinerelay.py PORT` (the benchmark starts it pinned to a core).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signaling_server.protocol import MAX_MESSAGE_BYTES


def run_baseline_server(port: int) -> None:
    """A python-socketio relay with no auth, validation or pairing (what the server adds)."""
    sio = socketio.AsyncServer(async_mode="aiohttp", max_http_buffer_size=MAX_MESSAGE_BYTES)

    @sio.on("ice-candidate")  # type: ignore[misc]
    async def relay(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        target = data["targetUserId"]
        await sio.emit("ice-candidate", {"candidate": data["candidate"], "userId": sid}, to=target)
        return {"ok": True}  # sent only when the client asked for an ack

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    sio.attach(app)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    run_baseline_server(int(sys.argv[1]))

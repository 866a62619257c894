"""A GStreamer webrtcbin customer: `gst_peer.py` (Debian's Python) bridged to the real server.

`GstCustomer` is a python-socketio customer (`call-request {offerer}`) whose WebRTC end is a
`gst_peer.py` subprocess: it relays the peer's JSON lines (offer, answer, candidates) to the
agent through the server, and the agent's to the peer.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import socketio

SYSTEM_PYTHON = "/usr/bin/python3"
PEER_SCRIPT = Path(__file__).with_name("gst_peer.py")
PACKAGES = (
    "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad "
    "gstreamer1.0-nice gir1.2-gst-plugins-bad-1.0 python3-gi python3-gst-1.0"
)
PROBE = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstWebRTC', '1.0');"
    "from gi.repository import Gst; Gst.init(None);"
    "missing = [e for e in ('webrtcbin', 'nicesrc', 'dtlsdec', 'opusenc', 'rtpopuspay',"
    " 'wavparse', 'wavenc', 'clocksync') if Gst.ElementFactory.find(e) is None];"
    "print(' '.join(missing))"
)
TIMEOUT = 20.0


def require_gstreamer() -> None:
    """Fail (never skip) unless Debian's Python can drive webrtcbin, naming the packages."""
    try:
        probe = subprocess.run(
            [SYSTEM_PYTHON, "-c", PROBE], check=False, capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        pytest.fail(f"{SYSTEM_PYTHON} is missing (Debian package python3)", pytrace=False)
    if probe.returncode != 0 or probe.stdout.strip():
        missing = probe.stdout.strip() or probe.stderr.strip().splitlines()[-1:]
        pytest.fail(
            f"GStreamer webrtcbin is not usable from {SYSTEM_PYTHON} ({missing}): "
            f"install the Debian packages {PACKAGES} (apt-get install, or ./run setup)",
            pytrace=False,
        )


def looped_wav(sample: Path, path: Path, times: int) -> Path:
    """`sample` repeated `times` times, so the peer's one-shot file plays like a loop."""
    with wave.open(str(sample), "rb") as source:
        params = source.getparams()
        frames = source.readframes(source.getnframes())
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(frames * times)
    return path


class GstPeer:
    """One `gst_peer.py` process; its stdout lines land in `inbox`, its stderr in a log."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.lines: list[dict[str, Any]] = []
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, role: str, play: Path, record: Path, log: Path) -> GstPeer:
        with log.open("wb") as stderr:
            proc = await asyncio.create_subprocess_exec(
                SYSTEM_PYTHON, str(PEER_SCRIPT), "--role", role,
                "--play", str(play), "--record", str(record),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            )  # fmt: skip
        peer = cls(proc, log)
        await peer.expect("ready")
        return peer

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            message = json.loads(line)
            message["at"] = time.monotonic()
            self.lines.append(message)
            await self.inbox.put(message)

    async def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def expect(self, kind: str, within: float = TIMEOUT) -> dict[str, Any]:
        """The first line of type `kind` from now on (others are skipped, kept in `lines`)."""
        deadline = time.monotonic() + within
        while True:
            try:
                message = await asyncio.wait_for(self.inbox.get(), deadline - time.monotonic())
            except TimeoutError:
                pytest.fail(f"gst_peer never said {kind!r}: {self.transcript()}")
            if message["type"] == kind:
                return message

    def first(self, kind: str) -> dict[str, Any] | None:
        return next((m for m in self.lines if m["type"] == kind), None)

    def transcript(self) -> str:
        said = [{k: v for k, v in m.items() if k != "sdp"} for m in self.lines]
        return f"{said}\nstderr:\n{self.log.read_text(errors='replace')[-3000:]}"

    async def stop(self) -> None:
        """Finish the recording and wait for the process to exit."""
        if self.proc.returncode is None:
            await self.send({"type": "stop"})
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self._reader


class GstCustomer:
    """A customer whose WebRTC end is webrtcbin; `offerer` says who sends the SDP offer.

    `edit_sdp` rewrites webrtcbin's offer or answer on its way to the agent.
    """

    def __init__(
        self,
        url: str,
        offerer: str,
        play: Path,
        record: Path,
        log: Path,
        *,
        edit_sdp: Callable[[str], str] = str,
    ) -> None:
        self.url = url
        self.edit_sdp = edit_sdp
        self.offerer = offerer
        self._files = (play, record, log)
        self.sio = socketio.AsyncClient(reconnection=False)
        self.call_id: str | None = None
        self.agent_id: str | None = None
        self.accepted = asyncio.Event()
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.marks: dict[str, float] = {}
        self.peer: GstPeer | None = None
        self._pump: asyncio.Task[None] | None = None

    async def call(self) -> GstPeer:
        """Start the peer, ask for an agent and relay signaling both ways until it ends."""
        role = "offerer" if self.offerer == "customer" else "answerer"
        self.peer = await GstPeer.start(role, *self._files)
        self.sio.on("call-accepted", self._on_accepted)
        self.sio.on("offer", self._on_description)
        self.sio.on("answer", self._on_description)
        self.sio.on("ice-candidate", self._on_candidate)
        self.sio.on("call-ended", self._on_ended)
        await self.sio.connect(
            self.url, auth={"role": "customer", "name": "webrtcbin"}, transports=["websocket"]
        )
        self.marks["request"] = time.monotonic()
        ack = await self.sio.call("call-request", {"offerer": self.offerer}, timeout=TIMEOUT)
        assert ack["ok"], ack
        self.call_id = ack["callId"]
        await asyncio.wait_for(self.accepted.wait(), TIMEOUT)
        self._pump = asyncio.ensure_future(self._relay_peer())
        return self.peer

    async def _on_accepted(self, data: dict[str, Any]) -> None:
        self.marks["accepted"] = time.monotonic()
        self.agent_id = data["agentId"]
        self.accepted.set()

    async def _on_description(self, data: dict[str, Any]) -> None:
        assert self.peer is not None
        kind = "offer" if "offer" in data else "answer"
        self.marks[kind] = time.monotonic()
        await self.peer.send({"type": kind, "sdp": data[kind]["sdp"]})

    async def _on_candidate(self, data: dict[str, Any]) -> None:
        assert self.peer is not None
        candidate = data.get("candidate")
        if candidate and candidate.get("candidate"):  # null: the agent's end of candidates
            await self.peer.send(
                {
                    "type": "candidate",
                    "candidate": candidate["candidate"],
                    "sdpMLineIndex": candidate.get("sdpMLineIndex") or 0,
                }
            )

    async def _on_ended(self, data: dict[str, Any]) -> None:
        if not self.ended.done():
            self.ended.set_result(str(data.get("reason")))

    async def _relay_peer(self) -> None:
        """The peer's offer, answer and candidates to the agent, in the order it said them."""
        assert self.peer is not None
        while True:
            message = await self.peer.inbox.get()
            kind = message["type"]
            target = {"targetUserId": self.agent_id, "callId": self.call_id}
            if kind in ("offer", "answer"):
                self.marks[kind] = time.monotonic()
                description = {"type": kind, "sdp": self.edit_sdp(message["sdp"])}
                await self._emit(kind, {kind: description, **target})
            elif kind == "candidate":
                candidate = {
                    "candidate": message["candidate"],
                    "sdpMLineIndex": message["sdpMLineIndex"],
                }
                await self._emit("ice-candidate", {"candidate": candidate, **target})
            elif kind == "connected":
                self.marks["connected"] = message["at"]
            elif kind == "error" or message.get("connection") == "failed":
                self.marks.setdefault("failed", message["at"])

    async def _emit(self, event: str, payload: dict[str, Any]) -> None:
        ack = await self.sio.call(event, payload, timeout=TIMEOUT)
        assert ack["ok"], (event, ack)

    async def wait_connected(self, within: float = TIMEOUT) -> None:
        deadline = time.monotonic() + within
        while "connected" not in self.marks:
            if time.monotonic() > deadline or "failed" in self.marks:
                assert self.peer is not None
                pytest.fail(f"webrtcbin never connected: {self.peer.transcript()}")
            await asyncio.sleep(0.02)

    def offer_to_connected_ms(self) -> float:
        return 1000 * (self.marks["connected"] - self.marks["offer"])

    async def hang_up(self) -> None:
        """`hangup` to the server, then finish the peer's recording."""
        if self.sio.connected and self.call_id is not None:
            await self.sio.call("hangup", {"callId": self.call_id}, timeout=TIMEOUT)
        await self.close()

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        if self.peer is not None:
            await self.peer.stop()
        if self.sio.connected:
            await self.sio.disconnect()

"""The baseline answerer: raw aiortc, registered as an agent, echoing every call.

Plain `RTCPeerConnection`s with `iceServers=[]`; each call's local track relays the frames
`recv()` yields on its remote track, so aiortc decodes, then encodes every frame per call —
what a minimal aiortc echo server does. Signaling goes through the bot's `SignalingClient`
(not what is measured). Run as `python bench/raw_agent.py --server URL --token T --max-calls N`;
SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)

from agent_bot.signaling import SignalingClient
from signaling_server.protocol import Event


class RelayTrack(MediaStreamTrack):
    """Sends what another track receives, frame by frame."""

    kind = "audio"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self._source = source

    async def recv(self) -> Any:
        return await self._source.recv()


class RawAgent:
    """Accepts every call and answers its offer with an echoing `RTCPeerConnection`."""

    def __init__(self, server: str, token: str, name: str, max_calls: int) -> None:
        auth = {"role": "agent", "token": token, "name": name, "maxCalls": max_calls}
        self.signaling = SignalingClient(server, auth)
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.signaling.on(Event.INCOMING_CALL, self._on_incoming)
        self.signaling.on(Event.OFFER, self._on_offer)
        self.signaling.on(Event.CALL_ENDED, self._on_ended)

    async def _on_incoming(self, data: dict[str, Any]) -> None:
        call_id = str(data["callId"])
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        @pc.on("track")
        def echo(track: MediaStreamTrack) -> None:
            pc.addTrack(RelayTrack(track))

        self.pcs[call_id] = pc
        await self.signaling.request(Event.CALL_ACCEPT, {"callId": call_id})

    async def _on_offer(self, data: dict[str, Any]) -> None:
        call_id = str(data["callId"])
        pc = self.pcs[call_id]
        offer = data["offer"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type=offer["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        target = {"targetUserId": str(data["userId"]), "callId": call_id}
        local = {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}
        await self.signaling.request(Event.ANSWER, {"answer": local, **target})
        await self.signaling.send(Event.ICE_CANDIDATE, {"candidate": None, **target})

    async def _on_ended(self, data: dict[str, Any]) -> None:
        pc = self.pcs.pop(str(data.get("callId")), None)
        if pc is not None:
            await pc.close()

    async def run(self) -> None:
        await self.signaling.connect()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await asyncio.gather(*(pc.close() for pc in self.pcs.values()))
        await self.signaling.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--name", default="raw-aiortc")
    parser.add_argument("--max-calls", type=int, default=1)
    args = parser.parse_args(argv)
    asyncio.run(RawAgent(args.server, args.token, args.name, args.max_calls).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())

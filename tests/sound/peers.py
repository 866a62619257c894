"""Two real aiortc peers in one process (a caller and the bot), and what their tracks carry."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import is_rtcp

from agent_bot.media.frames import SAMPLE_RATE, Pcm, frame_to_pcm


@dataclass
class Call:
    caller: RTCPeerConnection
    bot: RTCPeerConnection
    receiver: Any
    """The bot's `RTCRtpReceiver` of the caller's audio."""
    remote: MediaStreamTrack
    """The caller's audio as aiortc's track gives it to the bot."""
    back: MediaStreamTrack | None
    """The bot's audio as the caller receives it (when the bot sends)."""
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await self.caller.close()
        await self.bot.close()


async def connect(
    caller_track: MediaStreamTrack, bot_track: MediaStreamTrack | None = None
) -> Call:
    """Connects a caller sending `caller_track` to the bot (sending `bot_track`, if any)."""
    caller = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    bot = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    arrived: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    came_back: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    bot.on("track", lambda track: arrived.done() or arrived.set_result(track))
    caller.on("track", lambda track: came_back.done() or came_back.set_result(track))
    caller.addTransceiver(caller_track, direction="sendrecv" if bot_track else "sendonly")
    await caller.setLocalDescription(await caller.createOffer())
    await bot.setRemoteDescription(caller.localDescription)
    if bot_track is not None:
        bot.addTrack(bot_track)
    await bot.setLocalDescription(await bot.createAnswer())
    await caller.setRemoteDescription(bot.localDescription)
    remote = await asyncio.wait_for(arrived, 10)
    back = await asyncio.wait_for(came_back, 10) if bot_track is not None else None
    receiver = next(t.receiver for t in bot.getTransceivers() if t.receiver.track is remote)
    return Call(caller, bot, receiver, remote, back)


class Received:
    """Reads a remote track until it ends, keeping its PCM and when each frame came."""

    def __init__(
        self, track: MediaStreamTrack, on_pcm: Callable[[Pcm], None] | None = None
    ) -> None:
        self.chunks: list[Pcm] = []
        self.times: list[float] = []
        self._on_pcm = on_pcm
        self.task = asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            pcm = frame_to_pcm(frame)
            self.chunks.append(pcm)
            self.times.append(time.monotonic())
            if self._on_pcm is not None:
                self._on_pcm(pcm)

    def pcm(self) -> Pcm:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=np.int16)


class SentLog:
    """A sent-listener: the PCM a track sent, and when each frame went."""

    def __init__(self) -> None:
        self.chunks: list[Pcm] = []
        self.times: list[float] = []

    @property
    def first(self) -> float | None:
        return self.times[0] if self.times else None

    def __call__(self, pcm: Pcm) -> None:
        self.times.append(time.monotonic())
        self.chunks.append(pcm.copy())

    def pcm(self) -> Pcm:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=np.int16)

    def timeline(self) -> Pcm:
        """What was sent on the time axis of its sending (sample 0: the first frame): each
        frame at the time it went, or right after the previous one if that is later (frames
        sent back to back). A sender that fell behind its schedule and restarted it shows as
        a gap, not as receive delay."""
        if not self.chunks:
            return np.zeros(0, dtype=np.int16)
        offsets: list[int] = []
        end = 0
        for t, chunk in zip(self.times, self.chunks, strict=True):
            offsets.append(max(end, round((t - self.times[0]) * SAMPLE_RATE)))
            end = offsets[-1] + len(chunk)
        out = np.zeros(end, dtype=np.int16)
        for offset, chunk in zip(offsets, self.chunks, strict=True):
            out[offset : offset + len(chunk)] = chunk
        return out


def impair(
    peer: RTCPeerConnection, *, loss: float, reorder: float, seed: int = 0
) -> dict[str, int]:
    """Drops a share `loss` of the RTP packets `peer` sends and swaps a share `reorder` with
    the packet after them. Returns live counters."""
    rng = random.Random(seed)
    counts = {"sent": 0, "dropped": 0, "reordered": 0}
    transport = peer.getSenders()[0].transport
    send: Callable[[bytes], Awaitable[None]] = transport._send_rtp
    held: list[bytes] = []

    async def impaired(data: bytes) -> None:
        if is_rtcp(data):
            await send(data)
            return
        counts["sent"] += 1
        if rng.random() < loss:
            counts["dropped"] += 1
            return
        if not held and rng.random() < reorder:
            counts["reordered"] += 1
            held.append(data)
            return
        await send(data)
        while held:
            await send(held.pop())

    transport._send_rtp = impaired
    return counts

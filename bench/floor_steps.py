"""The floor's steps, measured in this process: what no call can skip, per packet.

`measure_floor`: each step in a tight loop (µs per packet, the median of repeats): on receive
`recvfrom` on a loopback UDP socket, SRTP `unprotect` (pylibsrtp, the profile aiortc
negotiates first), RTP header parse; on send RTP header build, SRTP `protect`, `sendto`; and
Opus decode, aiortc's `RtpPacket.parse` / `serialize` for comparison. `paced_floor`: the same
receive and send work done as a process serving N calls meets it, one wakeup per call every
20 ms at its own phase (asyncio timers), CPU per call per 20 ms: what waking up costs on this
machine on top of the work. Used by `floor.py` (`./run bench floor`).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from aiortc.rtcdtlstransport import SRTP_PROFILES
from aiortc.rtp import RtpPacket
from calls_per_core import SAMPLE
from pylibsrtp import Policy, Session

from agent_bot.media.opus import encode
from agent_bot.media.rtpreceiver import OpusDecoder
from agent_bot.media.sources import decode

FRAME_S = 0.02
RTP_HEADER = struct.Struct("!BBHII")
SSRC = 0x1234ABCD
BATCH = 32
"""Datagrams sent before they are read back (well within a socket's receive buffer)."""
T = TypeVar("T")
R = TypeVar("R")


def payloads(count: int) -> list[bytes]:
    """`count` Opus payloads of the sample as the bot encodes it (looped)."""
    once = encode(decode(SAMPLE))
    return (once * (count // len(once) + 1))[:count]


def srtp_pair() -> tuple[Session, Session]:
    """A sending and a receiving SRTP session with one key, as aiortc sets them up."""
    profile = SRTP_PROFILES[0]
    key = os.urandom(profile.key_length + profile.salt_length)
    sessions = []
    for ssrc_type in (Policy.SSRC_ANY_OUTBOUND, Policy.SSRC_ANY_INBOUND):
        policy = Policy(key=key, ssrc_type=ssrc_type, srtp_profile=profile.libsrtp_profile)
        policy.allow_repeat_tx = True
        policy.window_size = 1024
        sessions.append(Session(policy))
    return sessions[0], sessions[1]


@dataclass
class Floor:
    """µs per packet of each step (median over repeats)."""

    steps: dict[str, float]
    payload_bytes: float

    RECEIVE = ("recvfrom", "unprotect", "parse")
    SEND = ("build", "protect", "sendto")

    @property
    def receive(self) -> float:
        return sum(self.steps[name] for name in self.RECEIVE)

    @property
    def send(self) -> float:
        return sum(self.steps[name] for name in self.SEND)

    @property
    def per_call(self) -> float:
        """µs per call per 20 ms: one packet received, one sent."""
        return self.receive + self.send


def mapped(function: Callable[[T], R], items: Sequence[T]) -> tuple[list[R], float]:
    """`function` of each item, and the µs it took per item."""
    start = time.perf_counter_ns()
    out = list(map(function, items))
    return out, (time.perf_counter_ns() - start) / 1000 / len(items)


def build(item: tuple[int, bytes], ssrc: int = SSRC) -> bytes:
    """An RTP packet: the fixed 12-byte header (sequence number, timestamp) and the payload."""
    seq, payload = item
    return RTP_HEADER.pack(0x80, 111, seq, seq * 960 & 0xFFFFFFFF, ssrc) + payload


def parse(data: bytes) -> tuple[tuple[int, ...], bytes]:
    """An RTP packet's fixed header fields and payload."""
    return RTP_HEADER.unpack_from(data), data[RTP_HEADER.size :]


@contextmanager
def udp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A sending and a receiving UDP socket on loopback."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        yield sockets[0], sockets[1]
    finally:
        for sock in sockets:
            sock.close()


def measure_floor(count: int, repeats: int, times: dict[str, list[float]]) -> Floor:
    """Every floor step over `count` packets, `repeats` times, added to `times` (µs per packet
    by step); plus Opus decode and aiortc's own RTP parse / serialize for comparison. The
    floor is the median of everything in `times`, so passes before and after other work pool."""
    opus = payloads(count)
    tx, rx = srtp_pair()

    def note(name: str, us: float) -> None:
        times.setdefault(name, []).append(us)

    with udp_pair() as (sender, receiver):
        for repeat in range(repeats):
            seqs = [(repeat * count + k) & 0xFFFF for k in range(count)]
            built, us = mapped(build, list(zip(seqs, opus, strict=True)))
            note("build", us)
            protected, us = mapped(tx.protect, built)
            note("protect", us)
            received, send_us, receive_us = udp_round(sender, receiver, protected)
            note("sendto", send_us)
            note("recvfrom", receive_us)
            plain, us = mapped(rx.unprotect, received)
            note("unprotect", us)
            note("parse", mapped(parse, plain)[1])
            packets, us = mapped(RtpPacket.parse, plain)
            note("aiortc parse", us)
            note("aiortc serialize", mapped(RtpPacket.serialize, packets)[1])
            note("opus decode", mapped(OpusDecoder().decode, opus)[1])
    steps = {name: statistics.median(values) for name, values in times.items()}
    return Floor(steps, statistics.fmean(len(p) for p in opus))


def paced_floor(calls: int, seconds: float) -> float:
    """CPU per call per 20 ms (µs) of the floor's work for `calls` calls, each call's packet
    received and one sent back in a wakeup of its own every 20 ms (random phases), as an echo
    bot meets its packets."""
    return asyncio.run(_paced(calls, seconds))


async def _paced(calls: int, seconds: float) -> float:
    opus = payloads(int(seconds / FRAME_S) + 1)
    tx, rx = srtp_pair()
    loop = asyncio.get_running_loop()
    handled = 0

    async def call(index: int, sender: socket.socket, receiver: socket.socket) -> None:
        nonlocal handled
        address = receiver.getsockname()
        due = loop.time() + random.random() * FRAME_S
        for seq, payload in enumerate(opus):
            due += FRAME_S
            await asyncio.sleep(due - loop.time())
            # what arrives (its sending is the far end's, but it is the same work as ours)
            sender.sendto(tx.protect(build((seq, payload), SSRC + index)), address)
            parse(rx.unprotect(receiver.recvfrom(2048)[0]))
            handled += 1

    with udp_pair() as (sender, receiver):
        receiver.setblocking(False)
        cpu = time.process_time()
        await asyncio.gather(*(call(index, sender, receiver) for index in range(calls)))
        cpu = time.process_time() - cpu
    return 1e6 * cpu / handled


def udp_round(
    sender: socket.socket, receiver: socket.socket, datagrams: list[bytes]
) -> tuple[list[bytes], float, float]:
    """`datagrams` sent to `receiver` and read back in batches: them, and the µs per datagram
    of `sendto` and of `recvfrom` apart."""
    address = receiver.getsockname()
    send_ns = receive_ns = 0
    received: list[bytes] = []
    for first in range(0, len(datagrams), BATCH):
        batch = datagrams[first : first + BATCH]
        start = time.perf_counter_ns()
        for datagram in batch:
            sender.sendto(datagram, address)
        middle = time.perf_counter_ns()
        for _ in batch:
            received.append(receiver.recvfrom(2048)[0])
        send_ns += middle - start
        receive_ns += time.perf_counter_ns() - middle
    count = len(datagrams)
    return received, send_ns / 1000 / count, receive_ns / 1000 / count

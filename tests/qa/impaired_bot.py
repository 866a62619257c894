"""Test-only launcher: `agent-bot` whose outgoing RTP is dropped at random and/or delayed.

    python -m tests.qa.impaired_bot --drop 0.05 --delay-ms 200 -- answer --server URL --echo

The netem qdisc is missing on this kernel, so the impairment happens in the bot process
itself, just before SRTP protection: every RTP packet aiortc sends is dropped with probability
`--drop` (seeded, reproducible; RTCP is never dropped) and every RTP and RTCP packet leaves
`--delay-ms` later, in order; with `--delay-from-s S` only from S seconds after the call's
first RTP packet (a step in the middle of one call). The product code is untouched.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import is_rtcp

from agent_bot.cli import main as agent_bot_main

logger = logging.getLogger(__name__)

Send = Callable[[RTCDtlsTransport, bytes], Awaitable[None]]


class Impairment:
    """Drops and delays the packets of every DTLS transport of this process."""

    def __init__(self, drop: float, delay_s: float, delay_from_s: float, seed: int) -> None:
        self.drop = drop
        self.delay_s = delay_s
        self.delay_from_s = delay_from_s
        self.random = random.Random(seed)
        self.sent = 0
        self.dropped = 0
        self._queues: dict[RTCDtlsTransport, deque[tuple[float, bytes]]] = {}
        self._drains: set[asyncio.Task[None]] = set()
        self._first_rtp: dict[RTCDtlsTransport, float] = {}

    def install(self) -> None:
        send: Send = RTCDtlsTransport._send_rtp

        async def impaired(transport: RTCDtlsTransport, data: bytes) -> None:
            if not is_rtcp(data):
                self.sent += 1
                if self.random.random() < self.drop:
                    self.dropped += 1
                    if self.dropped % 25 == 1:
                        logger.info(
                            "impairment: %d of %d RTP packets dropped", self.dropped, self.sent
                        )
                    return
            loop = asyncio.get_running_loop()
            first = self._first_rtp.setdefault(transport, loop.time())
            if self.delay_s <= 0 or loop.time() - first < self.delay_from_s:
                await send(transport, data)
                return
            queue = self._queues.get(transport)
            if queue is None:
                queue = self._queues[transport] = deque()
                task = loop.create_task(self._drain(transport, queue, send))
                self._drains.add(task)
                task.add_done_callback(self._drains.discard)
            queue.append((loop.time() + self.delay_s, data))

        RTCDtlsTransport._send_rtp = impaired  # type: ignore[method-assign]

    async def _drain(
        self, transport: RTCDtlsTransport, queue: deque[tuple[float, bytes]], send: Send
    ) -> None:
        """Send each queued packet once its time has come, in order; end when none is left."""
        loop = asyncio.get_running_loop()
        try:
            while queue:
                due, data = queue[0]
                await asyncio.sleep(max(0.0, due - loop.time()))
                queue.popleft()
                late = loop.time() - due
                if late > 0.02:
                    logger.warning("impairment: packet sent %.0f ms late", late * 1000)
                await send(transport, data)
        except ConnectionError:  # the call ended while packets were in flight
            pass
        finally:
            del self._queues[transport]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drop", type=float, default=0.0, help="share of RTP packets dropped")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="extra delay of every packet")
    parser.add_argument(
        "--delay-from-s", type=float, default=0.0, help="delay only from this far into a call"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("bot_args", nargs=argparse.REMAINDER, help="-- then agent-bot arguments")
    args = parser.parse_args(argv)
    bot_args = args.bot_args[1:] if args.bot_args[:1] == ["--"] else args.bot_args
    Impairment(args.drop, args.delay_ms / 1000, args.delay_from_s, args.seed).install()
    return agent_bot_main(bot_args)


if __name__ == "__main__":
    sys.exit(main())

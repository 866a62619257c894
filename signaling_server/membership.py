"""One node's membership of several (with Redis): its heartbeat, clean-up after dead nodes.

A node registers at start-up and refreshes its heartbeat every `heartbeat_interval`; on each
beat it looks for nodes whose heartbeat expired and treats their clients as disconnected. A
node that finds its own heartbeat expired (it stalled) rejoins under a new id and drops its
clients, which reconnect and register again. On shutdown it ends its clients' calls in the
shared state and leaves the node list.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from signaling_server.stores.liveness import heartbeat_interval
from signaling_server.stores.redis import NodeRegistry

log = logging.getLogger(__name__)


class NodeClients(Protocol):
    """The clients connected to this node, as the server holds them."""

    def sids(self) -> list[str]: ...

    async def forget(self, sid: str, reason: str) -> None:
        """The client is gone from this node: end or re-offer its calls."""

    async def remove(self, sid: str, who: str) -> None:
        """A client of another (dead) node is gone: end or re-offer its calls."""

    async def disconnect(self, sid: str) -> None:
        """Close the client's connection (it reconnects)."""


class Membership:
    """Keeps this node listed while it runs and cleans up after nodes that died."""

    def __init__(self, nodes: NodeRegistry, ttl: float, clients: NodeClients) -> None:
        self.nodes = nodes
        self._interval = heartbeat_interval(ttl)
        self._clients = clients
        self._heartbeat: asyncio.Task[None] | None = None
        self._reaping: asyncio.Task[None] | None = None

    async def join(self) -> None:
        """Register this node and start its heartbeat."""
        log.info("node %s joined", await self.nodes.rejoin())
        self._heartbeat = asyncio.create_task(self._beat())

    async def leave(self) -> None:
        """End this node's calls in the shared state and leave the node list.

        (A lone node just forgets: its state dies with it and media already flowing goes on.)
        """
        for task in (self._heartbeat, self._reaping):
            if task is not None:
                task.cancel()
        for sid in self._clients.sids():
            await self._clients.forget(sid, "node shutting down")
        try:
            await self.nodes.forget(self.nodes.node)
        except Exception:
            log.exception("node %s: leaving the node list failed", self.nodes.node)
            return
        log.info("node %s left", self.nodes.node)

    async def _beat(self) -> None:
        """Every heartbeat interval: refresh this node's heartbeat, look for dead nodes."""
        nodes = self.nodes
        failing = False
        while True:
            await asyncio.sleep(self._interval)
            try:
                if not await nodes.beat():
                    await self._rejoin()
            except Exception as exc:
                if not failing:
                    log.warning("node %s: heartbeat failed: %s: %s", nodes.node,
                                type(exc).__name__, exc)  # fmt: skip
                failing = True
                continue
            if failing:
                log.info("node %s: heartbeat back", nodes.node)
                failing = False
            # in a task of its own, so that a long clean-up never delays this node's heartbeat
            if self._reaping is None or self._reaping.done():
                self._reaping = asyncio.create_task(self._reap())

    async def _reap(self) -> None:
        """Clients of dead nodes count as disconnected: end or re-offer their calls."""
        nodes = self.nodes
        try:
            for node in await nodes.dead():
                if not await nodes.claim(node):
                    continue
                sids = await nodes.clients(node)
                for sid in sids:
                    await self._clients.remove(sid, f"client {sid} of expired node {node}")
                await nodes.forget(node)
                log.info("node %s expired: %d clients cleaned up", node, len(sids))
        except Exception as exc:
            log.warning("node %s: cleaning up dead nodes failed: %s: %s", nodes.node,
                        type(exc).__name__, exc)  # fmt: skip

    async def _rejoin(self) -> None:
        """This node's heartbeat expired (it stalled): others may have cleaned up its clients.

        It takes a new id and disconnects its clients, which reconnect and register again.
        """
        old = self.nodes.node
        await self.nodes.rejoin()
        sids = self._clients.sids()
        log.warning("node %s: heartbeat had expired; rejoined as %s, dropping %d clients",
                    old, self.nodes.node, len(sids))  # fmt: skip
        for sid in sids:
            await self._clients.forget(sid, "node heartbeat expired")
            await self._clients.disconnect(sid)

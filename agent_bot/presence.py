"""The agent's state as the server sees it: available, away or wrap-up (protocol v1.1).

What the person chose (`set`), a wrap-up of `wrap_up` seconds after each call, and overload
(load-based admission) turning an available agent away; the server is told the result with
`agent-status {state}`, whose ack carries the queue length (then pushed by `queue-update`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from agent_bot.signaling import SignalingError
from signaling_server.protocol import AgentState, Event

logger = logging.getLogger(__name__)

Request = Callable[[Event, dict[str, Any]], Awaitable[dict[str, Any]]]


class Presence:
    """The agent's state; `on_change()` runs after every change (state, queue length)."""

    def __init__(
        self,
        request: Request,
        *,
        wrap_up: float | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._request = request
        self.wrap_up = wrap_up
        self.on_change = on_change
        self.chosen = AgentState.AVAILABLE
        self.overloaded = False
        self.queue_length: int | None = None
        """Customers waiting in the queue, as last told by the server (None: not yet)."""
        self.wrap_up_until: float | None = None
        """Monotonic time the current wrap-up ends (None: not in wrap-up by timer)."""
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def state(self) -> AgentState:
        """What the server is told: the chosen state, away while overloaded."""
        if self.overloaded and self.chosen is AgentState.AVAILABLE:
            return AgentState.AWAY
        return self.chosen

    async def set(self, state: AgentState) -> None:
        """The person's choice (ready = available); cancels a wrap-up timer."""
        self._cancel_timer()
        self.chosen = state
        await self.tell()

    async def call_ended(self) -> None:
        """After a call: wrap-up for `wrap_up` seconds (when set and the agent was available)."""
        if self.wrap_up is None or self.chosen is not AgentState.AVAILABLE:
            return
        await self.set(AgentState.WRAP_UP)
        self.wrap_up_until = time.monotonic() + self.wrap_up
        self._timer = asyncio.get_running_loop().call_later(self.wrap_up, self._wrap_up_over)
        logger.info("agent wrap-up for %g s", self.wrap_up)

    async def overload(self, overloaded: bool) -> None:
        """Load-based admission: an overloaded agent is away until it recovers."""
        self.overloaded = overloaded
        await self.tell()

    async def tell(self) -> None:
        """Send the state to the server (also after a reconnection: it may have forgotten)."""
        state = self.state
        try:
            ack = await self._request(Event.AGENT_STATUS, {"state": str(state)})
        except SignalingError as exc:
            logger.warning("agent state=%s not taken: %s", state, exc)
        else:
            self.queue_length = int(ack.get("queue", 0))
            logger.info("agent state=%s queue=%d", state, self.queue_length)
        self.on_change()

    def queue_update(self, data: dict[str, Any]) -> None:
        """`queue-update {length}` from the server."""
        self.queue_length = int(data.get("length", 0))
        self.on_change()

    def close(self) -> None:
        self._cancel_timer()

    def _wrap_up_over(self) -> None:
        self._timer = None
        task = asyncio.ensure_future(self.set(AgentState.AVAILABLE))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_timer(self) -> None:
        self.wrap_up_until = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

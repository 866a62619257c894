"""The status bar: the server connection, the agent's state, the queue, the last problem."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget


class StatusBar(Widget):
    """One line at the top; every field is a reactive attribute the app sets."""

    DEFAULT_CSS = """
    StatusBar { height: 2; background: $boost; padding: 0 1; }
    StatusBar.away { background: $warning 30%; }
    StatusBar.offline { background: $error 30%; }
    """

    connection: reactive[str] = reactive("connecting")
    """connecting | connected | reconnecting"""
    state: reactive[str] = reactive("available")
    """available | away | wrap-up"""
    wrap_up_left: reactive[int | None] = reactive(None)
    queue: reactive[int | None] = reactive(None)
    problem: reactive[str] = reactive("")
    agent_name: reactive[str] = reactive("")

    def render(self) -> str:
        state = self.state
        if state == "wrap-up" and self.wrap_up_left is not None:
            state = f"wrap-up {self.wrap_up_left} s"
        queue = "?" if self.queue is None else str(self.queue)
        line = f"{self.agent_name}  server: {self.connection}  │  {state}  │  queue: {queue}"
        return line + (f"\n⚠ {self.problem}" if self.problem else "")

    def watch_state(self, state: str) -> None:
        self.set_class(state != "available", "away")

    def watch_connection(self, connection: str) -> None:
        self.set_class(connection != "connected", "offline")

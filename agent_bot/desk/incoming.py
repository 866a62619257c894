"""The ringing call: who calls and for how long; gone when answered, rejected or given up."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget


class IncomingCall(Widget):
    """Shown while `caller` is set; `ringing_for` in whole seconds."""

    DEFAULT_CSS = """
    IncomingCall { height: 3; border: heavy $success; padding: 0 1; display: none; }
    IncomingCall.ringing { display: block; }
    """

    caller: reactive[str | None] = reactive(None)
    transfer_from: reactive[str | None] = reactive(None)
    ringing_for: reactive[int] = reactive(0)

    def render(self) -> str:
        via = f" (transferred by {self.transfer_from})" if self.transfer_from else ""
        return (
            f"☎ {self.caller}{via} is calling · ringing {self.ringing_for} s"
            "  ·  [a] accept  [r] reject"
        )

    def watch_caller(self, caller: str | None) -> None:
        self.set_class(caller is not None, "ringing")

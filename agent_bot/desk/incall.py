"""The call in progress: peer, timer, mute / hold, levels, network quality."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget

from agent_bot.desk.meters import Meter


class CallInfo(Widget):
    """`Bob · 01:23 · MUTED · ON HOLD`."""

    DEFAULT_CSS = """
    CallInfo { height: 1; text-style: bold; }
    """

    peer: reactive[str] = reactive("")
    seconds: reactive[int] = reactive(0)
    connected: reactive[bool] = reactive(False)
    muted: reactive[bool] = reactive(False)
    held: reactive[bool] = reactive(False)
    note: reactive[str] = reactive("")

    def render(self) -> str:
        parts = [f"☏ {self.peer}", f"{self.seconds // 60:02d}:{self.seconds % 60:02d}"]
        if not self.connected:
            parts.append("connecting…")
        if self.muted:
            parts.append("MUTED")
        if self.held:
            parts.append("ON HOLD")
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)


class NetworkLine(Widget):
    DEFAULT_CSS = """
    NetworkLine { height: 1; color: $text-muted; }
    """

    summary: reactive[str] = reactive("RTT –  loss –  jitter –  MOS –")

    def render(self) -> str:
        return f"network  {self.summary}"


class SoundLine(Widget):
    """Echo cancellation on the microphone, while the call is on the speaker."""

    DEFAULT_CSS = """
    SoundLine { height: 1; color: $text-muted; }
    """

    summary: reactive[str] = reactive("echo –")

    def render(self) -> str:
        return f"sound    {self.summary}"


class InCall(Vertical):
    """Shown while a call is in progress (`active`)."""

    DEFAULT_CSS = """
    InCall { height: 7; border: heavy $accent; padding: 0 1; display: none; }
    InCall.active { display: block; }
    """

    active: reactive[bool] = reactive(False)

    def compose(self) -> ComposeResult:
        yield CallInfo(id="call-info")
        yield Meter("mic", id="mic-level")
        yield Meter("speaker", id="speaker-level")
        yield NetworkLine(id="network")
        yield SoundLine(id="sound")

    def watch_active(self, active: bool) -> None:
        self.set_class(active, "active")

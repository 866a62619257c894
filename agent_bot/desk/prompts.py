"""Modal prompts: the transfer target, the list of keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class TransferPrompt(ModalScreen[str | None]):
    """Asks for an agent's name (or `queue`); dismisses with it, or None on escape."""

    DEFAULT_CSS = """
    TransferPrompt { align: center middle; }
    TransferPrompt > Vertical { width: 60; height: auto; border: thick $accent; padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Transfer to (an agent's name, or queue):")
            yield Input(placeholder="name | queue", id="transfer-to")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class KeysHelp(ModalScreen[None]):
    """Every key of the desk and what it does; any key closes it."""

    DEFAULT_CSS = """
    KeysHelp { align: center middle; }
    KeysHelp > Static { width: 50; height: auto; border: thick $primary; padding: 1 2; }
    """

    def __init__(self, keys: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        self._keys = list(keys)

    def compose(self) -> ComposeResult:
        lines = [f"{key:>6}  {what}" for key, what in self._keys]
        yield Static("keys\n\n" + "\n".join(lines) + "\n\n(any key closes this)", id="keys")

    def on_key(self) -> None:
        self.dismiss(None)

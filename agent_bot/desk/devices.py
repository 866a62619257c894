"""Sound device switching from the desk: the lists to pick from, the switch mid-call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal, Protocol

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

Kind = Literal["input", "output"]
Lister = Callable[[], list[dict[str, Any]]]


class Switchable(Protocol):
    """A device that can be switched mid-call (`DeviceKeeper`, `EngineDevice`)."""

    def switch(self, spec: int | str | None) -> None: ...


def _portaudio_devices() -> list[dict[str, Any]]:
    from agent_bot.media.devices import sd  # noqa: PLC0415 (PortAudio on demand)

    return list(sd.query_devices())


class SoundDevices:
    """The speaker's and the microphone's devices (either may be absent)."""

    def __init__(
        self,
        output: Switchable | None,
        input: Switchable | None,
        lister: Lister = _portaudio_devices,
    ) -> None:
        self.keepers: dict[Kind, Switchable | None] = {"output": output, "input": input}
        self._lister = lister

    def choices(self) -> list[tuple[Kind, int, str]]:
        """(kind, index, name) of every device a present keeper could switch to."""
        found: list[tuple[Kind, int, str]] = []
        for kind, keeper in self.keepers.items():
            if keeper is None:
                continue
            for device in self._lister():
                if device[f"max_{kind}_channels"] > 0:
                    found.append((kind, int(device["index"]), str(device["name"])))
        return found

    def switch(self, kind: Kind, index: int) -> None:
        keeper = self.keepers[kind]
        if keeper is not None:
            keeper.switch(index)


class DevicePrompt(ModalScreen[tuple[Kind, int] | None]):
    """Pick an output (speaker) or input (microphone) device; escape leaves them as they are."""

    DEFAULT_CSS = """
    DevicePrompt { align: center middle; }
    DevicePrompt > Vertical { width: 70; height: auto; max-height: 20; border: thick $accent; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, choices: list[tuple[Kind, int, str]]) -> None:
        super().__init__()
        self._choices = choices

    def compose(self) -> ComposeResult:
        role = {"output": "speaker", "input": "microphone"}
        with Vertical():
            yield Static("Switch the sound device (the call goes on):")
            yield OptionList(
                *(
                    Option(f"{role[kind]:<10} {index:>3}  {name}", id=f"{kind}:{index}")
                    for kind, index, name in self._choices
                ),
                id="devices",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        kind, index = str(event.option.id).split(":")
        self.dismiss(("output" if kind == "output" else "input", int(index)))

    def action_cancel(self) -> None:
        self.dismiss(None)

"""A level meter: one line, the RMS level of a call's audio on a dBFS scale."""

from __future__ import annotations

import math

from textual.reactive import reactive
from textual.widget import Widget

FLOOR_DB = -60.0
WIDTH = 30


def bar(level: float, width: int = WIDTH) -> str:
    """`level` (RMS, full scale 1.0) as a bar of `width` cells from -60 to 0 dBFS."""
    db = 20 * math.log10(level) if level > 0 else FLOOR_DB
    filled = round(width * max(0.0, min(1.0, (db - FLOOR_DB) / -FLOOR_DB)))
    return "█" * filled + "·" * (width - filled)


class Meter(Widget):
    """`label  ████····  -23 dB`; `level` is the RMS level (full scale 1.0)."""

    DEFAULT_CSS = """
    Meter { height: 1; width: 1fr; }
    """

    level: reactive[float] = reactive(0.0)

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label

    def render(self) -> str:
        db = 20 * math.log10(self.level) if self.level > 0 else FLOOR_DB
        return f"{self.label:<8} {bar(self.level)} {max(db, FLOOR_DB):4.0f} dB"

"""The session's calls: time, peer, duration, end reason, network MOS."""

from __future__ import annotations

from textual.widgets import DataTable

COLUMNS = ("time", "peer", "duration", "ended", "MOS")


class History(DataTable[str]):
    """One row per ended call, in order; the cursor on the newest."""

    DEFAULT_CSS = """
    History { height: 1fr; border: round $primary; }
    """

    def on_mount(self) -> None:
        self.border_title = "history"
        self.cursor_type = "row"
        self.add_columns(*COLUMNS)

    def add_call(self, time: str, peer: str, duration: str, reason: str, mos: str) -> None:
        self.add_row(time, peer, duration, reason, mos)
        self.move_cursor(row=self.row_count - 1)

"""Fixtures for the interop tests: agent bots, and GStreamer's webrtcbin (missing: fail)."""

from __future__ import annotations

import pytest

from tests.bot.conftest import bots
from tests.interop.gst import require_gstreamer

__all__ = ["bots"]


@pytest.fixture(scope="session")
def gstreamer() -> None:
    """Debian's Python drives webrtcbin; a missing package fails the test naming it."""
    require_gstreamer()

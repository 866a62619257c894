"""Fixtures of the QA tests."""

from __future__ import annotations

import pytest

from agent_bot.media.frames import Pcm
from tests.qa.signals import SAMPLES, read_wav


@pytest.fixture(scope="session")
def speech() -> Pcm:
    """10.9 s of synthetic speech (samples/hello-48k.wav)."""
    return read_wav(SAMPLES / "hello-48k.wav")

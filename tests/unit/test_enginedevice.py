"""The bot's view of an engine device: opens counted, retries then giving up, switching."""

from __future__ import annotations

import logging

import pytest

from agent_bot.media.enginedevice import EngineDevice


def test_opens_are_counted_once_per_engine() -> None:
    device = EngineDevice("speaker", None, lambda reason: None)
    for state in ("opening", "open", "open", "open"):
        device.update({"state": state, "index": 3})
    assert device.running and device.opened == 1 and device.index == 3
    device.engine_gone()
    assert not device.running
    device.update({"state": "open", "index": 3})
    assert device.opened == 2


def test_retries_then_gives_up_then_starts_over(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    device = EngineDevice("microphone", "USB", lambda reason: None)
    device.update({"state": "unavailable", "reason": "no input device named like 'USB'"})
    assert device.unavailable
    for _ in range(2):
        device.failed(retries=2, retry_seconds=2.0)
    assert not device.gave_up
    device.failed(retries=2, retry_seconds=2.0)
    assert device.gave_up
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "microphone: sound device unavailable (no input device named like 'USB'); retry 1/2 in 2 s",
        "microphone: sound device unavailable (no input device named like 'USB'); retry 2/2 in 2 s",
        "microphone: giving up on the sound device: no input device named like 'USB'",
    ]
    device.renew()  # the devices changed
    assert not device.gave_up
    device.failed(retries=2, retry_seconds=2.0)
    assert "retry 1/2" in caplog.records[-1].getMessage()


def test_a_switch_restarts_the_engine_on_the_new_device() -> None:
    restarts: list[str] = []
    device = EngineDevice("speaker", None, restarts.append)
    device.gave_up = True
    device.switch(4)
    assert device.spec == 4 and not device.gave_up
    assert restarts == ["speaker switched to device 4"]

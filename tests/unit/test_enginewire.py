"""The sound engine's messages and configuration round-trip; bad ones are clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from agent_bot.media import enginewire as wire
from agent_bot.media.echo import Processing


def test_a_packet_round_trips() -> None:
    message = wire.packet(65535, 2**32 - 1, 3_900_000_000.125, b"\xf8\xff\xfe")
    assert message[0] == wire.PACKET
    assert wire.parse_packet(message) == (65535, 2**32 - 1, 3_900_000_000.125, b"\xf8\xff\xfe")


def test_a_short_packet_is_an_error() -> None:
    with pytest.raises(wire.WireError, match="short"):
        wire.parse_packet(bytes([wire.PACKET, 1, 2]))


def test_focus_and_no_focus() -> None:
    assert wire.parse_focus(wire.focus("call-é1")) == "call-é1"
    assert wire.parse_focus(wire.focus(None)) is None


def test_a_microphone_block_round_trips() -> None:
    pcm = np.arange(-480, 480, dtype=np.int16) * 30
    back = wire.parse_mic(wire.mic(pcm))
    assert back.dtype == np.int16 and np.array_equal(back, pcm)
    with pytest.raises(wire.WireError):
        wire.parse_mic(bytes([wire.MIC, 1]))


def test_status_and_log() -> None:
    assert wire.parse_json(wire.status({"call": "c", "echo": None})) == {"call": "c", "echo": None}
    assert wire.parse_log(wire.log("agent_bot.x", 30, "a line")) == ("agent_bot.x", 30, "a line")
    with pytest.raises(wire.WireError, match="bad JSON"):
        wire.parse_json(bytes([wire.STATUS]) + b"{")


def test_the_configuration_round_trips() -> None:
    config = wire.EngineConfig(
        speaker=True,
        speaker_spec="USB",
        microphone=True,
        microphone_spec=3,
        processing=Processing(echo_cancellation=False, auto_gain=False),
        focus="call-1",
        log_level=10,
    )
    assert wire.EngineConfig.from_json(config.to_json()) == config
    with pytest.raises(wire.WireError, match="not an engine configuration"):
        wire.EngineConfig.from_json('{"speakers": true}')


def test_the_ring_on_and_off() -> None:
    assert wire.parse_ring(wire.ring(True)) is True
    assert wire.parse_ring(wire.ring(False)) is False
    with pytest.raises(wire.WireError, match="ring"):
        wire.parse_ring(bytes([wire.RING]))

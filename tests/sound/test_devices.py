"""Device table and device selection against a real PulseAudio daemon (and without one)."""

from __future__ import annotations

import pytest

from agent_bot.media.devices import DeviceError, device_table, find_device
from tests.sound.pulse import PulseDaemon

pytestmark = [pytest.mark.sound, pytest.mark.solo]


def test_table_lists_devices_with_default_marks(pulse: PulseDaemon) -> None:
    table = device_table().splitlines()
    assert table[0].split()[:2] == ["index", "name"]
    rows = {line.split()[1]: line for line in table[1:]}
    assert set(rows) >= {"pulse", "default"}
    assert rows["default"].endswith("input, output")
    assert "ALSA" in rows["pulse"]
    assert not rows["pulse"].endswith("output")


def test_selection_by_name_index_and_default(pulse: PulseDaemon) -> None:
    pulse_index = find_device("pulse", "output")
    assert find_device(str(pulse_index), "output") == pulse_index
    assert find_device(pulse_index, "input") == pulse_index
    assert find_device(None, "output") == find_device("default", "output")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-such-card", "no output device named like 'no-such-card'"),
        (99, "no output device with index 99"),
    ],
)
def test_unknown_device_is_a_clear_error(pulse: PulseDaemon, spec: str | int, message: str) -> None:
    with pytest.raises(DeviceError, match=message):
        find_device(spec, "output")


def test_without_a_sound_server(no_sound_server: None) -> None:
    assert device_table().startswith("no sound devices found")
    with pytest.raises(DeviceError, match="no input device found"):
        find_device(None, "input")

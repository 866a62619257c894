"""Hot-plug: the watch notices device nodes and ALSA configuration coming and going."""

from __future__ import annotations

import time
from pathlib import Path

from agent_bot.media.devicewatch import DeviceWatch


def test_nodes_and_configuration_changes_are_noticed(tmp_path: Path) -> None:
    nodes = tmp_path / "snd"
    nodes.mkdir()
    config = tmp_path / "asoundrc"
    watch = DeviceWatch((str(nodes), str(config)), interval=0.0)
    assert not watch.changed()
    (nodes / "pcmC1D0p").touch()
    assert watch.changed()
    assert not watch.changed()  # once per change
    config.write_text("pcm.headset { type pulse }\n")
    assert watch.changed()
    config.unlink()
    assert watch.changed()


def test_it_polls_no_more_often_than_its_interval(tmp_path: Path) -> None:
    watch = DeviceWatch((str(tmp_path),), interval=0.3)
    (tmp_path / "card1").touch()
    assert not watch.changed()  # not looked yet
    time.sleep(0.35)
    assert watch.changed()


def test_reset_takes_what_is_there_now(tmp_path: Path) -> None:
    watch = DeviceWatch((str(tmp_path),), interval=0.0)
    (tmp_path / "card1").touch()
    watch.reset()
    assert not watch.changed()

"""Sound tests run against a private PulseAudio daemon started and stopped per test."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_bot.media.devices import sd
from tests.bots import Bots
from tests.procs import SignalingServer
from tests.sound.pulse import PulseDaemon, PulseError


def reinitialise_portaudio() -> None:
    """PortAudio lists devices once, when initialised: make it look again."""
    sd._terminate()
    sd._initialize()


@pytest.fixture
def pulse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PulseDaemon]:
    """A running daemon; this process's PortAudio sees it through ALSA's pulse devices."""
    try:
        daemon = PulseDaemon(tmp_path / "pulse")
    except PulseError as exc:
        pytest.fail(str(exc))
    for name in ("XDG_RUNTIME_DIR", "HOME", "PULSE_SERVER"):
        monkeypatch.setenv(name, daemon.env[name])
    try:
        daemon.start()
    except PulseError as exc:
        pytest.fail(str(exc))
    reinitialise_portaudio()
    if not any(d["max_output_channels"] for d in sd.query_devices()):
        daemon.stop()
        pytest.fail(
            "PortAudio sees no device while PulseAudio runs: install the Debian package "
            "libasound2-plugins (ALSA's pulse plugin)"
        )
    yield daemon
    # PortAudio first: terminating it closes any stream a failed test left open while the
    # server still answers (a stream whose server dies under it can get PortAudio stuck)
    sd._terminate()
    daemon.stop()
    sd._initialize()


@pytest.fixture
def bots(tmp_path: Path, signaling_server: SignalingServer) -> Iterator[Bots]:
    """`agent-bot` processes against a real signaling server (they see `pulse` too)."""
    manager = Bots(tmp_path, signaling_server.url, signaling_server.agent_token)
    yield manager
    manager.close()


@pytest.fixture
def no_sound_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No daemon at all: PULSE_SERVER points at a socket nobody listens on."""
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'nobody.sock'}")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    reinitialise_portaudio()
    yield
    reinitialise_portaudio()


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent_bot")

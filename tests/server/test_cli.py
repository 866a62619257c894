"""The `signaling-server` command line: flags, environment variables, clear errors."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from signaling_server.cli import parse_args
from signaling_server.config import Settings
from signaling_server.iceservers import IceServer
from tests.procs import free_port


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ("HOST", "PORT", "AGENT_TOKEN", "RING_TIMEOUT", "ICE_SERVERS", "LOG_LEVEL", "RATE",
             "BURST", "REDIS_URL")  # fmt: skip
    for name in names:
        monkeypatch.delenv(f"SIGNALING_{name}", raising=False)
    assert parse_args([]) == Settings()


def test_environment_then_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALING_PORT", "9000")
    monkeypatch.setenv("SIGNALING_AGENT_TOKEN", "from-env")
    monkeypatch.setenv("SIGNALING_RING_TIMEOUT", "5")
    monkeypatch.setenv("SIGNALING_ICE_SERVERS", "stun:10.0.0.1:3478, turn:u:p@10.0.0.2")
    monkeypatch.setenv("SIGNALING_LOG_LEVEL", "debug")
    settings = parse_args(["--port", "9001"])
    assert settings.port == 9001
    assert settings.agent_token == "from-env"
    assert settings.ring_timeout == 5.0
    assert settings.ice_servers == (
        IceServer("stun:10.0.0.1:3478"),
        IceServer("turn:10.0.0.2:3478", "u", "p"),
    )
    assert settings.log_level == "DEBUG"
    assert parse_args(["--ice-server", "stun:a"]).ice_servers == (IceServer("stun:a:3478"),)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "70000"], {}, "argument --port: invalid port_number value"),
        (["--ring-timeout", "0"], {}, "argument --ring-timeout"),
        (["--log-level", "loud"], {}, "argument --log-level: invalid choice"),
        ([], {"SIGNALING_PORT": "http"}, "invalid value for SIGNALING_PORT: 'http'"),
        ([], {"SIGNALING_RATE": "-1"}, "invalid value for SIGNALING_RATE: '-1'"),
        (["--ice-server", "turn:10.0.0.2"], {}, "a TURN URL needs credentials"),
        (["--ice-server", "turn:alice:@h"], {}, "'turn:alice:***@h': the TURN password is empty"),
        (["--ice-server", "stun:h:0"], {}, "the port must be a number from 1 to 65535"),
        (["--ice-server", "http://h"], {}, "argument --ice-server: 'http://h': the scheme"),
        ([], {"SIGNALING_ICE_SERVERS": "stun:h,turn:h"}, "invalid value for SIGNALING_ICE_SERVERS"),
        (["--turn-url", "turn:h"], {}, "--turn-url needs --turn-secret"),
        (["--turn-secret", "s"], {}, "--turn-secret needs at least one --turn-url"),
        (["--turn-secret", "s", "--turn-url", "turn:u:p@h"], {}, "credentials are minted"),
        (["--turn-secret", "s", "--turn-url", "stun:h"], {}, "is not a turn: or turns: URL"),
        (["--turn-ttl", "0"], {}, "argument --turn-ttl"),
    ],
)
def test_bad_values_are_usage_errors(args: list[str], env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "signaling_server", *args],
        env={"PATH": "", **env},
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        port = free_port()
        busy.bind(("127.0.0.1", port))
        busy.listen()
        result = subprocess.run(
            [sys.executable, "-m", "signaling_server", "--port", str(port)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr

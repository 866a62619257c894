"""`agent-bot --ice-server`: the server's parser; a malformed URL is a usage error at start."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1", "'http://10.0.0.1': the scheme must be one of stun, stuns, turn"),
        ("turn:alice:@10.0.0.1", "'turn:alice:***@10.0.0.1': the TURN password is empty"),
        ("turn::pw@10.0.0.1", "the TURN username is empty"),
        ("turn:10.0.0.1:3478", "a TURN URL needs credentials"),
        ("stun:10.0.0.1:99999", "the port must be a number from 1 to 65535"),
        ("turn:u:p@10.0.0.1?transport=sctp", "unknown transport 'sctp'"),
        ("stun:", "the host is missing"),
    ],
)
def test_malformed_ice_url_is_a_usage_error(url: str, message: str) -> None:
    # both roles take --ice-server from add_common: one case as `call`, the rest as `answer`
    command = "call" if url.startswith("turn:alice") else "answer"
    result = subprocess.run(
        [sys.executable, "-m", "agent_bot", command, "--silence", "--duration", "1",
         "--ice-server", url],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "argument --ice-server: '" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "pw@" not in result.stderr

"""Worker processes behind one agent name, and load-based admission, end to end."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

from tests.bots import Bots
from tests.procs import SignalingServer


def health(server: SignalingServer) -> dict[str, int]:
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as response:
        data: dict[str, int] = json.load(response)
    return data


def wait_health(server: SignalingServer, key: str, value: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health(server).get(key) == value:
            return
        time.sleep(0.1)
    raise AssertionError(f"/healthz never showed {key}={value}: {health(server)}")


def test_workers_share_one_name_and_split_calls(
    bots: Bots, tmp_path: Path, signaling_server: SignalingServer
) -> None:
    supervisor = bots.run(
        "answer", "--token", bots.token, "--name", "pool", "--workers", "2", "--max-calls", "2",
        "--tone", "440", log="workers",
    )  # fmt: skip
    wait_health(signaling_server, "agents", 2)
    caller = bots.call(
        "--tone", "300", "--calls", "4", "--concurrency", "4", "--duration", "3",
        "--far-end", "unknown",
        "--report", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert caller.wait() == 0, caller.text()
    calls = json.loads((tmp_path / "r.json").read_text())["calls"]
    assert all(c["verdict"]["passed"] for c in calls)
    assert {c["peer_name"] for c in calls} == {"pool"}
    # Two workers with two slots each: four simultaneous calls need both of them.
    assert len({c["peer"] for c in calls}) == 2
    supervisor.signal(signal.SIGTERM)
    assert supervisor.wait() == 0
    wait_health(signaling_server, "agents", 0)


def test_overloaded_agent_stops_taking_calls(
    bots: Bots, tmp_path: Path, signaling_server: SignalingServer
) -> None:
    # A limit of 1 % of a core: one call's audio work is above it, an idle bot below.
    agent = bots.answer("--tone", "440", "--max-calls", "5", "--max-cpu", "1")
    first = bots.call("--tone", "300", "--duration", "12", "--far-end", "unknown", name="first")
    agent.wait_log("admission unavailable", timeout=30)
    second = bots.call(
        "--tone", "300", "--duration", "2", "--far-end", "unknown",
        "--report", str(tmp_path / "r.json"), name="second",
    )  # fmt: skip
    wait_health(signaling_server, "queue", 1)
    assert first.wait() == 0, first.text()
    agent.wait_log("admission available", timeout=30)
    assert second.wait() == 0, second.text()
    [report] = json.loads((tmp_path / "r.json").read_text())["calls"]
    assert report["verdict"]["passed"]

"""Random UDP loss on the caller's side (nftables in a network namespace) ranks both MOS kinds.

```
 cust 10.77.1.2 (caller; nftables drops N % of UDP each way) ──veth── 10.77.1.1 wan
                                          wan 10.77.0.1: signaling server, echo bot
```
Real processes: the signaling server and an `agent-bot answer --echo` in wan, `agent-bot
call` (default flags) in cust. 0, 3 and 10 % loss each way rank the network MOS-CQE and the
listening MOS-LQO in that order. Needs root, iproute2 and nftables: fails, never skips.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bots import Bot
from tests.net.namespaces import Topology, made_topology, require, run
from tests.net.services import NetnsSignalingServer
from tests.procs import AGENT_TOKEN
from tests.qa.signals import SAMPLES

LOSSES = (0, 3, 10)
CALLS = 2


@pytest.fixture
def topology() -> Iterator[Topology]:
    with made_topology("ip", "nft") as made:
        yield made


def lose(topology: Topology, percent: int) -> None:
    """Drop `percent` % of the UDP packets in and out of the caller's namespace (0: none)."""
    nft = require("nft")
    run(*topology.exec(topology.cust, nft, "flush", "ruleset"))
    if percent == 0:
        return
    drop = f"meta l4proto udp numgen random mod 1000 < {10 * percent} drop"
    rules = f"""
    table inet vab_loss {{
        chain out {{ type filter hook output priority 0; {drop}; }}
        chain in {{ type filter hook input priority 0; {drop}; }}
    }}
    """
    run(*topology.exec(topology.cust, nft, "-f", "-"), stdin=rules)


def in_namespace(namespace: str, args: list[str], log: Path) -> Bot:
    return Bot(args, log, launcher=("tests.net.netns_exec", namespace, "agent_bot"))


def test_loss_ranks_network_and_listening_mos(topology: Topology, tmp_path: Path) -> None:
    server = NetnsSignalingServer(topology, tmp_path / "server.log", ())
    server.start()
    bots = [in_namespace(topology.wan, ["answer", "--server", server.url, "--token", AGENT_TOKEN,
                                        "--echo", "--max-calls", str(CALLS)],
                         tmp_path / "echo.log")]  # fmt: skip
    try:
        bots[0].wait_log("agent registered")
        medians: dict[str, list[float]] = {"MOS-CQE": [], "MOS-LQO": []}
        figures = []
        for percent in LOSSES:
            lose(topology, percent)
            report = tmp_path / f"loss-{percent}.json"
            caller = in_namespace(
                topology.cust,
                ["call", "--server", server.url, "--play", str(SAMPLES / "hello-48k.wav"),
                 "--calls", str(CALLS), "--concurrency", str(CALLS), "--duration", "8",
                 "--report", str(report)],
                tmp_path / f"caller-{percent}.log",
            )  # fmt: skip
            bots.append(caller)
            caller.wait(timeout=120)
            assert report.exists(), caller.text()[-4000:]
            calls: list[dict[str, Any]] = json.loads(report.read_text())["calls"]
            for label, values in medians.items():
                scored = [s["value"] for c in calls for s in c["verdict"]["scores"]
                          if s["label"] == label and s["value"] is not None]  # fmt: skip
                assert scored, (percent, [c["verdict"] for c in calls])
                values.append(statistics.median(scored))
            figures.append((percent, [c["stats"]["loss"] for c in calls],
                            [c["verdict"]["failures"] for c in calls]))  # fmt: skip
        print("medians", medians, figures)
        for label, values in medians.items():
            assert values[0] > values[1] > values[2], (label, values, figures)
    finally:
        lose(topology, 0)
        for bot in bots:
            bot.close()
        server.stop()

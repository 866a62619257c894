"""The signaling server and Chromium, each started inside a namespace of a `Topology`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.net.namespaces import SERVICE_IP, Topology, require
from tests.procs import SignalingServer, free_port

WAIT_HTTP = """
import sys, time, urllib.request
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1).read()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
"""


class NetnsSignalingServer(SignalingServer):
    """`signaling-server` inside the wan namespace, on the service address."""

    def __init__(self, topology: Topology, log_path: Path, extra_args: tuple[str, ...]) -> None:
        super().__init__(port=free_port(), log_path=log_path, extra_args=extra_args,
                         host=SERVICE_IP)  # fmt: skip
        self.topology = topology

    @property
    def url(self) -> str:
        return f"http://{SERVICE_IP}:{self.port}"

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop/kill)
        command = self.topology.exec(
            self.topology.wan, sys.executable, "-m", "signaling_server", "--host", self.host,
            "--port", str(self.port), "--log-level", "DEBUG", "--agent-token", self.agent_token,
            *self.extra_args,
        )  # fmt: skip
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        probe = self.topology.exec(self.topology.wan, sys.executable, "-c", WAIT_HTTP)
        if subprocess.run([*probe, f"{self.url}/healthz"], check=False, timeout=30).returncode:
            self.kill()
            raise RuntimeError(f"signaling server failed to start; log:\n{self.log()}")


def chromium_wrapper(topology: Topology, directory: Path) -> Path:
    """A script Playwright can launch as Chromium: the real one inside the cust namespace."""
    script = directory / "chromium-in-netns"
    command = " ".join(topology.exec(topology.cust, require("chromium")))
    script.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    script.chmod(0o755)
    return script

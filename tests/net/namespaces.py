"""Network namespaces for relay-only calls: a "wan" with the services, two clients behind it.

```
 cust  10.77.1.2 ──veth── 10.77.1.1 ┐
                                    wan  10.77.0.1 (lo): coturn, signaling server
 agent 10.77.2.2 ──veth── 10.77.2.1 ┘     ip_forward=0: nothing routed between cust and agent
```

Each client has a default route via wan, so it reaches 10.77.0.1 and nothing else: a call
between them connects only through a TURN relay. Addresses live only inside these
namespaces, so parallel runs need only unique names (a random tag). Needs root and
iproute2 (`ip`); `nft` (nftables) to drop a protocol in one namespace.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

SERVICE_IP = "10.77.0.1"
CLIENT_IPS = {"cust": ("10.77.1.1", "10.77.1.2"), "agent": ("10.77.2.1", "10.77.2.2")}
TOOLS = {"ip": "iproute2", "nft": "nftables", "turnserver": "coturn", "chromium": "chromium"}


class MissingToolError(Exception):
    """A tool these tests need is not installed; the message names the Debian package."""


def require(tool: str) -> str:
    """Path of `tool`; raises `MissingToolError` naming its Debian package."""
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin")
    if path is None:
        raise MissingToolError(
            f"{tool} is missing: install the Debian package {TOOLS[tool]} "
            f"(apt-get install {TOOLS[tool]}, or ./run setup)"
        )
    return path


def run(*command: str, stdin: str | None = None) -> None:
    """Run one command; fail with its stderr."""
    result = subprocess.run(
        command, input=stdin, capture_output=True, text=True, check=False, timeout=30
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: exit {result.returncode}: {result.stderr}")


@dataclass
class Topology:
    """The three namespaces; `create()` builds them, `destroy()` removes all (idempotent)."""

    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    created: list[str] = field(default_factory=list)

    def name(self, role: str) -> str:
        return f"vab-{self.tag}-{role}"

    @property
    def wan(self) -> str:
        return self.name("wan")

    @property
    def cust(self) -> str:
        return self.name("cust")

    @property
    def agent(self) -> str:
        return self.name("agent")

    def exec(self, namespace: str, *command: str) -> list[str]:
        """`command` run inside `namespace`."""
        return [require("ip"), "netns", "exec", namespace, *command]

    def create(self) -> None:
        ip = require("ip")
        for namespace in (self.wan, self.cust, self.agent):
            run(ip, "netns", "add", namespace)
            self.created.append(namespace)
            run(ip, "-n", namespace, "link", "set", "lo", "up")
        run(ip, "-n", self.wan, "addr", "add", f"{SERVICE_IP}/32", "dev", "lo")
        run(*self.exec(self.wan, "sysctl", "-qw", "net.ipv4.ip_forward=0"))
        for role, (gateway, address) in CLIENT_IPS.items():
            inside, outside = f"v{self.tag}{role[0]}0", f"v{self.tag}{role[0]}1"
            client = self.name(role)
            run(ip, "-n", self.wan, "link", "add", outside, "type", "veth", "peer", "name", inside,
                "netns", client)  # fmt: skip
            run(ip, "-n", self.wan, "addr", "add", f"{gateway}/24", "dev", outside)
            run(ip, "-n", self.wan, "link", "set", outside, "up")
            run(ip, "-n", client, "addr", "add", f"{address}/24", "dev", inside)
            run(ip, "-n", client, "link", "set", inside, "up")
            run(ip, "-n", client, "route", "add", "default", "via", gateway)

    def drop(self, namespace: str, protocol: str) -> None:
        """Drop every `protocol` (udp, tcp) packet in and out of `namespace` (nftables)."""
        nft = require("nft")
        rules = f"""
        table inet vab_drop {{
            chain out {{ type filter hook output priority 0; meta l4proto {protocol} drop; }}
            chain in {{ type filter hook input priority 0; meta l4proto {protocol} drop; }}
        }}
        """
        run(*self.exec(namespace, nft, "-f", "-"), stdin=rules)

    def undrop(self, namespace: str) -> None:
        run(*self.exec(namespace, require("nft"), "delete", "table", "inet", "vab_drop"))

    def destroy(self) -> None:
        for namespace in reversed(self.created):
            subprocess.run([require("ip"), "netns", "delete", namespace], check=False,
                           capture_output=True, timeout=30)  # fmt: skip
        self.created.clear()


def leftover(prefix: str = "vab-") -> Sequence[str]:
    """Namespaces named like ours that exist now (for checks after clean-up)."""
    out = subprocess.run([require("ip"), "netns", "list"], capture_output=True, text=True,
                         check=False).stdout  # fmt: skip
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


@contextlib.contextmanager
def made_topology(*tools: str) -> Iterator[Topology]:
    """The namespaces, created, then removed; fails the test naming what is missing (root, a
    tool) instead of skipping."""
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (ip netns add)", pytrace=False)
    try:
        for tool in tools:
            require(tool)
    except MissingToolError as exc:
        pytest.fail(str(exc), pytrace=False)
    made = Topology()
    try:
        made.create()
        yield made
    finally:
        made.destroy()

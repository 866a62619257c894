"""A private coturn (`turnserver`) in the foreground, inside a namespace, its log kept.

Two ways to authenticate, as deployments do: static users (`lt-cred-mech`, `--user U:P`) or
the TURN REST API (`use-auth-secret`, `static-auth-secret`), whose credentials the
signaling server mints with `--turn-secret`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.net.namespaces import require
from tests.procs import end_process

REALM = "voice.test"
RELAY_PORTS = (49152, 49999)


@dataclass
class Coturn:
    """`turnserver` listening on `address:port` (UDP and TCP) inside `prefix`'s namespace."""

    prefix: Sequence[str]
    """Command prefix that enters the namespace (`ip netns exec NS`)."""
    address: str
    port: int
    workdir: Path
    user: tuple[str, str] | None = None
    secret: str | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"coturn-{self.port}.log"

    def command(self) -> list[str]:
        auth = (
            ["--use-auth-secret", f"--static-auth-secret={self.secret}"]
            if self.secret is not None
            else ["--lt-cred-mech", "--user", ":".join(self.user or ("u", "p"))]
        )
        return [
            *self.prefix, require("turnserver"), "-n",
            "--listening-ip", self.address, "--relay-ip", self.address,
            "--listening-port", str(self.port), "--realm", REALM, *auth,
            "--min-port", str(RELAY_PORTS[0]), "--max-port", str(RELAY_PORTS[1]),
            "--no-tls", "--no-dtls", "--no-cli", "--no-rfc5780",
            "--pidfile", str(self.workdir / f"coturn-{self.port}.pid"),
            "--userdb", str(self.workdir / f"coturn-{self.port}.db"),
            "--log-file", "stdout", "--simple-log", "--verbose",
        ]  # fmt: skip

    def start(self, timeout: float = 20.0) -> None:
        """Start and wait until it listens on UDP and TCP."""
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"turnserver exited {self.proc.returncode}:\n{self.log()}")
            text = self.log()
            if "TCP listener opened on" in text and "UDP listener opened on" in text:
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"turnserver did not listen within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            end_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

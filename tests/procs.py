"""Helpers for tests that run real processes: free ports, waiting for HTTP, the server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

AGENT_TOKEN = "test-token"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until `url` answers 200; fail early if `proc` exits meanwhile."""
    deadline = time.monotonic() + timeout
    error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            error = exc
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s (last error: {error})")


def end_process(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    """Send `sig` to a running process and wait for it; SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class RedisServer:
    """A private `redis-server` on a free port, nothing saved to disk."""

    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--logfile", str(self.log_path)]  # fmt: skip
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError("redis-server did not answer PING within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@dataclass
class SignalingServer:
    """A `signaling-server` subprocess on a fixed port; restartable on the same port."""

    port: int
    log_path: Path
    # "" starts the server without an agent token (agents then only from loopback)
    agent_token: str = AGENT_TOKEN
    extra_args: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """(Re)start on the same port and wait until /healthz answers."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("the signaling server is already running")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop/kill)
        command = [
            sys.executable, "-m", "signaling_server",
            "--host", self.host, "--port", str(self.port), "--log-level", "DEBUG",
            *(["--agent-token", self.agent_token] if self.agent_token else []),
            *self.extra_args,
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALING_")}
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_http(f"{self.url}/healthz", proc=self.proc)
        except Exception:
            self.kill()
            raise RuntimeError(f"signaling server failed to start; log:\n{self.log()}") from None

    def stop(self) -> None:
        """SIGTERM, then wait (SIGKILL after 10 s)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, then wait."""
        self._end(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _end(self, sig: signal.Signals) -> None:
        if self.proc is not None:
            end_process(self.proc, sig)
        if self._log is not None:
            self._log.close()
            self._log = None

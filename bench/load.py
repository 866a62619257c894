"""Load runs shared by the benchmarks: an agent on its core, N calls from `caller.py`, figures.

`LoadRun` starts an answering agent (the bot or the raw-aiortc baseline), waits until it is
registered, runs the caller on the other core, samples the agent's CPU (utime + stime of its
process tree, from /proc/PID/stat) and RSS over the caller's measured window, and judges the
run real time or not (`Verdict`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from tests.procs import AGENT_TOKEN, SignalingServer, free_port  # noqa: E402

AGENT_CORE = 0
CALLER_CORE = 1
MIN_FPS = 49.5
"""Real time: every call receives at least this many frames in every 1-s bin."""
MAX_GROWTH_MS = 20.0
"""Real time: the median receive delay of the last 5 s exceeds that of the first 5 s by less."""
SATURATED = 85.0
"""CPU % of a core above which a failing agent counts as overloaded (not as disturbed)."""
CALLER_STALL_MS = 60.0
"""A caller whose event loop was this late once skipped frames (its tracks restart their
schedule past 3 frames late)."""
TICKS = os.sysconf("SC_CLK_TCK")


def machine() -> str:
    """One line: core count, CPU model, load averages right now."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores, {model}, load average {load_average()}"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def rss_mb(pids: Sequence[int]) -> float:
    """Resident memory of these processes, in MB."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def run_main(main: Callable[[], int]) -> int:
    """Run a benchmark's `main`; a run that cannot go on ends with its reason, not a trace."""
    try:
        return main()
    except RuntimeError as exc:  # a process that failed to start or answer
        print(f"error: {exc} (logs: --logs DIR keeps them)", file=sys.stderr)
        return 1


def logs_arg(text: str) -> Path:
    """`--logs DIR`: a directory that exists (made if needed) and can be written."""
    path = Path(text)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot use {text} for logs: {exc.strerror}") from None
    return path


def pinned(cores: str, command: Sequence[str]) -> list[str]:
    """`command` run on `cores` only."""
    return ["taskset", "-c", cores, *command]


def prioritise(proc: subprocess.Popen[Any], nice: int) -> None:
    """Give the session `proc` leads (started with `start_new_session`) niceness `nice`.

    Linux shares a core among sessions (autogroups) first, whatever the processes' own
    niceness, so an agent sharing its core with other people's work gets an even share of
    it unless its session's niceness is lowered (as root).
    """
    if nice == 0:
        return
    try:
        Path(f"/proc/{proc.pid}/autogroup").write_text(str(nice))
    except OSError as exc:
        print(f"cannot set the niceness of pid {proc.pid}: {exc}", file=sys.stderr)


def exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so that every agent, caller and server started is stopped."""

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def start_server(log_dir: Path) -> SignalingServer:
    """The real signaling server, on a free port, without per-connection rate limits.

    This process, and so the server, moves to the caller's core first.
    """
    os.sched_setaffinity(0, {CALLER_CORE})
    server = SignalingServer(
        port=free_port(),
        log_path=log_dir / "server.log",
        extra_args=("--rate", "100000", "--burst", "100000", "--log-level", "WARNING"),
    )
    server.start()
    return server


def health(server: SignalingServer) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as response:
        data: dict[str, Any] = json.load(response)
    return data


@dataclass
class LoadResult:
    """One agent under N calls."""

    agent: str
    calls: int
    connected: int
    cpu_percent: float
    rss_per_call_mb: float
    min_fps: float
    growth_ms: float
    caller_cpu_percent: float
    caller_lag_max_ms: float
    disturbed_bins: int
    """1-s bins left out of `min_fps` because the caller itself stalled there."""
    load: str
    setup_s: float
    cores: int = 1

    @property
    def realtime(self) -> bool:
        return (
            self.connected == self.calls
            and self.min_fps >= MIN_FPS
            and self.growth_ms < MAX_GROWTH_MS
        )

    @property
    def verdict(self) -> str:
        if self.connected < self.calls:
            return f"FAIL ({self.calls - self.connected} not connected)"
        if self.realtime:
            return "real time"
        reasons = []
        if self.min_fps < MIN_FPS:
            reasons.append("frames")
        if self.growth_ms >= MAX_GROWTH_MS:
            reasons.append("delay")
        return f"FAIL ({', '.join(reasons)})"

    @property
    def overloaded(self) -> bool:
        """Failed with its cores (nearly) full: more calls would fail too."""
        return not self.realtime and self.cpu_percent >= SATURATED * self.cores

    @property
    def caller_trouble(self) -> str:
        """Why the caller may have failed the run rather than the agent ("" if no reason)."""
        if self.caller_cpu_percent > 90:
            return "caller out of CPU"
        if self.caller_lag_max_ms > CALLER_STALL_MS:
            # A stalled caller sends nothing for a while: an echo that keeps its own output
            # clock plays silence meanwhile and stays that much later for good.
            return (
                f"caller stalled up to {self.caller_lag_max_ms:.0f} ms, "
                f"{self.disturbed_bins} bins left out"
            )
        if self.disturbed_bins:
            return f"{self.disturbed_bins} bins left out: caller stalls"
        return ""


class LoadRun:
    """Runs agents against one signaling server; each `measure` is one fresh agent process."""

    def __init__(self, server: SignalingServer, log_dir: Path, nice: int = 0) -> None:
        self.server = server
        self.log_dir = log_dir
        self.nice = nice

    def measure(
        self,
        name: str,
        agent_command: Sequence[str],
        calls: int,
        seconds: int,
        caller_args: Sequence[str],
        *,
        agents: int = 1,
        cores: str = str(AGENT_CORE),
    ) -> LoadResult:
        """Start the agent (`agents` registrations) on `cores`, load it with `calls` calls."""
        with self.agent(f"{name}-{calls}", agent_command, agents=agents, cores=cores) as agent:
            idle_rss = rss_mb(process_tree(agent.pid))
            result = self._load(name, agent, calls, seconds, caller_args=caller_args, idle=idle_rss)
            result.cores = len(cores.split(","))
            return result

    @contextmanager
    def agent(
        self,
        log_name: str,
        command: Sequence[str],
        *,
        agents: int = 1,
        cores: str = str(AGENT_CORE),
    ) -> Iterator[subprocess.Popen[bytes]]:
        """The agent process on `cores`, registered (`agents` times) with the server; stopped
        (and gone from the server) on leaving."""
        log = (self.log_dir / f"{log_name}.log").open("wb")
        agent = subprocess.Popen(
            pinned(cores, command), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        prioritise(agent, self.nice)
        try:
            self._wait_agents(agents, agent)
            yield agent
        finally:
            stop(agent)
            log.close()
            self._wait_agents(0, None)

    def _load(
        self,
        name: str,
        agent: subprocess.Popen[bytes],
        calls: int,
        seconds: int,
        *,
        caller_args: Sequence[str],
        idle: float,
    ) -> LoadResult:
        command = pinned(str(CALLER_CORE), [
            sys.executable, str(BENCH / "caller.py"),
            "--server", self.server.url, "--calls", str(calls), "--seconds", str(seconds),
            *caller_args,
        ])  # fmt: skip
        caller = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        prioritise(caller, self.nice)
        assert caller.stdout is not None
        cpu = t0 = rss = 0.0
        summary: dict[str, Any] = {}
        try:
            for line in caller.stdout:
                if line.startswith("window-start"):
                    cpu, t0 = cpu_seconds(process_tree(agent.pid)), time.monotonic()
                elif line.startswith("window-end"):
                    pids = process_tree(agent.pid)
                    cpu = (cpu_seconds(pids) - cpu) / (time.monotonic() - t0)
                    rss = rss_mb(pids)
                elif line.startswith("{"):
                    summary = json.loads(line)
                    (self.log_dir / f"{name}-{calls}.json").write_text(line)
        finally:
            if caller.poll() is None and not summary:
                caller.kill()
        if caller.wait() != 0 or not summary:
            raise RuntimeError(f"the caller failed (exit {caller.returncode})")
        per_call = [c for c in summary["per_call"] if c["error"] is None]
        disturbed = set(summary["disturbed_bins"])
        fps = [
            min(
                (n for i, n in enumerate(c["bins"]) if i not in disturbed),
                default=0,
            )
            for c in per_call
        ]
        growth = [c["growth_ms"] for c in per_call if c["growth_ms"] is not None]
        return LoadResult(
            agent=name,
            calls=calls,
            connected=summary["connected"],
            cpu_percent=100 * cpu,
            rss_per_call_mb=(rss - idle) / calls,
            min_fps=min(fps, default=0),
            growth_ms=max(growth, default=float("inf")),
            caller_cpu_percent=summary["cpu_percent"],
            caller_lag_max_ms=summary["lag_max_ms"],
            disturbed_bins=len(disturbed),
            load=load_average(),
            setup_s=summary["setup_s"],
        )

    def _wait_agents(self, count: int, proc: subprocess.Popen[bytes] | None) -> None:
        deadline = time.monotonic() + 30
        while health(self.server)["agents"] != count:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"the agent exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server never showed {count} agents")
            time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def bot_command(server: SignalingServer, calls: int, *source: str) -> list[str]:
    """`agent-bot answer` for `calls` calls, admission limits out of the way (measured here)."""
    command = [
        sys.executable, "-m", "agent_bot", "--log-level", "WARNING", "answer",
        "--server", server.url, "--token", AGENT_TOKEN, "--name", "bench",
        "--max-calls", str(calls), *source,
        "--max-cpu", "100000", "--max-lag-ms", "100000",
    ]  # fmt: skip
    return command


def raw_command(server: SignalingServer, calls: int) -> list[str]:
    """The raw-aiortc baseline answerer for `calls` calls."""
    return [
        sys.executable, str(BENCH / "raw_agent.py"), "--server", server.url,
        "--token", AGENT_TOKEN, "--max-calls", str(calls),
    ]  # fmt: skip

"""QA run capacity: the largest N with every call passing at concurrency N against one echo bot.

    ./run bench qa_capacity [--steps 5,10,20,30,40] [--duration 10] [--ramp 5] [--nice -10]

Starts a signaling server and one `agent-bot answer --echo` process, then for each N runs
`agent-bot call --calls N --concurrency N --ramp R` with the QA thresholds and prints, per N: calls
passed, delay and MOS percentiles, and the CPU (share of one core) of the caller and of the
bot during the run, read from /proc. Stops after the first N where a call fails. On a machine
shared with other work, `--nice -10` (as root) keeps the figures about this tool, not the others.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "hello-48k.wav"
TOKEN = "bench-token"
THRESHOLDS = ["--min-mos", "3.5", "--min-correlation", "0.6", "--max-delay-ms", "1500"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"qa_capacity: {what} did not happen within {timeout} s")


def start(args: list[str], log: Path, nice: int) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO,
        stdout=out,
        stderr=out,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,  # noqa: PLW1509
    )


@dataclass
class Step:
    calls: int
    passed: int
    delay_p50: float | None
    delay_p90: float | None
    mos_p50: float | None
    caller_cpu: float
    """Share of one core used by the caller, over the run."""
    bot_cpu: float
    failures: list[dict[str, str]]


def run_step(
    url: str, bot: int, calls: int, *, duration: float, ramp: float, work: Path, nice: int
) -> Step:
    report = work / f"report-{calls}.json"
    bot_before = cpu_seconds(bot)
    began = time.monotonic()
    caller = start(
        ["agent_bot", "call", "--server", url, "--play", str(SAMPLE), "--calls", str(calls),
         "--concurrency", str(calls), "--ramp", str(ramp), "--duration", str(duration),
         "--report", str(report),
         *THRESHOLDS],
        work / f"call-{calls}.log", nice,
    )  # fmt: skip
    caller_cpu = 0.0
    while caller.poll() is None:
        caller_cpu = cpu_seconds(caller.pid)
        time.sleep(0.2)
    wall = time.monotonic() - began
    bot_cpu = cpu_seconds(bot) - bot_before
    if not report.exists():
        sys.exit(f"qa_capacity: no report for N={calls}; see {work}/call-{calls}.log")
    summary = json.loads(report.read_text())["summary"]
    return Step(
        calls=calls,
        passed=summary["passed"],
        delay_p50=summary["delayMs"]["p50"],
        delay_p90=summary["delayMs"]["p90"],
        mos_p50=summary["mos"]["p50"],
        caller_cpu=caller_cpu / wall,
        bot_cpu=bot_cpu / wall,
        failures=summary["failures"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="5,10,20,30,40,50,60")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per call")
    parser.add_argument("--ramp", type=float, default=5.0, help="calls started per second")
    parser.add_argument("--nice", type=int, default=0, help="niceness of every process run")
    args = parser.parse_args()
    steps = [int(n) for n in args.steps.split(",")]
    work = Path(tempfile.mkdtemp(prefix="qa-capacity-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(
        ["signaling_server", "--host", "127.0.0.1", "--port", str(port), "--agent-token", TOKEN],
        work / "server.log",
        args.nice,
    )
    bot = start(
        ["agent_bot", "answer", "--server", url, "--token", TOKEN, "--echo",
         "--max-calls", str(max(steps))],
        work / "bot.log", args.nice,
    )  # fmt: skip
    try:
        wait_until(lambda: urllib.request.urlopen(f"{url}/healthz").status == 200, "server up")
        wait_until(lambda: "agent registered" in (work / "bot.log").read_text(), "bot registered")
        print(
            f"logs in {work}; {os.cpu_count()} CPUs; calls of {args.duration:.0f} s "
            f"started at {args.ramp:g}/s"
        )
        print("  N  passed  delay p50/p90 ms  MOS p50  caller CPU  bot CPU  (CPU: % of one core)")
        best = 0
        for calls in steps:
            step = run_step(
                url,
                bot.pid,
                calls,
                duration=args.duration,
                ramp=args.ramp,
                work=work,
                nice=args.nice,
            )
            print(
                f"{calls:>3}  {step.passed:>3}/{calls:<3} {step.delay_p50 or 0:>7.0f}/"
                f"{step.delay_p90 or 0:<7.0f}  {step.mos_p50 or 0:>7.2f}  "
                f"{100 * step.caller_cpu:>8.0f} %  {100 * step.bot_cpu:>5.0f} %"
            )
            if step.passed != calls:
                print(f"     first failures: {step.failures[:3]}")
                break
            best = calls
        print(f"largest N with every call passing: {best}")
    finally:
        for proc in (bot, server):
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()

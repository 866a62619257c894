"""QA run capacity, scoring on and off: the largest N with every call passing at concurrency N
against one echo bot, and what each scorer costs per call-minute.

    ./run bench qa_capacity [--steps 5,10,20,30,40] [--duration 10] [--ramp 5] [--nice -10]
                            [--scoring both|on|off]

First scores one minute of the sample (through libopus) with each scorer in this process,
after a warm-up, and prints the CPU seconds each costs per call-minute. Then starts a
signaling server and one `agent-bot answer --echo` process and, for each scoring mode (on:
the default `--scoring auto`, i.e. ViSQOL against the reference; off: `--scoring off`), for
each N runs `agent-bot call --calls N --concurrency N --ramp R` with the QA thresholds and
prints, per N: calls passed, delay and MOS percentiles, and the CPU (share of one core) of the
caller (with its scoring workers) and of the bot during the run. The modes take turns at each
N; each stops after its first N where a call fails; the last line gives both largest N and
their ratio. On a machine
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
    floor_only: int
    """Calls that failed only a score floor (e.g. MOS-LQO < 3): what scoring adds to the checks."""


def scorer_costs(seconds: float = 60.0) -> dict[str, float]:
    """CPU seconds each scorer takes for `seconds` of call audio (after one warm-up each)."""
    import numpy as np  # noqa: PLC0415 (bench-only, heavy)

    from agent_bot.qa.scoring import SCORERS, ScoringJob, score  # noqa: PLC0415
    from tests.qa.signals import opus_round_trip, read_wav  # noqa: PLC0415

    reference = np.resize(read_wav(SAMPLE), round(seconds * 48_000)).astype(np.int16)
    received = opus_round_trip(reference)
    costs = {}
    for name in SCORERS:
        job = ScoringJob("bench", (name,), received, reference, 6.5)
        score(ScoringJob("warm-up", (name,), received[:480_000], reference[:480_000], 6.5))
        began = time.process_time()
        (result,) = score(job)
        costs[name] = (time.process_time() - began) * 60 / seconds
        print(f"  {name:<9} {result.label:<11} {costs[name]:5.2f} s CPU per call-minute "
              f"(value {result.value})")  # fmt: skip
    return costs


def run_step(
    url: str, bot: int, calls: int, *, duration: float, ramp: float, work: Path, nice: int,
    scoring: str,
) -> Step:  # fmt: skip
    report = work / f"report-{scoring}-{calls}.json"
    bot_before = cpu_seconds(bot)
    began = time.monotonic()
    caller = start(
        ["agent_bot", "call", "--server", url, "--play", str(SAMPLE), "--calls", str(calls),
         "--concurrency", str(calls), "--ramp", str(ramp), "--duration", str(duration),
         "--report", str(report), "--scoring", "auto" if scoring == "on" else "off",
         *THRESHOLDS],
        work / f"call-{scoring}-{calls}.log", nice,
    )  # fmt: skip
    # wait4: the caller's CPU including its scoring workers (reaped by it before it exits)
    _, _, usage = os.wait4(caller.pid, 0)
    caller.returncode = 0
    caller_cpu = usage.ru_utime + usage.ru_stime
    wall = time.monotonic() - began
    bot_cpu = cpu_seconds(bot) - bot_before
    if not report.exists():
        sys.exit(f"qa_capacity: no report for N={calls}; see {work}/call-{calls}.log")
    data = json.loads(report.read_text())
    summary = data["summary"]
    floor_only = sum(
        bool(fs) and all(f["check"] == "score" for f in fs)
        for fs in (c["verdict"]["failures"] for c in data["calls"])
    )
    return Step(
        calls=calls,
        passed=summary["passed"],
        delay_p50=summary["delayMs"]["p50"],
        delay_p90=summary["delayMs"]["p90"],
        mos_p50=summary["mos"]["p50"],
        caller_cpu=caller_cpu / wall,
        bot_cpu=bot_cpu / wall,
        failures=summary["failures"],
        floor_only=floor_only,
    )


def capacity(
    url: str, bot: int, steps: list[int], args: argparse.Namespace, work: Path, *,
    modes: tuple[str, ...],
) -> dict[str, int]:  # fmt: skip
    """The largest N of `steps` with every call passing, per scoring mode; the modes take
    turns at each N, so both meet the same load from the rest of the machine."""
    print(" mode  N  passed  delay p50/p90 ms  MOS p50  caller CPU  bot CPU  (% of one core)")
    best = dict.fromkeys(modes, 0)
    running = list(modes)
    for calls in steps:
        for scoring in list(running):
            step = run_step(url, bot, calls, duration=args.duration, ramp=args.ramp,
                            work=work, nice=args.nice, scoring=scoring)  # fmt: skip
            print(
                f"{scoring:>4} {calls:>3}  {step.passed:>3}/{calls:<3} {step.delay_p50 or 0:>7.0f}/"
                f"{step.delay_p90 or 0:<7.0f}  {step.mos_p50 or 0:>7.2f}  "
                f"{100 * step.caller_cpu:>8.0f} %  {100 * step.bot_cpu:>5.0f} %"
            )
            if step.passed != calls:
                print(f"     {step.floor_only} of the {calls - step.passed} failed only a score "
                      f"floor; first failures: {step.failures[:3]}")  # fmt: skip
                running.remove(scoring)
            else:
                best[scoring] = calls
        if not running:
            break
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="5,10,20,30,40,50,60")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per call")
    parser.add_argument("--ramp", type=float, default=5.0, help="calls started per second")
    parser.add_argument("--nice", type=int, default=0, help="niceness of every process run")
    parser.add_argument("--scoring", choices=("both", "on", "off"), default="both")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    print("scoring cost (this process, one thread):")
    scorer_costs()
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
        modes = ("on", "off") if args.scoring == "both" else (args.scoring,)
        best = capacity(url, bot.pid, steps, args, work, modes=modes)
        print("largest N with every call passing: "
              + ", ".join(f"scoring {mode} {n}" for mode, n in best.items())
              + (f"; on/off {best['on'] / best['off']:.2f}" if len(best) == 2 and best["off"]
                 else ""))  # fmt: skip
    finally:
        for proc in (bot, server):
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()

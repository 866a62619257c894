"""The floor: what a call costs at least per 20 ms, and what the bot costs as a multiple of it.

First, pinned to the agent's core, each step no call can skip, per packet (`floor_steps`:
recvfrom, SRTP unprotect, RTP parse; RTP build, SRTP protect, sendto; µs, the median of
`--repeats` runs of `--count` packets, measured before and after the process runs and pooled).
The floor of a call is one packet each way per 20 ms; Opus decode, which only a call with a
PCM sink (recorder, QA capture, speaker) needs, is a line of its own. The paced floor is the
same work for N calls with one wakeup per call every 20 ms, as packets arriving at their own
phases wake a bot: what waking costs on this machine on top of the work.

Then the real processes, with the load machinery of `calls_per_core` (agent on core 0, load
caller on core 1): an idle bot (registered, no calls); the bot in echo mode (`--echo`) and
replay mode (`--play FILE --loop`) at each N of `--calls`; raw aiortc at `--raw-calls`; the QA
dialer (`agent-bot call`, capture and verdicts on; `--scoring off`, scoring runs after the
calls) placing N concurrent calls to an echo bot, both processes measured over one window.
Each is given as CPU per call per 20 ms (µs) and as a multiple of the floor.

    ./run bench floor [--calls 3,10] [--raw-calls 3] [--seconds 20] [--nice -10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from calls_per_core import (
    HEADER,
    MODES,
    SAMPLE,
    AgentCommand,
    cpu_bound,
    seconds_arg,
    sweep,
    sweep_list,
)
from floor_steps import Floor, measure_floor, paced_floor
from load import (
    AGENT_CORE,
    CALLER_CORE,
    LoadResult,
    LoadRun,
    bot_command,
    cpu_seconds,
    exit_on_sigterm,
    health,
    load_average,
    logs_arg,
    machine,
    pinned,
    prioritise,
    process_tree,
    raw_command,
    run_main,
    start_server,
    stop,
)

FRAME_US = 20_000
TARGET_MULTIPLE = 5.0
TARGET_RAW_RATIO = 0.15
WARMUP_S = 3.0
PACED_S = 5.0
"""Seconds each paced floor runs."""


def lscpu_model() -> str:
    """`lscpu`'s model name ("unknown" without lscpu)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def per_call_us(cpu_percent: float, calls: int) -> float:
    """CPU per call per 20 ms (µs) from a process's CPU (% of one core) over `calls` calls."""
    return cpu_percent / 100 * FRAME_US / calls


@dataclass
class DialerRun:
    """The QA dialer and the echo bot it called, over one window (CPU in % of one core)."""

    calls: int
    dialer_percent: float
    bot_percent: float
    exit_code: int | None


def measure_dialer(run: LoadRun, calls: int, seconds: int) -> DialerRun:
    """`agent-bot call` (core 1) placing `calls` concurrent calls to an echo bot (core 0);
    both processes' CPU over the same `seconds`, from `WARMUP_S` after all were answered."""
    duration = seconds + 3 * WARMUP_S
    with run.agent(f"dialer-bot-{calls}", bot_command(run.server, calls, "--echo")) as bot:
        command = pinned(str(CALLER_CORE), [
            sys.executable, "-m", "agent_bot", "--log-level", "WARNING", "call",
            "--server", run.server.url, "--calls", str(calls), "--concurrency", str(calls),
            "--play", str(SAMPLE), "--loop", "--duration", str(duration), "--scoring", "off",
        ])  # fmt: skip
        with (run.log_dir / f"dialer-{calls}.log").open("wb") as log:
            dialer = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            prioritise(dialer, run.nice)
            try:
                deadline = time.monotonic() + 60
                while health(run.server)["calls"] < calls:
                    if dialer.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the dialer's {calls} calls were not all answered")
                    time.sleep(0.1)
                time.sleep(WARMUP_S)
                trees = process_tree(dialer.pid), process_tree(bot.pid)
                before, t0 = [cpu_seconds(tree) for tree in trees], time.monotonic()
                time.sleep(seconds)
                after, wall = [cpu_seconds(tree) for tree in trees], time.monotonic() - t0
                try:
                    code: int | None = dialer.wait(timeout=duration + 60)
                except subprocess.TimeoutExpired:
                    code = None
            finally:
                stop(dialer)
    dialer_cpu, bot_cpu = (100 * (b - a) / wall for a, b in zip(before, after, strict=True))
    return DialerRun(calls, dialer_cpu, bot_cpu, code)


def measure_idle(run: LoadRun, seconds: int) -> float:
    """CPU (% of one core) of an echo bot registered with no calls, over `seconds`."""
    with run.agent("idle-bot", bot_command(run.server, 1, "--echo")) as bot:
        time.sleep(WARMUP_S)
        tree = process_tree(bot.pid)
        before, t0 = cpu_seconds(tree), time.monotonic()
        time.sleep(seconds)
        return 100 * (cpu_seconds(tree) - before) / (time.monotonic() - t0)


def bot(mode: str) -> AgentCommand:
    """The bot's command in one of `calls_per_core`'s modes."""
    return lambda server, calls: bot_command(server, calls, *MODES[mode])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./run bench floor", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=sweep_list, default=sweep_list("3,10"), help="bot's N")
    parser.add_argument("--raw-calls", type=sweep_list, default=sweep_list("3"))
    parser.add_argument("--seconds", type=seconds_arg, default=20, help="measured window per run")
    parser.add_argument("--modes", default="echo,play", help="bot modes: echo, play or both")
    parser.add_argument("--no-dialer", action="store_true", help="skip the dialer's runs")
    parser.add_argument("--count", type=int, default=2000, help="packets per floor repeat")
    parser.add_argument("--repeats", type=int, default=7, help="floor repeats (median)")
    parser.add_argument("--logs", type=logs_arg, help="keep logs and per-call figures here")
    parser.add_argument("--nice", type=int, default=0, help="session niceness (see calls_per_core)")
    return parser.parse_args(argv)


def print_floor(floor: Floor, paced: dict[int, list[float]]) -> None:
    steps = floor.steps
    print(f"floor per packet (µs; median of repeats; Opus payload {floor.payload_bytes:.0f} B):")
    for side, names, total in (
        ("receive", Floor.RECEIVE, floor.receive),
        ("send", Floor.SEND, floor.send),
    ):
        parts = "  ".join(f"{name} {steps[name]:.2f}" for name in names)
        print(f"  {side:<8} {parts}  = {total:.2f}")
    print(f"  floor per call per 20 ms (one packet each way): {floor.per_call:.2f} µs")
    print(f"  Opus decode (calls with a PCM sink only): {steps['opus decode']:.2f} µs per packet")
    print(
        f"  for comparison, aiortc RtpPacket.parse {steps['aiortc parse']:.2f}, "
        f"serialize {steps['aiortc serialize']:.2f} µs"
    )
    for calls, values in paced.items():
        shown = " / ".join(f"{v:.1f}" for v in values)
        print(f"  paced floor, N={calls}: {shown} µs per call per 20 ms (before / after)")


def line(name: str, calls: int, us: float, floor: Floor, paced: dict[int, list[float]]) -> str:
    """One figure: µs per call per 20 ms, × the floor, × the paced floor at that N."""
    text = f"  {name:<10} N={calls:<3} {us:8.1f} µs  {us / floor.per_call:6.1f}× floor"
    if calls in paced:
        text += f"  {us / statistics.fmean(paced[calls]):5.1f}× paced floor"
    return text


def print_figures(
    floor: Floor, paced: dict[int, list[float]], results: dict[str, list[LoadResult]]
) -> None:
    print(f"\nper call per 20 ms (target ≤ {TARGET_MULTIPLE:g}× the floor for the bot):")
    for name, runs in results.items():
        for r in runs:
            print(line(name, r.calls, per_call_us(r.cpu_percent, r.calls), floor, paced))
    raw = {r.calls: r for r in results.get("raw-aiortc", [])}
    for name in (n for n in results if n != "raw-aiortc"):
        for r in (r for r in results[name] if r.calls in raw):
            ratio = r.cpu_percent / raw[r.calls].cpu_percent
            verdict = "met" if ratio <= TARGET_RAW_RATIO else "missed"
            print(
                f"  {name} / raw aiortc, CPU at N={r.calls}: {ratio:.3f} "
                f"(target ≤ {TARGET_RAW_RATIO}: {verdict})"
            )
        if raw:
            ours, theirs = cpu_bound(results[name]), cpu_bound(list(raw.values()))
            print(f"  {name}: calls one core allows by CPU alone {ours}, raw aiortc {theirs}")


def print_dialers(floor: Floor, paced: dict[int, list[float]], dialers: list[DialerRun]) -> None:
    for d in dialers:
        dialer_us, bot_us = (per_call_us(p, d.calls) for p in (d.dialer_percent, d.bot_percent))
        verdict = "met" if dialer_us <= bot_us else "missed"
        print(line("dialer", d.calls, dialer_us, floor, paced))
        print(line("its bot", d.calls, bot_us, floor, paced))
        print(f"  dialer ≤ the bot it called: {verdict} (dialer exit {d.exit_code})")


def measure_floors(
    args: argparse.Namespace, times: dict[str, list[float]], paced: dict[int, list[float]]
) -> Floor:
    """One pass of the floor (pooled into `times`) and of each paced floor, on the agent's core."""
    os.sched_setaffinity(0, {AGENT_CORE})
    floor = measure_floor(args.count, args.repeats, times)
    for calls in sorted({*args.calls, *args.raw_calls}):
        paced.setdefault(calls, []).append(paced_floor(calls, PACED_S))
    return floor


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"lscpu model name: {lscpu_model()}")
    print(f"machine: {machine()}", flush=True)
    times: dict[str, list[float]] = {}
    paced: dict[int, list[float]] = {}
    measure_floors(args, times, paced)
    exit_on_sigterm()
    dialers: list[DialerRun] = []
    results: dict[str, list[LoadResult]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        server = start_server(args.logs or Path(tmp))
        try:
            run = LoadRun(server, args.logs or Path(tmp), args.nice)
            idle = measure_idle(run, args.seconds)
            print(f"idle bot (registered, no calls): {idle:.2f} % of a core; load {load_average()}")
            print(HEADER, flush=True)
            for mode in args.modes.split(","):
                delay = "echo" if mode == "echo" else "transit"
                results[f"bot-{mode}"] = sweep(
                    run, f"bot-{mode}", bot(mode), delay=delay, counts=args.calls,
                    seconds=args.seconds,
                )  # fmt: skip
            results["raw-aiortc"] = sweep(
                run, "raw-aiortc", raw_command, delay="echo", counts=args.raw_calls,
                seconds=args.seconds,
            )  # fmt: skip
            for calls in [] if args.no_dialer else args.calls:
                dialers.append(measure_dialer(run, calls, args.seconds))
        finally:
            server.stop()
    floor = measure_floors(args, times, paced)
    print()
    print_floor(floor, paced)
    print_figures(floor, paced, results)
    print_dialers(floor, paced, dialers)
    print(f"load average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

"""Calls per core: one answering process on core 0 under N two-way calls from core 1.

For each N in the sweep, the bot (`agent-bot answer`, `--echo` by default: per-call encoding;
`--mode play`: a looped sample, encoded once) and the raw-aiortc baseline (`raw_agent.py`: an
echo track relaying `recv()` frames, per-frame encode) each take N calls from `caller.py` for
`--seconds`. Printed per run: the agent's CPU (% of one core), RSS per call, the lowest frame
rate any call received in any 1-s bin, the worst receive-delay growth (last 5 s vs first 5 s),
the caller's own CPU, and the verdict. Then each agent's capacity (largest real-time N) and
the ratio bot / raw aiortc. An agent is not loaded further after two N in a row that failed
with its core (nearly) full.

    ./run bench calls_per_core [--seconds 30] [--sweep 20,40,60,80,100,120] [--mode echo|play]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from load import (
    ROOT,
    LoadResult,
    LoadRun,
    bot_command,
    exit_on_sigterm,
    logs_arg,
    machine,
    raw_command,
    run_main,
    start_server,
)

from tests.procs import SignalingServer

SAMPLE = ROOT / "samples" / "hello-48k.wav"
MODES = {"echo": ["--echo"], "play": ["--play", str(SAMPLE), "--loop"]}

AgentCommand = Callable[[SignalingServer, int], list[str]]


def sweep_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 20,40,60, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected call counts of at least 1, got {text!r}")
    return sorted(set(values))


def seconds_arg(text: str) -> int:
    value = int(text)
    if value < 10:
        raise argparse.ArgumentTypeError("at least 10 s: delay growth compares 5-s spans")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./run bench calls_per_core", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=seconds_arg, default=30, help="measured window per N")
    parser.add_argument("--sweep", type=sweep_list, default=sweep_list("20,40,60,80,100,120"))
    parser.add_argument("--mode", choices=sorted(MODES), default="echo", help="what the bot sends")
    parser.add_argument("--no-baseline", action="store_true", help="skip raw aiortc")
    parser.add_argument("--logs", type=logs_arg, help="keep logs and per-call figures here")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the agent's and the caller's sessions (e.g. -10, as root: ahead of "
        "other work on a shared machine)",
    )
    return parser.parse_args(argv)


HEADER = (
    f"{'agent':<10} {'N':>4} {'conn':>5} {'CPU %':>6} {'%/call':>7} {'MB/call':>8} "
    f"{'min fps':>8} {'growth ms':>10} {'caller %':>9} {'load':>15}  verdict"
)


def row(r: LoadResult) -> str:
    verdict = r.verdict + (f"  [{r.caller_trouble}]" if r.caller_trouble else "")
    return (
        f"{r.agent:<10} {r.calls:>4} {r.connected:>5} {r.cpu_percent:>6.1f} "
        f"{r.cpu_percent / r.calls:>7.2f} {r.rss_per_call_mb:>8.2f} {r.min_fps:>8.1f} "
        f"{r.growth_ms:>10.1f} {r.caller_cpu_percent:>9.1f} {r.load:>15}  {verdict}"
    )


def sweep(
    run: LoadRun, name: str, command: AgentCommand, *, delay: str, counts: list[int], seconds: int
) -> list[LoadResult]:
    """Load the agent with each N in turn; stop after two overloads in a row."""
    results: list[LoadResult] = []
    failures = 0
    for calls in counts:
        if failures >= 2:
            print(f"{name:<10} {calls:>4}  not run: overloaded twice below", flush=True)
            continue
        caller = ["--play", str(SAMPLE), "--delay", delay]
        result = run.measure(name, command(run.server, calls), calls, seconds, caller)
        print(row(result), flush=True)
        results.append(result)
        failures = failures + 1 if result.overloaded else 0
    return results


def capacity(results: list[LoadResult]) -> int:
    """The largest N run in real time (0 if none)."""
    return max((r.calls for r in results if r.realtime), default=0)


def cpu_bound(results: list[LoadResult]) -> int:
    """Calls the agent's cores could carry by CPU alone: a straight line (fixed cost + cost per
    call) through the runs that were neither overloaded nor failed with the caller in trouble
    (a starved caller sends less, so the agent works less), or through the smallest run."""
    usable = [r for r in results if not r.overloaded and (r.realtime or not r.caller_trouble)]
    fit = usable or [min(results, key=lambda r: r.calls)]
    capacity = 100.0 * fit[0].cores
    if len({r.calls for r in fit}) < 2:
        return int(capacity * fit[0].calls / fit[0].cpu_percent)
    per_call, fixed = np.polyfit([r.calls for r in fit], [r.cpu_percent for r in fit], 1)
    return int(round((capacity - fixed) / per_call, 6)) if per_call > 0 else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"machine: {machine()}")
    print(
        f"bot mode: {args.mode} ({' '.join(MODES[args.mode])}); window {args.seconds} s; "
        f"niceness {args.nice}"
    )
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        logs = args.logs or Path(tmp)
        server = start_server(logs)
        try:
            run = LoadRun(server, logs, args.nice)
            print(HEADER, flush=True)

            def bot(server: SignalingServer, calls: int) -> list[str]:
                return bot_command(server, calls, *MODES[args.mode])

            # The bot's own sample cannot be found in what the caller sent: time its packets.
            delay = "echo" if args.mode == "echo" else "transit"
            results = {
                "bot": sweep(run, "bot", bot, delay=delay, counts=args.sweep, seconds=args.seconds)
            }
            if not args.no_baseline:
                results["raw-aiortc"] = sweep(
                    run,
                    "raw-aiortc",
                    raw_command,
                    delay="echo",
                    counts=args.sweep,
                    seconds=args.seconds,
                )
        finally:
            server.stop()
    print()
    for name, agent_results in results.items():
        print(
            f"capacity {name:<10}: {capacity(agent_results)} real-time calls on one core; "
            f"CPU alone would allow {cpu_bound(agent_results)}"
        )
    if "raw-aiortc" in results:
        ours, raw = capacity(results["bot"]), capacity(results["raw-aiortc"])
        print(f"ratio bot / raw aiortc: {ours / raw:.2f}" if raw else "ratio: raw aiortc held none")
        ours, raw = cpu_bound(results["bot"]), cpu_bound(results["raw-aiortc"])
        print(f"ratio bot / raw aiortc, by CPU per call: {ours / raw:.2f}")
        common = {r.calls: r for r in results["raw-aiortc"]}
        for r in results["bot"]:
            if r.calls in common:
                base = common[r.calls].cpu_percent
                print(f"CPU at N={r.calls}: bot / raw aiortc = {r.cpu_percent / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

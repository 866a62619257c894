"""Worker scaling: total real-time calls of `agent-bot answer --workers 1` vs `--workers 2`.

Each `--workers W` run registers W echo workers (`--echo`) behind one name,
each pinned by the bot to its own core and taking at most ceil(N / W) calls, so the server
spreads N calls over them. For each N of the sweep the caller (`caller.py`, core 1) loads the
pool for `--seconds`; the figures are summed over the whole process tree. Capacity is the
largest real-time N; the ratio capacity(2) / capacity(1) has a target of ≥ 1.8.

On a 2-core machine the caller and the signaling server share core 1 with worker 2: the
`--workers 2` figure is then a lower bound (the table shows the caller's own CPU).

    ./run bench workers [--seconds 30] [--sweep1 10,20,30,40] [--sweep2 20,40,60,80]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

from calls_per_core import HEADER, SAMPLE, capacity, cpu_bound, row, seconds_arg, sweep_list
from load import (
    LoadResult,
    LoadRun,
    bot_command,
    exit_on_sigterm,
    logs_arg,
    machine,
    run_main,
    start_server,
)

TARGET = 1.8


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="./run bench workers", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=seconds_arg, default=30, help="measured window per N")
    parser.add_argument("--sweep1", type=sweep_list, default=sweep_list("10,20,30,40"))
    parser.add_argument("--sweep2", type=sweep_list, default=sweep_list("20,40,60,80"))
    parser.add_argument("--logs", type=logs_arg, help="keep logs and per-call figures here")
    parser.add_argument(
        "--nice", type=int, default=0, help="niceness of the sessions (see calls_per_core)"
    )
    return parser.parse_args(argv)


def run_pool(run: LoadRun, workers: int, counts: list[int], seconds: int) -> list[LoadResult]:
    """Load a pool of `workers` with each N in turn; stop after two overloads in a row."""
    results: list[LoadResult] = []
    failures = 0
    cores = ",".join(str(core) for core in range(workers))
    for calls in counts:
        if failures >= 2:
            break
        command = bot_command(
            run.server, math.ceil(calls / workers), "--echo", "--workers", str(workers)
        )
        result = run.measure(
            f"workers={workers}",
            command,
            calls,
            seconds,
            ["--play", str(SAMPLE), "--delay", "echo"],
            agents=workers,
            cores=cores,
        )
        print(row(result), flush=True)
        results.append(result)
        failures = failures + 1 if result.overloaded else 0
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"machine: {machine()}")
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        logs = args.logs or Path(tmp)
        server = start_server(logs)
        try:
            run = LoadRun(server, logs, args.nice)
            print(HEADER, flush=True)
            pools = [run_pool(run, 1, args.sweep1, args.seconds)]
            pools.append(run_pool(run, 2, args.sweep2, args.seconds))
        finally:
            server.stop()
    print()
    for what, measure in (("real-time calls", capacity), ("calls CPU alone allows", cpu_bound)):
        one, two = (measure(results) for results in pools)
        print(f"{what}: --workers 1: {one}; --workers 2: {two}")
        if one:
            ratio = two / one
            verdict = "met" if ratio >= TARGET else "MISSED"
            print(f"  ratio workers 2 / workers 1: {ratio:.2f} (target ≥ {TARGET}: {verdict})")
        else:
            print("  ratio: none for --workers 1")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))

"""Clock drift of the speaker's playout: senders ppm off, each to a real bot on a null sink.

The four senders of `tests/sound/test_drift.py` (±300 and ±1,000 ppm by default), all at once,
each heard by its own `agent-bot answer --speaker` on its own PulseAudio null sink (one private
daemon), for `--minutes`. Per sender: the send → monitor latency (median over the seconds
2-10, the first minute after 10 s of settling and the last minute), the bot's drift estimate
from its call report against the sender's pace measured from its send times, and the
playout's counters. See `tests/sound/drift.py` for how latency is read.

    ./run bench drift [--minutes 10] [--ppm 300,-300,1000,-1000] [--logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import machine  # noqa: E402
from tests.bots import Bots  # noqa: E402
from tests.procs import AGENT_TOKEN, SignalingServer, free_port  # noqa: E402
from tests.sound.drift import run_drift  # noqa: E402
from tests.sound.driftresult import START_SPAN_S, DriftResult  # noqa: E402
from tests.sound.pulse import PulseDaemon  # noqa: E402


async def measure(logs: Path, drifts: list[float], seconds: float) -> list[DriftResult]:
    pulse = PulseDaemon(logs / "pulse")
    for name in ("XDG_RUNTIME_DIR", "HOME", "PULSE_SERVER"):
        os.environ[name] = pulse.env[name]  # the bots inherit them
    pulse.start()
    server = SignalingServer(port=free_port(), log_path=logs / "server.log")
    server.start()
    bots = Bots(logs, server.url, AGENT_TOKEN)
    try:
        return await run_drift(pulse, bots, drifts, seconds)
    finally:
        bots.close()
        server.stop()
        pulse.stop()


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_table(runs: list[DriftResult]) -> None:
    header = ("ppm", "sender", "sink", "2-10 s", "1st min", "last min", "moved", "resid.",
              "target", "device", "estimate")  # fmt: skip
    print("{:>6} {:>8} {:>6} {:>7} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} {:>9}  error  playout"
          .format(*header))  # fmt: skip
    for run in runs:
        start = run.median(*START_SPAN_S)
        first, last = run.median(*run.first_minute), run.median(*run.last_minute)
        minutes = (run.first_minute, run.last_minute)
        moved = [fmt(run.moved(name, *minutes)) for name in ("latency", "residual", "target",
                                                             "device")]  # fmt: skip
        estimate = float(run.playout.get("drift_ppm", 0.0))
        counters = ", ".join(
            f"{name} {run.playout.get(name)}" for name in ("underruns", "concealed", "dropped")
        )
        counters += f", device latency {run.playout.get('device_ms', 0):.1f} ms at the end"
        counters += f", the sink {run.playout.get('device_ppm', 0):+.1f} ppm by the bot"
        print(
            f"{run.ppm:+6.0f} {run.sender_ppm:+8.1f} {run.sink_ppm:+6.1f} {fmt(start):>7} "
            f"{fmt(first):>8} {fmt(last):>8} {moved[0]:>6} {moved[1]:>6} {moved[2]:>6} "
            f"{moved[3]:>6} {estimate:+9.1f} "
            f"{run.estimate_error:+6.1f}"
            f"  {counters}; sender stalls {run.stalls} ({run.stalled_frames} frames)"
        )
        print(f"       latency per 10 s: {run.profile()}")
        print(f"       residual per 10 s: {run.profile('residual')}")
        print(f"       device per 10 s: {run.profile('device')}")
    if runs:
        print(f"CPU steal % per 10 s (the hypervisor's): {runs[0].steal_profile()}")
    print("latency in ms, send → null-sink monitor (Opus lookahead of 6.5 ms included); sink:")
    print("the null sink's pace; moved: first minute → last; resid.: latency less the bot's")
    print("target and device latency (its --metrics-port gauges); error: the estimate against")
    print("sender − sink")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="call length")
    parser.add_argument("--ppm", default="300,-300,1000,-1000", help="sender drifts, at once")
    parser.add_argument(
        "--logs", type=Path, help="keep the bots' logs and latency.json (per second) here"
    )
    args = parser.parse_args()
    drifts = [float(ppm) for ppm in args.ppm.split(",")]
    print(f"machine: {machine()}", flush=True)
    print(f"{len(drifts)} senders at once for {args.minutes:g} min", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        logs = args.logs or Path(scratch)
        logs.mkdir(parents=True, exist_ok=True)
        runs = asyncio.run(measure(logs, drifts, args.minutes * 60))
    if args.logs is not None:
        latencies = {f"{run.ppm:+.0f}": run.latencies for run in runs}
        (args.logs / "latency.json").write_text(json.dumps(latencies))
    print_table(runs)


if __name__ == "__main__":
    main()

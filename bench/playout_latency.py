"""Send → sound-device latency of the speaker path, in process and through the sound engine,
vs aiortc's own receive path, on loopback; the CPU of the sound engine process.

A caller (aiortc) plays a looped speech sample to the bot (aiortc) in one process; the bot
plays it on a private PulseAudio null sink, whose monitor is recorded (`parec`). The latency
of each 0.25-s window of what was sent is where it is found in the recording (each window
aligned on its own), measured from the moment its frame was sent; the table gives the median
and the 95th percentile over the windows that came through (correlation ≥ 0.8).

Paths, measured in the same run, one after the other, on the same daemon:
- `playout`: `attach_speaker` — RTP packets taken before aiortc's jitter buffer, Opus decoded
  with PLC, the adaptive `PlayoutBuffer`, a 10 ms-block `OutputStream` (agent_bot/media).
- `engine`: the same speaker in the sound engine process, as `answer --speaker` runs it
  (`SoundEngine`, `EngineSpeaker.attach`): the packets go over the engine's socket to its
  `PlayoutBuffer` and `OutputStream`.
- `engine+mic`: the same with the engine's microphone open, as `answer --speaker --mic` runs
  it (the daemon's default source, the `mic` sink's monitor, fed another speech sample with
  `pacat`), processed with everything on: echo cancellation, noise suppression, automatic
  gain, high-pass filter (clean scenario only).
- `engine+mic-off`: the same with all of that processing off (clean scenario only).
- `naive`: aiortc's `recv()` frames straight into the same kind of `OutputStream` through a
  FIFO (silence when it is empty).
Each row also gives, over its measured seconds, the CPU (utime + stime, /proc/PID/stat) of the
engine process and of the bench process (caller, the bot's aiortc and, for `playout` and
`naive`, the playout itself), as a share of one core. The engine's call comes
`ENGINE_SETTLE_S` after its devices opened (a bot's engine starts with the bot); its CPU in
those seconds, and how long it took to open them, are given apart.
Scenarios: `clean`, then `loss`: the caller drops 1 % of its RTP packets at random and swaps
1 % with the next one, for `--impaired-seconds` (12 s by default; 0 leaves it out).

    ./run bench playout_latency [--seconds 12] [--impaired-seconds 12]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from floor import lscpu_model  # noqa: E402
from load import cpu_seconds, load_average, machine, process_tree  # noqa: E402

from agent_bot.media.devices import find_device, sd  # noqa: E402
from agent_bot.media.echo import Processing  # noqa: E402
from agent_bot.media.enginespeaker import EngineSpeaker  # noqa: E402
from agent_bot.media.frames import SAMPLE_RATE, Pcm  # noqa: E402
from agent_bot.media.playoutstats import PlayoutStats  # noqa: E402
from agent_bot.media.soundengine import SoundEngine  # noqa: E402
from agent_bot.media.sources import FileSource, decode  # noqa: E402
from agent_bot.media.speaker import BLOCK_SAMPLES, Speaker  # noqa: E402
from agent_bot.qa.comparison import compare  # noqa: E402
from tests.sound.peers import Received, SentLog, connect, impair  # noqa: E402
from tests.sound.pulse import PulseDaemon  # noqa: E402
from tests.sound.test_speaker import SEARCH_MS, heard, until  # noqa: E402

SAMPLE = ROOT / "samples" / "weather-48k.wav"
NEAR = ROOT / "samples" / "hello-48k.wav"
"""What the engine's microphone hears (played into the `mic` sink)."""
WINDOW_S = 0.25
MATCHED = 0.8
LOSS = 0.01
REORDER = 0.01
ENGINES: dict[str, Processing | None] = {
    "engine": None,
    "engine+mic": Processing(),
    "engine+mic-off": Processing(False, False, False, False),
}
"""The engine paths: the microphone's processing (None: no microphone)."""
CLEAN_PATHS: tuple[str, ...] = ("playout", *ENGINES, "naive")
LOSS_PATHS: tuple[str, ...] = ("playout", "engine", "naive")
ENGINE_MODULE = b"agent_bot.media.engineprocess"
ENGINE_STARTUP_S = 20.0
ENGINE_SETTLE_S = 2.0
"""Between the engine's devices opening and the call (a bot's engine starts with the bot, before
its calls; an engine's first seconds cost more): its CPU then is given apart."""


class NaivePlayer:
    """aiortc's frames into an OutputStream through a FIFO: what a first attempt looks like."""

    def __init__(self) -> None:
        self._fifo: collections.deque[int] = collections.deque()
        self._lock = threading.Lock()
        self.underruns = 0
        self.stream = sd.OutputStream(
            device=find_device(None, "output"),
            samplerate=SAMPLE_RATE,
            channels=1,
            dtype="int16",
            blocksize=BLOCK_SAMPLES,
            latency="low",
            callback=self._callback,
        )
        self.stream.start()

    def write(self, pcm: Pcm) -> None:
        with self._lock:
            self._fifo.extend(pcm.tolist())

    def _callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        with self._lock:
            take = min(frames, len(self._fifo))
            block = [self._fifo.popleft() for _ in range(take)]
        if take < frames:
            self.underruns += 1
        outdata[:take, 0] = block
        outdata[take:, 0] = 0

    def close(self) -> None:
        self.stream.close()


class EnginePlayer:
    """A sound engine with the speaker and, with `processing`, the microphone, fed speech."""

    def __init__(self, pulse: PulseDaemon, processing: Processing | None) -> None:
        self.engine = SoundEngine(
            speaker=True, microphone=processing is not None, processing=processing
        )
        self.speaker = EngineSpeaker(self.engine)
        self._pulse = pulse
        self._near: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self.startup_s = 0.0
        """From `start()` to its devices open."""
        self.settle_cpu = 0.0
        """Share of a core the engine used in the `ENGINE_SETTLE_S` after that."""

    async def start(self, seconds: float) -> None:
        # the microphone's source is fed first: on the monitor of an idle null sink, which
        # delivers in bursts, the engine's input thread spins (and its watchdog restarts it)
        if "microphone" in self.engine.devices:
            near = decode(NEAR)
            loops = math.ceil((seconds + 10) * SAMPLE_RATE / len(near))
            self._near = self._pulse.play(np.tile(near, loops))
        started = time.monotonic()
        self.engine.start()
        devices = self.engine.devices.values()
        await until(lambda: all(d.running for d in devices), ENGINE_STARTUP_S)
        self.startup_s = time.monotonic() - started
        self.pid = engine_pid()
        opened, before = time.monotonic(), cpu_seconds([self.pid])
        await asyncio.sleep(ENGINE_SETTLE_S)
        self.settle_cpu = (cpu_seconds([self.pid]) - before) / (time.monotonic() - opened)

    def notes(self) -> str:
        status = self.engine.status
        echo = status.get("echo") or {}
        text = ""
        if "microphone" in self.engine.devices:
            text = (
                f"; mic {dbfs(status.get('mic_rms', 0.0))} in, "
                f"{dbfs(echo.get('mic_rms', status.get('mic_rms', 0.0)))} out, "
                f"stream delay={echo.get('delay_ms', 0):.0f}ms "
                f"dropped={status.get('mic_dropped')}"
            )
        if self.engine.restarts:
            text += f"; RESTARTED {self.engine.restarts}x (no engine CPU figure)"
        return text

    async def close(self) -> None:
        self.engine.close()
        if self._near is not None:
            self._near.kill()
            self._near.wait()
        await until(lambda: not Path(f"/proc/{self.pid}").exists(), 5)  # its devices are free


def engine_pid() -> int:
    """The running sound engine's pid: the bench's child process running `engineprocess`."""
    for pid in process_tree(os.getpid())[1:]:
        with contextlib.suppress(OSError):
            if ENGINE_MODULE in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
    raise RuntimeError("no sound engine among the bench's child processes")


def dbfs(rms: float) -> str:
    return f"{20 * math.log10(rms):.0f}dBFS" if rms > 0 else "silent"


def cpu_shares(pids: dict[str, int], seconds: float, before: dict[str, float]) -> dict[str, float]:
    """Share of a core each of `pids` used since its `before` (CPU seconds) `seconds` ago."""
    return {name: (cpu_seconds([pid]) - before[name]) / seconds for name, pid in pids.items()}


def playout_notes(stats: PlayoutStats) -> str:
    return (
        f"lost={stats.lost} late={stats.late} concealed={stats.concealed} "
        f"underruns={stats.underruns} dropped={stats.dropped} target={stats.target_ms:.0f}ms "
        f"skipped={stats.skipped * 1000 // SAMPLE_RATE}ms"
    )


async def measure(pulse: PulseDaemon, path: str, seconds: float, impaired: bool) -> dict[str, Any]:
    monitor = pulse.monitor()
    speaker: Speaker | EngineSpeaker | None = None
    engine: EnginePlayer | None = None
    naive: NaivePlayer | None = None
    if path == "playout":
        speaker = Speaker()
        speaker.start()
        await until(lambda: speaker is not None and speaker.running)
    elif path in ENGINES:
        engine = EnginePlayer(pulse, ENGINES[path])
        await engine.start(seconds)
        speaker = engine.speaker
    else:
        naive = NaivePlayer()
    source = FileSource(SAMPLE, loop=True)
    track = source.create_track()
    sent = SentLog()
    track.add_sent_listener(sent)
    call = await connect(track)
    counts = impair(call.caller, loss=LOSS, reorder=REORDER) if impaired else None
    if speaker is not None:
        speaker.attach(call.receiver, "bench")
        Received(call.remote)
    else:
        assert naive is not None
        Received(call.remote, on_pcm=naive.write)
    pids = {"bench": os.getpid()} | ({"engine": engine.pid} if engine is not None else {})
    started, before = time.monotonic(), {name: cpu_seconds([pid]) for name, pid in pids.items()}
    await asyncio.sleep(seconds)
    cpu = cpu_shares(pids, time.monotonic() - started, before)
    stats = speaker.stats("bench") if speaker is not None else None
    assert speaker is None or stats is not None
    notes = "" if stats is None else playout_notes(stats)
    if engine is not None:
        notes += engine.notes()
    await call.close()
    if engine is not None:
        await engine.close()
    elif speaker is not None:
        speaker.close()
    if naive is not None:
        naive.close()
        notes = f"device blocks without data={naive.underruns}"
    monitor.stop()
    result = compare(
        sent.timeline(), heard(monitor, sent), window_s=WINDOW_S, search_ms=SEARCH_MS, max_delay_s=2
    )
    lags = [w.lag_ms for w in result.windows if w.lag_ms is not None and w.correlation >= MATCHED]
    row: dict[str, Any] = {
        "path": path,
        "scenario": "loss" if impaired else "clean",
        "seconds": seconds,
        "windows": len(result.windows),
        "matched": len(lags),
        "median_ms": statistics.median(lags) if lags else None,
        "p95_ms": float(np.percentile(lags, 95)) if lags else None,
        "correlation": float(np.median([w.correlation for w in result.windows])),
        "bench_cpu": cpu["bench"],
        "engine_cpu": None if engine is None or engine.engine.restarts else cpu["engine"],
        "startup_s": None if engine is None else engine.startup_s,
        "settle_cpu": None if engine is None else engine.settle_cpu,
        "notes": notes,
    }
    if counts is not None:
        row["notes"] = (
            f"caller dropped {counts['dropped']}, reordered {counts['reordered']}; {notes}"
        )
    return row


def fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def ratio(ours: float | None, base: float | None) -> str:
    """`ours` / `base`; "-" without both, or with a base ≤ 0 (a latency the monitor's clock
    estimate got wrong)."""
    return "-" if ours is None or base is None or base <= 0 else f"{ours / base:.2f}×"


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("path", "scenario", "median ms", "p95 ms", "corr", "matched", "engine", "bench")
    print("{:14} {:8} {:>9} {:>7} {:>5} {:>9} {:>7} {:>7}  notes".format(*header))
    for row in rows:
        matched = f"{row['matched']}/{row['windows']}"
        engine = fmt(None if row["engine_cpu"] is None else row["engine_cpu"] * 100, "%", 1)
        print(
            f"{row['path']:14} {row['scenario']:8} {fmt(row['median_ms']):>9} "
            f"{fmt(row['p95_ms']):>7} {row['correlation']:5.2f} {matched:>9} "
            f"{engine:>7} {fmt(row['bench_cpu'] * 100, '%', 1):>7}  {row['notes']}"
        )
    print("(engine, bench: CPU of the sound engine process and of the bench process, % of a core)")


def print_comparisons(rows: list[dict[str, Any]]) -> None:
    by = {(r["path"], r["scenario"]): r for r in rows}
    print()
    for scenario in ("clean", "loss"):
        base = by.get(("playout", scenario))
        if base is None:
            continue
        for path in (*ENGINES, "naive"):
            row = by.get((path, scenario))
            if row is None or row["median_ms"] is None or base["median_ms"] is None:
                continue
            print(
                f"{scenario}: {path} − playout: median {row['median_ms'] - base['median_ms']:+.0f}"
                f" ms ({ratio(row['median_ms'], base['median_ms'])}), p95 "
                f"{row['p95_ms'] - base['p95_ms']:+.0f} ms ({ratio(row['p95_ms'], base['p95_ms'])})"
            )
    engine_cpu = {p: by[(p, "clean")]["engine_cpu"] for p in ENGINES if (p, "clean") in by}
    alone, on, off = (engine_cpu.get(path) for path in ENGINES)
    if on is not None and off is not None:
        print(
            f"engine CPU, processing all on / all off: {on * 100:.1f} % / {off * 100:.1f} % "
            f"of a core = {ratio(on, off)}; over the speaker alone "
            f"({fmt(None if alone is None else alone * 100, ' %', 1)}): "
            f"{ratio(off, alone)} with the microphone, {ratio(on, alone)} processed"
        )
    inproc = by.get(("playout", "clean"))
    for path, cpu in engine_cpu.items():
        row, base = by[(path, "clean")], None if inproc is None else inproc["bench_cpu"]
        total = None if cpu is None else row["bench_cpu"] + cpu
        print(
            f"{row['path']}: bench CPU / in-process playout's bench CPU = "
            f"{ratio(row['bench_cpu'], base)}; (bench + engine) / it = {ratio(total, base)}"
        )
    starts = [r for r in rows if r["startup_s"] is not None]
    figures = (
        f"{r['path']}/{r['scenario']} {r['startup_s']:.2f} s, {r['settle_cpu']:.0%}" for r in starts
    )
    print(
        f"engine start → its devices open, then its CPU in the {ENGINE_SETTLE_S:g} s before the "
        f"call: {'; '.join(figures)}"
    )


async def main(args: argparse.Namespace) -> None:
    print(f"lscpu model name: {lscpu_model()}")
    print(f"machine: {machine()}", flush=True)
    runs = [(False, args.seconds, CLEAN_PATHS)]
    if args.impaired_seconds > 0:
        runs.append((True, args.impaired_seconds, LOSS_PATHS))
    with tempfile.TemporaryDirectory() as root:
        pulse = PulseDaemon(Path(root))
        for name in ("XDG_RUNTIME_DIR", "HOME", "PULSE_SERVER"):
            os.environ[name] = pulse.env[name]
        pulse.start()
        sd._terminate()
        sd._initialize()
        rows = []
        try:
            for impaired, seconds, paths in runs:
                for path in paths:
                    print(f"measuring {path}, {'loss' if impaired else 'clean'}, {seconds:.0f} s",
                          flush=True)  # fmt: skip
                    rows.append(await measure(pulse, path, seconds, impaired))
        finally:
            pulse.stop()
    print()
    print_table(rows)
    print_comparisons(rows)
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="clean run per path")
    parser.add_argument("--impaired-seconds", type=float, default=12.0, help="loss run per path")
    asyncio.run(main(parser.parse_args()))

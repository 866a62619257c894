"""Send → sound-device latency of the speaker path vs aiortc's own receive path, on loopback.

A caller (aiortc) plays a looped speech sample to the bot (aiortc) in one process; the bot
plays it on a private PulseAudio null sink, whose monitor is recorded (`parec`). The latency
of each 0.25-s window of what was sent is where it is found in the recording (each window
aligned on its own), measured from the moment its frame was sent; the table gives the median
and the 95th percentile over the windows that came through (correlation ≥ 0.8).

Paths, measured in the same run, one after the other, on the same daemon:
- `playout`: `attach_speaker` — RTP packets taken before aiortc's jitter buffer, Opus decoded
  with PLC, the adaptive `PlayoutBuffer`, a 10 ms-block `OutputStream` (agent_bot/media).
- `naive`: aiortc's `recv()` frames straight into the same kind of `OutputStream` through a
  FIFO (silence when it is empty).
Scenarios: `clean`, then `loss`: the caller drops 1 % of its RTP packets at random and swaps
1 % with the next one, for `--impaired-seconds` (60 s by default).

    ./run bench playout_latency [--seconds 20] [--impaired-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from agent_bot.media.devices import find_device, sd  # noqa: E402
from agent_bot.media.frames import SAMPLE_RATE, Pcm  # noqa: E402
from agent_bot.media.sources import FileSource  # noqa: E402
from agent_bot.media.speaker import BLOCK_SAMPLES, Speaker, attach_speaker  # noqa: E402
from agent_bot.qa.comparison import compare  # noqa: E402
from tests.sound.peers import Received, SentLog, connect, impair  # noqa: E402
from tests.sound.pulse import PulseDaemon  # noqa: E402
from tests.sound.test_speaker import SEARCH_MS, heard, until  # noqa: E402

SAMPLE = ROOT / "samples" / "weather-48k.wav"
WINDOW_S = 0.25
MATCHED = 0.8
LOSS = 0.01
REORDER = 0.01


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


async def measure(pulse: PulseDaemon, path: str, seconds: float, impaired: bool) -> dict[str, Any]:
    monitor = pulse.monitor()
    speaker: Speaker | None = None
    naive: NaivePlayer | None = None
    if path == "playout":
        speaker = Speaker()
        speaker.start()
        await until(lambda: speaker is not None and speaker.running)
    else:
        naive = NaivePlayer()
    source = FileSource(SAMPLE, loop=True)
    track = source.create_track()
    sent = SentLog()
    track.add_sent_listener(sent)
    call = await connect(track)
    counts = impair(call.caller, loss=LOSS, reorder=REORDER) if impaired else None
    if speaker is not None:
        attach_speaker(call.receiver, speaker, "bench")
        Received(call.remote)
    else:
        assert naive is not None
        Received(call.remote, on_pcm=naive.write)
    await asyncio.sleep(seconds)
    stats = speaker.stats("bench") if speaker is not None else None
    assert speaker is None or stats is not None
    await call.close()
    if speaker is not None:
        speaker.close()
    if naive is not None:
        naive.close()
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
    }
    if counts is not None:
        row["dropped"] = counts["dropped"]
        row["reordered"] = counts["reordered"]
    if stats is not None:
        row["playout"] = (
            f"lost={stats.lost} late={stats.late} concealed={stats.concealed} "
            f"underruns={stats.underruns} dropped={stats.dropped} target={stats.target_ms:.0f}ms "
            f"skipped={speaker.skipped * 1000 // SAMPLE_RATE}ms"
        )
    if naive is not None:
        row["playout"] = f"device blocks without data={naive.underruns}"
    return row


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as root:
        pulse = PulseDaemon(Path(root))
        for name in ("XDG_RUNTIME_DIR", "HOME", "PULSE_SERVER"):
            os.environ[name] = pulse.env[name]
        pulse.start()
        sd._terminate()
        sd._initialize()
        rows = []
        try:
            for impaired, seconds in ((False, args.seconds), (True, args.impaired_seconds)):
                for path in ("playout", "naive"):
                    print(f"measuring {path}, {'loss' if impaired else 'clean'}, {seconds:.0f} s",
                          flush=True)  # fmt: skip
                    rows.append(await measure(pulse, path, seconds, impaired))
        finally:
            pulse.stop()
    print()
    header = ("path", "scenario", "median ms", "p95 ms", "corr", "matched")
    print("{:8} {:8} {:>9} {:>7} {:>5} {:>9}  notes".format(*header))
    for row in rows:
        notes = row.get("playout", "")
        if "dropped" in row:
            notes = f"caller dropped {row['dropped']}, reordered {row['reordered']}; {notes}"
        matched = f"{row['matched']}/{row['windows']}"
        print(
            f"{row['path']:8} {row['scenario']:8} {fmt(row['median_ms']):>9} "
            f"{fmt(row['p95_ms']):>7} {row['correlation']:5.2f} {matched:>9}  {notes}"
        )
    by = {(r["path"], r["scenario"]): r["median_ms"] for r in rows}
    for scenario in ("clean", "loss"):
        ours, naive = by[("playout", scenario)], by[("naive", scenario)]
        if ours and naive:
            print(f"{scenario}: naive / playout median = {naive / ours:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="clean run per path")
    parser.add_argument("--impaired-seconds", type=float, default=60.0, help="loss run per path")
    asyncio.run(main(parser.parse_args()))

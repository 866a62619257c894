"""What one drifting sender's call gave (`tests/sound/drift.py`): latency at the monitor, the
bot's own figures, and the two set against each other.

Latency at the ear is the playout's depth at pull time plus what the device adds after it.
The bot's drift control holds the depth at its target; the target follows the jitter, and the
device's part is PortAudio's and PulseAudio's (after a stall, PortAudio on PulseAudio has been
seen asking for its blocks up to a block earlier for good: docs/sound.md, "Drift"). So
`residual` takes from each second's latency what the bot says it meant to add then (target
plus device, from its gauges scraped each second): what is left moves only if the depth at the
ear leaves the target, which is what drift would do (a disturbance's excess, drained within
seconds, moves a minute's median second little).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.sound.playoutgauges import PlayoutSample

SETTLE_S = 10.0
"""Seconds from a call's first frame after which its latency counts as settled."""

MINUTE_S = 60.0

START_SPAN_S = (2.0, 10.0)
"""The first seconds: is the playout at its target from the start?"""

PAIR_S = 1.0
"""How far from a second's middle the gauges paired with its latency may have been scraped."""

Span = tuple[float, float]


@dataclass
class DriftResult:
    """What one sender's call gave: latency at the monitor and the bot's own figures."""

    ppm: float
    sender_ppm: float
    """The sender's pace as measured from its send times."""
    sink_ppm: float
    """The null sink's pace over the call, from its monitor's chunks (`SinkClock.rate_ppm`)."""
    stalls: int
    """Times the sender fell behind its schedule by over `LATE_S` (its loop stalled)."""
    stalled_frames: int
    """Frames' worth of time the sender sent nothing in those stalls: as many frames a bot
    rightly concealed waiting for them (a 2-s stall of the test's process is 100)."""
    latencies: list[tuple[float, float]]
    """(seconds since the call's first frame, send → monitor latency in ms), per second."""
    seconds: float
    playout: dict[str, Any]
    """The call report's `playout` (the bot's `PlayoutStats`)."""
    logged_drift_ppm: float
    """The drift in the bot's "off the speaker; playout ..." log line."""
    device_underruns: int
    """ALSA's "underrun occurred" lines in the bot's log: the device ran dry (the bot's sound
    process was late), which no playout sees coming and which can leave more audio queued in
    PulseAudio for good."""
    steal: list[tuple[float, float]]
    """(seconds since the call's first frame, share of the machine's CPU time the hypervisor
    took in the second before), per second: the same disturbance for every call of a run."""
    gauges: list[PlayoutSample]
    """The bot's speaker gauges each second, `at` in seconds since the call's first frame."""

    @property
    def true_drift_ppm(self) -> float:
        """How much faster the sender ran than the bot's device: what the estimate is held to."""
        return self.sender_ppm - self.sink_ppm

    @property
    def estimate_error(self) -> float:
        """The bot's drift estimate (its call report's) less `true_drift_ppm`."""
        return float(self.playout.get("drift_ppm", 0.0)) - self.true_drift_ppm

    def median(self, start: float, end: float) -> float | None:
        """Median latency (ms) over the seconds [start, end) of the call."""
        values = [ms for at, ms in self.latencies if start <= at < end]
        return statistics.median(values) if values else None

    def count(self, start: float, end: float) -> int:
        return sum(start <= at < end for at, _ in self.latencies)

    def gauge(self, name: str, start: float, end: float) -> float | None:
        """Median over [start, end) of a gauge (`target`, `depth` or `device`), in ms."""
        values = [getattr(sample, name) for sample in self.gauges if start <= sample.at < end]
        return statistics.median(values) if values else None

    def residuals(self) -> list[tuple[float, float]]:
        """(second, its latency less what the bot meant to add then), per second measured: the
        gauges scraped nearest the second's middle, within `PAIR_S`. Second by second, not a
        minute's median less a minute's median: when a disturbance raises the latency and the
        target together for part of a minute, the two medians fall on different seconds."""
        if not self.gauges:
            return []
        times = np.array([sample.at for sample in self.gauges])
        out = []
        for at, ms in self.latencies:
            nearest = int(np.argmin(np.abs(times - (at + 0.5))))
            if abs(times[nearest] - (at + 0.5)) <= PAIR_S:
                sample = self.gauges[nearest]
                out.append((at, ms - sample.target - sample.device))
        return out

    def residual(self, start: float, end: float) -> float | None:
        """Median over the seconds of [start, end) of `residuals`."""
        values = [ms for at, ms in self.residuals() if start <= at < end]
        return statistics.median(values) if values else None

    def value(self, name: str, start: float, end: float) -> float | None:
        """`latency`, `residual` or a gauge (by its name) over [start, end), in ms."""
        if name == "latency":
            return self.median(start, end)
        if name == "residual":
            return self.residual(start, end)
        return self.gauge(name, start, end)

    def moved(self, name: str, before: Span, after: Span) -> float | None:
        """How much `value(name)` moved from span `before` to `after`."""
        first, last = self.value(name, *before), self.value(name, *after)
        return None if first is None or last is None else last - first

    @property
    def first_minute(self) -> Span:
        return (SETTLE_S, SETTLE_S + MINUTE_S)

    @property
    def last_minute(self) -> Span:
        return (self.seconds - MINUTE_S, self.seconds)

    def table_row(self) -> str:
        start, first, last = (
            self.median(*START_SPAN_S),
            self.median(*self.first_minute),
            self.median(*self.last_minute),
        )
        minutes = (self.first_minute, self.last_minute)
        return (
            f"{self.ppm:+6.0f} ppm (sender {self.sender_ppm:+7.1f}, sink {self.sink_ppm:+6.1f}): "
            f"latency 2-10 s {fmt_ms(start)}, "
            f"first minute {fmt_ms(first)}, last minute {fmt_ms(last)} "
            f"({len(self.latencies)} windows); first → last minute: residual "
            f"{fmt_ms(self.moved('residual', *minutes), '+')}, target "
            f"{fmt_ms(self.moved('target', *minutes), '+')}, device "
            f"{fmt_ms(self.moved('device', *minutes), '+')} ({len(self.gauges)} scrapes); "
            f"estimate {self.playout.get('drift_ppm', 0):+.1f} ppm (the device "
            f"{self.playout.get('device_ppm', 0):+.1f} by the bot); underruns "
            f"{self.playout.get('underruns')}, concealed "
            f"{self.playout.get('concealed')}, dropped {self.playout.get('dropped')}, target "
            f"{self.playout.get('target_ms', 0):.0f} ms, jitter "
            f"{self.playout.get('jitter_ms', 0):.1f} ms, device "
            f"{self.playout.get('device_ms', 0):.1f} ms; sender stalls {self.stalls} "
            f"({self.stalled_frames} frames), device "
            f"underruns {self.device_underruns}"
        )

    def device_steps(self, span: float = 10.0) -> float:
        """How far (ms) the device's latency moved over the call after settling: the largest
        less the smallest median of its `span`-s spans (0 without gauges)."""
        starts = np.arange(SETTLE_S, self.seconds - span + 1e-9, span)
        values = [self.gauge("device", s, s + span) for s in starts]
        known = [value for value in values if value is not None]
        return max(known) - min(known) if known else 0.0

    def profile(self, name: str = "latency", span: float = 10.0) -> str:
        """Median latency, residual or gauge (ms) of each `span` seconds of the call, in one
        line."""
        starts = [span * k for k in range(int(self.seconds // span))]
        values = [self.value(name, s, s + span) for s in starts]
        return " ".join(fmt_ms(value).removesuffix(" ms") for value in values)

    def steal_spans(self, span: float = 10.0) -> list[float | None]:
        """Mean share of the CPU time the host took in each `span` seconds of the call."""
        spans: list[float | None] = []
        for k in range(int(self.seconds // span)):
            shares = [share for at, share in self.steal if span * k < at <= span * (k + 1)]
            spans.append(sum(shares) / len(shares) if shares else None)
        return spans

    def steal_profile(self, span: float = 10.0) -> str:
        """Mean CPU steal (%) of each `span` seconds of the call, in one line."""
        spans = self.steal_spans(span)
        return " ".join("-" if share is None else f"{100 * share:.0f}" for share in spans)


def fmt_ms(value: float | None, sign: str = "") -> str:
    """`value` ms to one decimal (`sign` "+" to sign it), "-" for none."""
    return "-" if value is None else f"{value:{sign}.1f} ms"

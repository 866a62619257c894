"""The bot's Prometheus metrics (`--metrics-port`), kept and served by `prometheus_client`.

A thin layer: each call's figures are taken from its report when it ends (the Agent's or the
Dialer's call-end hook); the gauges (calls in progress, admission, event-loop lag, CPU, the
playout of the call on the speaker) are sampled on the event loop once a second. The
exposition is served by prometheus_client's own HTTP server in a thread of its own, so a scrape
never waits for a busy event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from prometheus_client import start_http_server

from agent_bot.admission import Admission, load_samples
from agent_bot.calloptions import CallSpeaker
from agent_bot.qa.emodel import estimate, mouth_to_ear_ms
from agent_bot.report import CallReport
from signaling_server.prometheus import Declare

logger = logging.getLogger(__name__)

PREFIX = "agent_bot"
SAMPLE_PERIOD = 1.0
MOS_BUCKETS = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.4, 4.5)
LOSS_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
JITTER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)
SETUP_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SPEAKER_GAUGES = {
    "speaker_playout_target_seconds": (
        "target_ms",
        "Playout buffer: the depth it aims at for the call on the speaker (NaN: none)",
    ),
    "speaker_playout_depth_seconds": (
        "depth_ms",
        "Playout buffer: the mean depth of recent arrivals of the call on the speaker",
    ),
    "speaker_device_seconds": (
        "device_ms",
        "The speaker's output latency: PortAudio's DAC time minus its callback time, ~1 s mean",
    ),
}
"""Gauge → (`PlayoutStats` field in ms, help)."""
PLAYOUT_COUNTERS = {
    "underruns": "Playout underruns: the buffer ran dry and the awaited packet came later",
    "concealed": "Frames of concealment played (lost packets, waiting for late ones)",
    "lost": "Packets that never came in time for playout",
}


class MetricsError(Exception):
    """The metrics port could not be served."""


class BotMetrics:
    """One registry per bot process; `call_ended` is the call-end hook."""

    def __init__(self) -> None:
        self.declare = declare = Declare(PREFIX)
        self.registry = declare.registry
        self.active = declare.gauge("calls_active", "Calls in progress")
        self.ended = declare.counter("calls_ended_total", "Calls ended, by end reason", "reason")
        self.mos = declare.histogram(
            "call_mos",
            "Connected calls: E-model MOS (ITU-T G.107) from the call's RTT, jitter and loss",
            MOS_BUCKETS,
        )
        self.loss = declare.histogram(
            "call_loss_ratio", "Connected calls: share of inbound packets lost", LOSS_BUCKETS
        )
        self.jitter = declare.histogram(
            "call_jitter_seconds", "Connected calls: inbound interarrival jitter", JITTER_BUCKETS
        )
        self.setup = declare.histogram(
            "call_setup_seconds",
            "From the call request (the caller) or the accept (the answerer) to connected",
            SETUP_BUCKETS,
        )
        self.playout = {
            name: declare.counter(f"playout_{name}_total", doc)
            for name, doc in PLAYOUT_COUNTERS.items()
        }
        self.lag = declare.gauge(
            "event_loop_lag_seconds", "How late the event loop woke up, last second"
        )
        self.cpu = declare.gauge(
            "cpu_percent", "Process CPU over the last second, percent of one core"
        )
        self._calls: Callable[[], int] = lambda: 0
        self._admission: Admission | None = None
        self._speaker: Callable[[], CallSpeaker | None] | None = None
        self._sampler: asyncio.Task[None] | None = None

    def watch(
        self,
        calls: Callable[[], int],
        admission: Admission | None = None,
        speaker: Callable[[], CallSpeaker | None] | None = None,
    ) -> None:
        """What the gauges sample: calls in progress, the answerer's admission, and the
        playout of the call on its speaker (`speaker` gives the speaker, if any, when asked)."""
        self._calls = calls
        self._admission = admission
        gauge = self.declare.gauge
        if speaker is not None:
            self._speaker = speaker
            self.speaker = {name: gauge(name, doc) for name, (_, doc) in SPEAKER_GAUGES.items()}
            self.drift = gauge(
                "speaker_drift_ratio",
                "How much faster the sender's clock runs than the speaker's (the playout's "
                "drift estimate: 0.0003 is 300 ppm)",
            )
            self._sample_speaker()
        if admission is None:
            return
        self.available = gauge(
            "admission_available", "1 while the bot takes calls, 0 while overload closed it"
        )
        self.admission_lag = gauge(
            "admission_lag_seconds", "Event-loop lag as admission smooths it"
        )
        self.admission_cpu = gauge("admission_cpu_percent", "Process CPU as admission smooths it")
        self.available.set(int(admission.available))

    def serve(self, host: str, port: int) -> None:
        """Serve the exposition on host:port and sample the gauges; raises `MetricsError`."""
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise MetricsError(f"cannot serve metrics on {host}:{port}: {exc}") from None
        self._sampler = asyncio.create_task(self._sample())
        logger.info("metrics on http://%s:%d/metrics", host, port)

    def call_ended(self, report: CallReport) -> None:
        """The call-end hook: count the end, observe the call's figures."""
        self.ended.labels(report.end_reason or "unknown").inc()
        self.active.set(self._calls())
        for name, counter in self.playout.items():
            counter.inc((report.playout or {}).get(name, 0))
        if not report.connected:
            return
        setup_ms = report.since_request_ms("connected")
        if setup_ms is not None:
            self.setup.observe(setup_ms / 1000)
        stats = report.stats
        self.loss.observe(stats.loss)
        if stats.jitter_ms is not None:
            self.jitter.observe(stats.jitter_ms / 1000)
        if stats.rtt_ms is not None:  # no RTCP report yet: no delay, no MOS
            one_way = mouth_to_ear_ms(stats.rtt_ms, stats.jitter_ms or 0.0)
            self.mos.observe(estimate(one_way, 100 * stats.loss).mos)

    async def _sample(self) -> None:
        async for sample in load_samples(SAMPLE_PERIOD):
            self.lag.set(sample.lag_ms / 1000)
            self.cpu.set(sample.cpu_percent)
            self.active.set(self._calls())
            if self._admission is not None:
                self.available.set(int(self._admission.available))
                self.admission_lag.set(self._admission.lag_ms / 1000)
                self.admission_cpu.set(self._admission.cpu_percent)
            if self._speaker is not None:
                self._sample_speaker()

    def _sample_speaker(self) -> None:
        """The speaker gauges from the playout of the call on it; NaN while there is none."""
        assert self._speaker is not None
        speaker = self._speaker()
        call_id = None if speaker is None else speaker.call_id
        stats = None if speaker is None or call_id is None else speaker.stats(call_id)
        for name, (field, _) in SPEAKER_GAUGES.items():
            self.speaker[name].set(math.nan if stats is None else getattr(stats, field) / 1000)
        self.drift.set(math.nan if stats is None else stats.drift_ppm * 1e-6)

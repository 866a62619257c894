"""The signaling server's Prometheus metrics, kept and exposed by `prometheus_client`.

Names are those of the hand-written exposition this replaced (`signaling_*`), plus
histograms of call set-up, queue wait, call duration and relay handling time, and the
process / Python collectors (`process_*`, `python_*`). One registry per server.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from signaling_server.outcome import Timing, TimingName
from signaling_server.prometheus import Declare
from signaling_server.protocol import RELAYED, EndReason, ErrorCode, Role

PREFIX = "signaling"
SETUP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600)
RELAY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)


class Metrics:
    """Counters and histograms updated as events happen; gauges set from the store per scrape."""

    def __init__(self) -> None:
        declare = Declare(PREFIX)
        self.registry = declare.registry
        counter, gauge = declare.counter, declare.gauge

        self.connections = counter("connections_total", "Socket.IO connections accepted, by role",
                                   "role")  # fmt: skip
        self.refused = counter("connections_refused_total",
                               "Socket.IO connections refused at authentication")  # fmt: skip
        self.calls = counter("calls_total", "Calls requested by customers")
        self.accepted = counter("calls_accepted_total", "Calls accepted by an agent")
        self.ended = counter("calls_ended_total", "Calls ended, by reason", "reason")
        self.relayed = counter(
            "relayed_messages_total", "offer/answer/ice-candidate messages relayed, by event",
            "event",
        )  # fmt: skip
        self.errors = counter("errors_total", "Refused events, by error code", "code")
        self.malformed = counter(
            "malformed_packets_total", "Socket.IO packets dropped because they could not be decoded"
        )
        for role in Role:
            self.connections.labels(role)
        for reason in EndReason:
            self.ended.labels(reason)
        for event in RELAYED:
            self.relayed.labels(event)
        for code in ErrorCode:
            self.errors.labels(code)
        self.gauges = {
            name: gauge(name, doc)
            for name, doc in (
                ("agents_connected", "Agents connected to this node"),
                ("customers_connected", "Customers connected to this node"),
                ("calls_active", "Calls accepted and not ended"),
                ("calls_ringing", "Calls ringing at an agent"),
                ("queue_length", "Calls waiting for a free agent"),
            )
        }
        self.setup = declare.histogram(
            "call_setup_seconds",
            "From the call request to the agent's accept (stage=accepted), and to the first "
            "call-connected report of a party (stage=connected)",
            SETUP_BUCKETS, "stage",
        )  # fmt: skip
        self.queue_wait = declare.histogram(
            "queue_wait_seconds", "From the call request until the call first rang at an agent",
            SETUP_BUCKETS,
        )  # fmt: skip
        self.duration = declare.histogram(
            "call_duration_seconds", "Accepted calls: from the accept to the end",
            DURATION_BUCKETS,
        )  # fmt: skip
        self.relay = declare.histogram(
            "relay_seconds",
            "Server-side handling time of one relayed message (validation, route, emit)",
            RELAY_BUCKETS, "event",
        )  # fmt: skip
        for stage in (TimingName.ACCEPTED, TimingName.CONNECTED):
            self.setup.labels(stage)
        for event in RELAYED:
            self.relay.labels(event)
        self._expose = make_aiohttp_handler(self.registry)

    def observe(self, timing: Timing) -> None:
        """One timing from a pairing operation's outcome."""
        if timing.name is TimingName.QUEUE_WAIT:
            self.queue_wait.observe(timing.seconds)
        elif timing.name is TimingName.DURATION:
            self.duration.observe(timing.seconds)
        else:
            self.setup.labels(timing.name).observe(timing.seconds)

    async def expose(self, request: web.Request, gauges: dict[str, float]) -> web.StreamResponse:
        """The Prometheus exposition (text, or OpenMetrics when asked), gauges set first."""
        for name, value in gauges.items():
            self.gauges[name].set(value)
        return await self._expose(request)

"""Declaring Prometheus metrics (prometheus_client) under one prefix in a registry of their
own, with the process and Python collectors: shared by the server and the bot."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

# no `_created` series next to every counter: the exposition stays as scrapers knew it
disable_created_metrics()  # type: ignore[no-untyped-call]


class Declare:
    """Makes `PREFIX_name` metrics in `registry` (one per process or server instance)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)

    def counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(f"{self.prefix}_{name}", doc, labels, registry=self.registry)

    def gauge(self, name: str, doc: str) -> Gauge:
        return Gauge(f"{self.prefix}_{name}", doc, registry=self.registry)

    def histogram(self, name: str, doc: str, buckets: Sequence[float], *labels: str) -> Histogram:
        return Histogram(
            f"{self.prefix}_{name}", doc, labels, buckets=buckets, registry=self.registry
        )

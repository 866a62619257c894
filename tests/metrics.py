"""Scraping a Prometheus endpoint in tests, parsed with prometheus_client's own text parser."""

from __future__ import annotations

import urllib.request

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """One scrape: the metric families by name."""

    def __init__(self, text: str, content_type: str) -> None:
        self.text = text
        self.content_type = content_type
        self.families: dict[str, Metric] = {
            family.name: family for family in text_string_to_metric_families(text)
        }

    @classmethod
    def of(cls, url: str) -> Scrape:
        with urllib.request.urlopen(url, timeout=10) as response:
            return cls(response.read().decode(), response.headers.get("Content-Type", ""))

    def family(self, name: str) -> Metric:
        """A family by its name (a counter's without `_total`); fails listing the names."""
        assert name in self.families, f"no metric {name!r}; have {sorted(self.families)}"
        return self.families[name]

    def value(self, sample: str, **labels: str) -> float:
        """The value of the sample named `sample` with exactly these labels."""
        for family in self.families.values():
            for found in family.samples:
                if found.name == sample and found.labels == labels:
                    return float(found.value)
        raise AssertionError(f"no sample {sample}{labels} in:\n{self.text[-3000:]}")

    def count(self, histogram: str, **labels: str) -> float:
        """Observations of a histogram (its `_count` sample)."""
        return self.value(f"{histogram}_count", **labels)

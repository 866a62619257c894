"""Counters of the signaling server, rendered in the Prometheus text format."""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

PREFIX = "signaling"


def _labels(key: tuple[tuple[str, str], ...]) -> str:
    return "{" + ",".join(f'{name}="{value}"' for name, value in key) + "}" if key else ""


class Metrics:
    """Monotonic counters; gauges are passed in at render time (they live in the store)."""

    HELP: ClassVar[dict[str, str]] = {
        "connections_total": "Socket.IO connections accepted, by role",
        "connections_refused_total": "Socket.IO connections refused at authentication",
        "calls_total": "Calls requested by customers",
        "calls_accepted_total": "Calls accepted by an agent",
        "calls_ended_total": "Calls ended, by reason",
        "relayed_messages_total": "offer/answer/ice-candidate messages relayed, by event",
        "errors_total": "Refused events, by error code",
        "malformed_packets_total": "Socket.IO packets dropped because they could not be decoded",
    }

    def __init__(self) -> None:
        self._counters: dict[str, Counter[tuple[tuple[str, str], ...]]] = {
            name: Counter() for name in self.HELP
        }

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        self._counters[name][tuple(sorted(labels.items()))] += amount

    def value(self, name: str, **labels: str) -> int:
        return self._counters[name][tuple(sorted(labels.items()))]

    def render(self, gauges: dict[str, tuple[str, float]]) -> str:
        """Prometheus text exposition; `gauges` maps name -> (help, value)."""
        lines: list[str] = []
        for name, (help_text, value) in gauges.items():
            lines += [
                f"# HELP {PREFIX}_{name} {help_text}",
                f"# TYPE {PREFIX}_{name} gauge",
                f"{PREFIX}_{name} {value:g}",
            ]
        for name, help_text in self.HELP.items():
            lines += [f"# HELP {PREFIX}_{name} {help_text}", f"# TYPE {PREFIX}_{name} counter"]
            samples = self._counters[name]
            if not samples:
                lines.append(f"{PREFIX}_{name} 0")
            for key, count in sorted(samples.items()):
                lines.append(f"{PREFIX}_{name}{_labels(key)} {count}")
        return "\n".join(lines) + "\n"

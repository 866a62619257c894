"""Who a client is: the identity a verified token carries (pure; stored with its records).

A client without a token is anonymous: its name is whatever it said, and it has no `sub`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified token's identity: `sub` (unique id at the issuer), display name, grants."""

    sub: str
    name: str
    queue: str | None = None
    priority: int | None = None
    # agents: the most calls at once the token allows
    max_calls: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "name": self.name,
            "queue": self.queue,
            "priority": self.priority,
            "max_calls": self.max_calls,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Identity | None:
        if data is None:
            return None
        return cls(
            data["sub"], data["name"], data.get("queue"), data.get("priority"),
            data.get("max_calls"),
        )  # fmt: skip


def customer_identity(identity: Identity | None, name: str) -> dict[str, Any]:
    """`customerIdentity` as the agent sees it in `incoming-call` and the accept ack."""
    if identity is None:
        return {"sub": None, "name": name, "verified": False}
    shown: dict[str, Any] = {"sub": identity.sub, "name": identity.name, "verified": True}
    if identity.queue is not None:
        shown["queue"] = identity.queue
    if identity.priority is not None:
        shown["priority"] = identity.priority
    return shown

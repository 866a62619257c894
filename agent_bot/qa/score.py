"""One labelled quality score of a call: which kind, which algorithm, and its value or why not.

Three kinds: "network" (the E-model's MOS-CQE from loss and delay), "listening" (a
full-reference MOS-LQO of what was heard against the reference) and "no-reference" (a model's
MOS of what was heard alone). A score that cannot be computed has `value` None and a
`reason`; never a made-up number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NETWORK = "network"
LISTENING = "listening"
NO_REFERENCE = "no-reference"
KINDS = (NETWORK, LISTENING, NO_REFERENCE)

MOS_CQE = "MOS-CQE"
MOS_LQO = "MOS-LQO"
DNSMOS_OVRL = "DNSMOS-OVRL"
PLCMOS = "PLCMOS"
LABELS = {MOS_CQE: NETWORK, MOS_LQO: LISTENING, DNSMOS_OVRL: NO_REFERENCE, PLCMOS: NO_REFERENCE}
"""Every score label and its kind."""


@dataclass(frozen=True)
class Score:
    """A score with what it is: kind, label, algorithm, version and parameters."""

    kind: str
    label: str
    algorithm: str
    version: str
    parameters: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    reason: str | None = None
    """Why `value` is None (too short, no speech, scorer failed)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "algorithm": self.algorithm,
            "version": self.version,
            "parameters": self.parameters,
            "value": None if self.value is None else round(self.value, 3),
            "reason": self.reason,
        }

    def text(self) -> str:
        """E.g. `MOS-LQO 4.12 (listening)` or `DNSMOS-OVRL – (no-reference: too short)`."""
        if self.value is None:
            return f"{self.label} – ({self.kind}: {self.reason})"
        return f"{self.label} {self.value:.2f} ({self.kind})"


def unscored(template: Score, reason: str) -> Score:
    """`template` without a value, for `reason`."""
    return Score(
        template.kind, template.label, template.algorithm, template.version,
        dict(template.parameters), None, reason,
    )  # fmt: skip


def find(scores: tuple[Score, ...], label: str) -> Score | None:
    """The score labelled `label`, if computed or attempted."""
    return next((score for score in scores if score.label == label), None)

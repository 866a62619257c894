"""Pass or fail for one call: its quality figures held against the QA thresholds.

The dialer calls `judge_call` when a call ends, with the call's report (anything shaped like
`CallFigures`, e.g. `agent_bot.report.CallReport`), the reference (what was sent when the far
end echoes, or the `--expect` file) and what was received, both mono int16 at 48 kHz sharing a
time origin: sample 0 of `received` arrived while sample 0 of what was sent was being sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from agent_bot.media.frames import Pcm
from agent_bot.qa.comparison import AudioComparison, compare
from agent_bot.qa.emodel import Quality, estimate, mouth_to_ear_ms

logger = logging.getLogger(__name__)


class TransportFigures(Protocol):
    """What the verdict reads of a call's getStats() figures."""

    @property
    def loss(self) -> float:
        """Share of the expected inbound packets that never arrived, 0..1."""

    @property
    def packets_sent(self) -> int: ...

    @property
    def remote_packets_lost(self) -> int | None:
        """Our packets the far end reported lost (RTCP receiver reports); None if unknown."""

    @property
    def rtt_ms(self) -> float | None: ...

    @property
    def jitter_ms(self) -> float | None: ...


class CallFigures(Protocol):
    """What the verdict reads of a finished call."""

    @property
    def call_id(self) -> str: ...

    @property
    def error(self) -> str | None:
        """Why the call failed to run; None when it ran."""

    @property
    def connected(self) -> bool: ...

    @property
    def stats(self) -> TransportFigures: ...


@dataclass(frozen=True)
class Thresholds:
    """The QA limits; None disables a check."""

    min_mos: float | None = None
    min_correlation: float | None = None
    max_delay_ms: float | None = None
    max_caller_lag_ms: float | None = None
    """Worst event-loop lag of the caller itself during the call beyond which its figures
    (delay, damage) say more about the caller than about the far end."""


@dataclass(frozen=True)
class Failure:
    """One failed check and why, in words."""

    check: str
    """"call" (it did not run), "caller" (the caller itself lagged: figures unreliable),
    "mos", "correlation" or "delay"."""
    reason: str


@dataclass(frozen=True)
class Verdict:
    """The outcome of one call: its figures and every check it failed."""

    failures: tuple[Failure, ...]
    quality: Quality | None
    """E-model estimate; None when the call did not run."""
    audio: AudioComparison | None
    """Received audio against the reference; None without a reference or when the call failed."""

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def errored(self) -> bool:
        """The call did not run, or the caller could not measure it (not a quality failure)."""
        return any(failure.check in ("call", "caller") for failure in self.failures)


def judge_call(
    call: CallFigures,
    thresholds: Thresholds,
    *,
    reference: Pcm | None = None,
    received: Pcm | None = None,
    echo: bool = False,
    caller_lag_ms: float | None = None,
) -> Verdict:
    """Compare, estimate and judge one finished call.

    `echo`: the far end sends back what it receives, so the audio delay is a round trip and
    the upstream loss also reaches our ear. `caller_lag_ms`: the worst lag of the caller's own
    event loop during the call, when measured.
    """
    if call.error is not None or not call.connected:
        reason = call.error or "the call never connected"
        logger.info("call=%s failed: %s", call.call_id, reason)
        return Verdict((Failure("call", reason),), None, None)
    audio = None
    if reference is not None:
        audio = compare(reference, received if received is not None else np.zeros(0, np.int16))
    quality = estimate(_one_way_ms(call.stats, audio, echo), 100 * _heard_loss(call.stats, echo))
    verdict = judge(quality, audio, thresholds, caller_lag_ms=caller_lag_ms)
    for failure in verdict.failures:
        logger.info("call=%s failed %s: %s", call.call_id, failure.check, failure.reason)
    return verdict


def judge(
    quality: Quality,
    audio: AudioComparison | None,
    thresholds: Thresholds,
    *,
    caller_lag_ms: float | None = None,
) -> Verdict:
    """Hold the figures of a call that ran against the thresholds."""
    failures = []
    limit = thresholds.max_caller_lag_ms
    if limit is not None and caller_lag_ms is not None and caller_lag_ms > limit:
        failures.append(
            Failure(
                "caller",
                f"the caller's own event loop lagged {caller_lag_ms:.0f} ms (> {limit:.0f} ms): "
                "its delay and damage figures are unreliable",
            )
        )
    if thresholds.min_mos is not None and quality.mos < thresholds.min_mos:
        failures.append(
            Failure(
                "mos",
                f"MOS {quality.mos:.2f} < {thresholds.min_mos:.2f} (R {quality.r:.1f}: "
                f"{quality.loss_percent:.1f} % loss, {quality.one_way_ms:.0f} ms one way)",
            )
        )
    if thresholds.min_correlation is not None:
        reason = _correlation_failure(audio, thresholds.min_correlation)
        if reason is not None:
            failures.append(Failure("correlation", reason))
    if thresholds.max_delay_ms is not None:
        reason = _delay_failure(audio, thresholds.max_delay_ms)
        if reason is not None:
            failures.append(Failure("delay", reason))
    return Verdict(tuple(failures), quality, audio)


def _correlation_failure(audio: AudioComparison | None, minimum: float) -> str | None:
    reason = _unmeasurable(audio)
    if reason is not None or audio is None or audio.correlation is None:
        return reason
    if audio.correlation >= minimum:
        return None
    missing = 100 * (audio.silent_share or 0.0)
    return (
        f"correlation {audio.correlation:.2f} < {minimum:.2f} "
        f"({missing:.0f} % of windows silent or missing)"
    )


def _delay_failure(audio: AudioComparison | None, maximum: float) -> str | None:
    reason = _unmeasurable(audio)
    if reason is not None or audio is None:
        return reason
    if audio.delay_ms is None:
        return "no delay measured"
    if audio.delay_ms <= maximum:
        return None
    return f"delay {audio.delay_ms:.0f} ms > {maximum:.0f} ms"


def _unmeasurable(audio: AudioComparison | None) -> str | None:
    """Why the audio cannot be judged, if it cannot."""
    if audio is None:
        return "no reference to compare the received audio with"
    if audio.reference_silent:
        return "no reference signal: the reference is silent"
    if audio.received_silent:
        return "nothing but silence was received"
    return None


def _heard_loss(stats: TransportFigures, echo: bool) -> float:
    """Share of the audio lost on its way to our ear (both legs when the far end echoes)."""
    loss = stats.loss
    if echo and stats.remote_packets_lost is not None and stats.packets_sent > 0:
        upstream = min(1.0, stats.remote_packets_lost / stats.packets_sent)
        loss = 1 - (1 - loss) * (1 - upstream)
    return loss


def _one_way_ms(stats: TransportFigures, audio: AudioComparison | None, echo: bool) -> float:
    """Mouth-to-ear delay: half the measured echo delay, else estimated from RTT and jitter."""
    if echo and audio is not None and audio.delay_ms is not None:
        return max(0.0, audio.delay_ms / 2)
    return mouth_to_ear_ms(stats.rtt_ms or 0.0, stats.jitter_ms or 0.0)

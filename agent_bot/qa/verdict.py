"""Pass or fail for one call: its figures and scores held against the QA thresholds.

The dialer's replay measures each call when it ends (`measure`: the received audio against
the reference, and the E-model), has it scored (`qa/scoring.py`), then `judge`s it. The
reference is what was sent when the far end echoes, or the `--expect` file; both it and the
received audio are mono int16 at 48 kHz sharing a time origin: sample 0 of `received`
arrived while sample 0 of what was sent was being sent. `judge_call` does all three steps
but the scoring, for tests and callers that score nothing.

Every failure has a `code`: no-media, one-way, far-end-silent, wrong-content, too-late,
low-quality or inconclusive. The defaults (`Thresholds()`) fail a call whose far end is
silent, plays the wrong content or sends nothing; docs/quality.md says where each number
comes from.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from agent_bot.media.frames import Pcm
from agent_bot.qa.comparison import AudioComparison, compare, has_signal
from agent_bot.qa.emodel import Quality, estimate, mouth_to_ear_ms, network_score
from agent_bot.qa.score import MOS_LQO, Score, find

logger = logging.getLogger(__name__)

NO_MEDIA = "no-media"
ONE_WAY = "one-way"
FAR_END_SILENT = "far-end-silent"
WRONG_CONTENT = "wrong-content"
TOO_LATE = "too-late"
LOW_QUALITY = "low-quality"
INCONCLUSIVE = "inconclusive"
CODES = (NO_MEDIA, ONE_WAY, FAR_END_SILENT, WRONG_CONTENT, TOO_LATE, LOW_QUALITY, INCONCLUSIVE)

RTCP_GRACE_PACKETS = 150
"""Packets (3 s of audio) sent after which a far end that never sent an RTCP receiver
report about them is taken not to receive them (aiortc reports every 0.5-1.5 s)."""


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
    def frames_received(self) -> int: ...

    @property
    def frames_sent(self) -> int: ...

    @property
    def stats(self) -> TransportFigures: ...


@dataclass(frozen=True)
class Thresholds:
    """The QA limits, with teeth by default (docs/quality.md); None disables a check."""

    min_mos: float | None = 3.1
    """Network MOS-CQE floor (low-quality): G.107's R 60, "many users dissatisfied"."""
    min_correlation: float | None = 0.2
    """Mean window correlation under which the content is wrong (wrong-content): another
    sample or a tone scored 0.06-0.11 here, a call with 10 % loss each way 0.31-0.33."""
    min_content_lqo: float | None = None
    """MOS-LQO under which the content is wrong (wrong-content), when scored. Off by default:
    wrong content (1.0-1.6) and 10 % loss each way (1.6) overlap on this scale."""
    max_silent_share: float | None = 0.5
    """Share of the reference's speaking windows received silent beyond which the far end is
    silent (far-end-silent)."""
    max_delay_ms: float | None = 800.0
    """Audio delay (a round trip for an echo) beyond which the call is too late."""
    min_scores: Mapping[str, float] = field(default_factory=lambda: {MOS_LQO: 3.0})
    """Score floors by label (low-quality), e.g. MOS-LQO 3.0, DNSMOS-OVRL 3.0."""
    max_caller_lag_ms: float | None = 250.0
    """Worst event-loop lag of the caller itself during the call beyond which its figures
    (delay, damage) say more about the caller than about the far end (inconclusive)."""
    reference_known: bool = True
    """False for `--far-end unknown`: no content checks, silence and one-way only."""


OFF = Thresholds(
    min_mos=None, min_correlation=None, min_content_lqo=None, max_silent_share=None,
    max_delay_ms=None, min_scores={}, max_caller_lag_ms=None,
)  # fmt: skip
"""Every check disabled (what a call fails then: not running, or no audio at all)."""


@dataclass(frozen=True)
class Failure:
    """One failed check, its reason code and why, in words."""

    check: str
    """"call" (it did not run), "caller" (the caller lagged: figures unreliable), "media",
    "silence", "reference", "correlation", "delay", "mos" or "score"."""
    reason: str
    code: str = INCONCLUSIVE


@dataclass(frozen=True)
class Measured:
    """What was measured of a call that ran: E-model estimate and audio comparison."""

    quality: Quality
    audio: AudioComparison | None
    received_silent: bool


@dataclass(frozen=True)
class Verdict:
    """The outcome of one call: its figures, its scores and every check it failed."""

    failures: tuple[Failure, ...]
    quality: Quality | None
    """E-model estimate; None when the call did not run."""
    audio: AudioComparison | None
    """Received audio against the reference; None without a reference or when the call failed."""
    scores: tuple[Score, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def errored(self) -> bool:
        """The call did not run, or could not be measured (not a quality failure)."""
        return any(f.check in ("call", "caller") or f.code == INCONCLUSIVE for f in self.failures)


def measure(
    call: CallFigures, *, reference: Pcm | None, received: Pcm | None, echo: bool
) -> Measured:
    """Compare the received audio with the reference (if any) and estimate the E-model."""
    heard = received if received is not None else np.zeros(0, np.int16)
    audio = None if reference is None else compare(reference, heard)
    quality = estimate(_one_way_ms(call.stats, audio, echo), 100 * _heard_loss(call.stats, echo))
    return Measured(quality, audio, not has_signal(heard))


def not_run(call: CallFigures) -> Verdict | None:
    """The verdict of a call that did not run (no-media); None when it ran.

    A connected call whose audio did not flow both ways ran (the dialer gives it an error):
    `judge` tells no-media from one-way.
    """
    one_way = call.connected and not (call.frames_received and call.frames_sent)
    if (call.error is None and call.connected) or one_way:
        return None
    reason = call.error or "the call never connected"
    logger.info("call=%s failed: %s", call.call_id, reason)
    return Verdict((Failure("call", reason, NO_MEDIA),), None, None)


def judge_call(
    call: CallFigures,
    thresholds: Thresholds,
    *,
    reference: Pcm | None = None,
    received: Pcm | None = None,
    echo: bool = False,
    caller_lag_ms: float | None = None,
) -> Verdict:
    """Measure and judge one finished call, with the network score only."""
    verdict = not_run(call)
    if verdict is not None:
        return verdict
    measured = measure(call, reference=reference, received=received, echo=echo)
    scores = (network_score(measured.quality),)
    return judge(call, measured, thresholds, scores=scores, caller_lag_ms=caller_lag_ms)


def judge(
    call: CallFigures,
    measured: Measured,
    thresholds: Thresholds,
    *,
    scores: tuple[Score, ...] = (),
    caller_lag_ms: float | None = None,
) -> Verdict:
    """Hold the figures and scores of a call that ran against the thresholds."""
    failures = _media(call)
    if not any(f.code == NO_MEDIA for f in failures):
        failures += _caller(thresholds, caller_lag_ms)
        failures += _heard(measured, thresholds, scores)
    failures += _network(measured.quality, thresholds)
    for failure in failures:
        logger.info("call=%s failed %s (%s): %s", call.call_id, failure.check, failure.code,
                    failure.reason)  # fmt: skip
    return Verdict(tuple(failures), measured.quality, measured.audio, scores)


def _media(call: CallFigures) -> list[Failure]:
    """no-media when nothing arrived; one-way when ours did not go out or never reached."""
    if call.frames_received == 0:
        return [Failure("media", "no audio arrived from the far end", NO_MEDIA)]
    if call.frames_sent == 0:
        return [Failure("media", "this side sent no audio: it flowed one way only", ONE_WAY)]
    stats = call.stats
    unreported = stats.rtt_ms is None and stats.remote_packets_lost is None
    if unreported and stats.packets_sent >= RTCP_GRACE_PACKETS:
        return [
            Failure(
                "media",
                f"the far end never reported receiving any of our {stats.packets_sent} packets "
                "(no RTCP receiver report): audio flowed one way only",
                ONE_WAY,
            )
        ]
    return []


def _caller(thresholds: Thresholds, lag_ms: float | None) -> list[Failure]:
    limit = thresholds.max_caller_lag_ms
    if limit is None or lag_ms is None or lag_ms <= limit:
        return []
    reason = (
        f"the caller's own event loop lagged {lag_ms:.0f} ms (> {limit:.0f} ms): "
        "its delay and damage figures are unreliable"
    )
    return [Failure("caller", reason, INCONCLUSIVE)]


def _heard(measured: Measured, t: Thresholds, scores: tuple[Score, ...]) -> list[Failure]:
    """far-end-silent, then (the far end being heard) content, delay and score floors."""
    audio = measured.audio
    if measured.received_silent:
        return [Failure("silence", "nothing but silence was received", FAR_END_SILENT)]
    if not t.reference_known:
        return _floors(scores, t)
    if audio is None or audio.reference_silent:
        why = "no reference signal: the reference is silent" if audio else "no reference"
        return [Failure("reference", why, INCONCLUSIVE)]
    silent = audio.silent_share or 0.0
    if t.max_silent_share is not None and silent > t.max_silent_share:
        reason = (
            f"{100 * silent:.0f} % of the windows where the reference speaks were received "
            f"silent or missing (> {100 * t.max_silent_share:.0f} %)"
        )
        return [Failure("silence", reason, FAR_END_SILENT)]
    wrong = _content(audio, find(scores, MOS_LQO), t)
    if wrong:
        return wrong
    return _delay(audio, t.max_delay_ms) + _floors(scores, t)


def _content(audio: AudioComparison, lqo: Score | None, t: Thresholds) -> list[Failure]:
    failures = []
    correlation = audio.correlation or 0.0
    if t.min_correlation is not None and correlation < t.min_correlation:
        reason = (
            f"correlation {correlation:.2f} < {t.min_correlation:.2f} with the reference "
            f"({100 * (audio.silent_share or 0.0):.0f} % of windows silent or missing)"
        )
        failures.append(Failure("correlation", reason, WRONG_CONTENT))
    value = None if lqo is None else lqo.value
    if t.min_content_lqo is not None and value is not None and value < t.min_content_lqo:
        reason = f"MOS-LQO {value:.2f} < {t.min_content_lqo:.2f}: not the reference's content"
        failures.append(Failure("score", reason, WRONG_CONTENT))
    return failures


def _delay(audio: AudioComparison, maximum: float | None) -> list[Failure]:
    if maximum is None:
        return []
    if audio.delay_ms is None:
        return [Failure("delay", "no delay measured", INCONCLUSIVE)]
    if audio.delay_ms <= maximum:
        return []
    return [Failure("delay", f"delay {audio.delay_ms:.0f} ms > {maximum:.0f} ms", TOO_LATE)]


def _floors(scores: tuple[Score, ...], t: Thresholds) -> list[Failure]:
    """low-quality for each computed score under its floor (uncomputed ones are not judged)."""
    failures = []
    for label, minimum in t.min_scores.items():
        score = find(scores, label)
        if score is None or score.value is None or score.value >= minimum:
            continue
        reason = f"{label} {score.value:.2f} < {minimum:.2f} ({score.kind})"
        failures.append(Failure("score", reason, LOW_QUALITY))
    return failures


def _network(quality: Quality, t: Thresholds) -> list[Failure]:
    if t.min_mos is None or quality.mos >= t.min_mos:
        return []
    reason = (
        f"MOS-CQE {quality.mos:.2f} < {t.min_mos:.2f} (R {quality.r:.1f}: "
        f"{quality.loss_percent:.1f} % loss, {quality.one_way_ms:.0f} ms one way)"
    )
    return [Failure("mos", reason, LOW_QUALITY)]


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

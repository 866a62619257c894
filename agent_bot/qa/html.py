"""A QA run as one self-contained HTML file: the summary, a row per call, and plots.

Built from the JSON report (`{"calls": [...], "summary": {...}}`, what `--report` writes) and
the aligned audio of the failed calls. Plots are matplotlib figures embedded as PNG data, so
the file opens anywhere without a network.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from agent_bot.media.frames import SAMPLE_RATE, Pcm

NETWORK_LABEL = "MOS-CQE"
"""The label a report without `scores` gets for its E-model MOS (`verdict.quality.mos`)."""
MAX_CALLS_PLOTTED = 60
"""Calls drawn in the over-the-call plots: more lines than this are unreadable."""
ENVELOPE_POINTS = 2000

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; } th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f4f4f4; } td.num { text-align: right; }
tr.failed td { background: #fdecea; } tr.errored td { background: #fff6e0; }
.summary td:first-child { font-weight: 600; } img { max-width: 100%; }
.verdict-passed { color: #17692f; } .verdict-failed { color: #b3261e; }
"""


def write_html(
    path: Path, report: dict[str, Any], failed_audio: dict[str, tuple[Pcm, Pcm]]
) -> None:
    """Write the run's HTML report to `path`.

    `failed_audio`: each failed call's (reference, received) audio, mono int16 at 48 kHz,
    aligned as the capture is; its waveforms are drawn against each other.
    """
    path.write_text(render(report, failed_audio), encoding="utf-8")


def render(report: dict[str, Any], failed_audio: dict[str, tuple[Pcm, Pcm]]) -> str:
    """The HTML report as text."""
    calls: list[dict[str, Any]] = report.get("calls", [])
    summary: dict[str, Any] = report.get("summary", {})
    labels = score_labels(calls)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>agent-bot QA report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>agent-bot QA report</h1>",
        _summary_table(summary, calls),
        "<h2>Calls</h2>",
        _calls_table(calls, labels),
        "<h2>Plots</h2>",
        _image(mos_figure(calls, labels), "Distribution of each MOS kind"),
        _image(setup_figure(calls), "Call set-up time, cumulative distribution"),
        _image(windows_figure(calls), "Delay and correlation over each call"),
    ]
    failed = [c for c in calls if not _passed(c)]
    if failed:
        parts.append("<h2>Failed calls</h2>")
    for call in failed:
        call_id = str(call.get("call_id"))
        parts.append(f'<h3 id="failed-{html.escape(call_id)}">{html.escape(call_id)}</h3>')
        parts.append(f"<p>{html.escape(_reasons(call, long=True)) or 'no reason given'}</p>")
        if call_id in failed_audio:
            reference, received = failed_audio[call_id]
            parts.append(
                _image(
                    waveform_figure(reference, received), f"Received against reference, {call_id}"
                )
            )
    parts.append("</body></html>")
    return "\n".join(parts)


# --- data ----------------------------------------------------------------------------------


def score_labels(calls: Iterable[dict[str, Any]]) -> list[str]:
    """The labels of the scores the calls carry, in first-seen order."""
    labels: dict[str, None] = {}
    for call in calls:
        for label in call_scores(call):
            labels.setdefault(label, None)
    return list(labels)


def call_scores(call: dict[str, Any]) -> dict[str, float | None]:
    """A call's scores by label (`verdict.scores`; else the E-model MOS of `verdict.quality`)."""
    verdict = call.get("verdict") or {}
    scores = verdict.get("scores")
    if scores is not None:
        return {str(s.get("label") or s.get("kind")): s.get("value") for s in scores}
    quality = verdict.get("quality")
    return {NETWORK_LABEL: None if quality is None else quality.get("mos")}


def _passed(call: dict[str, Any]) -> bool:
    return bool((call.get("verdict") or {}).get("passed"))


def _errored(call: dict[str, Any]) -> bool:
    failures = (call.get("verdict") or {}).get("failures") or []
    return any(f.get("check") in ("call", "caller") for f in failures)


def _reasons(call: dict[str, Any], *, long: bool = False) -> str:
    failures = (call.get("verdict") or {}).get("failures") or []
    if long:
        return "; ".join(f"{f.get('code') or f.get('check')}: {f.get('reason')}" for f in failures)
    return ", ".join(str(f.get("code") or f.get("check")) for f in failures)


def _audio(call: dict[str, Any]) -> dict[str, Any]:
    return (call.get("verdict") or {}).get("audio") or {}


# --- tables --------------------------------------------------------------------------------


def _number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def _summary_table(summary: dict[str, Any], calls: Sequence[dict[str, Any]]) -> str:
    total = summary.get("calls", len(calls))
    passed = summary.get("passed", sum(_passed(c) for c in calls))
    setup = summary.get("setupMs") or {}
    rows = [
        ("Calls", str(total)),
        ("Passed", f"{passed} ({100 * passed / total:.0f} %)" if total else "0"),
        ("Failed", str(summary.get("failed", "–"))),
        ("Errors", str(summary.get("errors", "–"))),
        ("Set-up p50 / p90 (ms)", f"{_number(setup.get('p50'))} / {_number(setup.get('p90'))}"),
    ]
    rows += [(f"Rule: {rule.get('rule')}", _rule_text(rule)) for rule in summary.get("rules", [])]
    verdict = "passed" if _run_passed(summary, total, passed) else "failed"
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f'<p class="verdict-{verdict}">Run {verdict}.</p><table class="summary">{body}</table>'


def _run_passed(summary: dict[str, Any], total: int, passed: int) -> bool:
    """The run's rules decide (`--min-pass-rate` and the percentiles); without any, every
    call must have passed."""
    rules = summary.get("rules") or []
    if rules:
        return all(rule.get("passed", False) for rule in rules)
    return bool(total) and passed == total


def _rule_text(rule: dict[str, Any]) -> str:
    state = "passed" if rule.get("passed", True) else "FAILED"
    return f"{state}: {rule.get('reason') or rule.get('message') or ''}".rstrip(": ")


def _calls_table(calls: Sequence[dict[str, Any]], labels: Sequence[str]) -> str:
    head = ["#", "call", "result", "reasons", "set-up (ms)", "first audio (ms)", *labels,
            "delay (ms)", "correlation", "end"]  # fmt: skip
    rows = []
    for index, call in enumerate(calls, start=1):
        setup = call.get("setup_ms") or {}
        scores = call_scores(call)
        audio = _audio(call)
        status = "passed" if _passed(call) else ("errored" if _errored(call) else "failed")
        cells = [
            str(index),
            str(call.get("call_id")),
            status,
            _reasons(call),
            _number(setup.get("connected")),
            _number(setup.get("first_audio_in")),
            *(_number(scores.get(label), 2) for label in labels),
            _number(audio.get("delayMs")),
            _number(audio.get("correlation"), 2),
            str(call.get("end_reason") or ""),
        ]
        tds = "".join(
            f"<td{' class=num' if i >= 4 else ''}>{html.escape(cell)}</td>"
            for i, cell in enumerate(cells)
        )
        rows.append(f'<tr class="call {status}">{tds}</tr>')
    ths = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return (
        f'<table class="calls"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


# --- plots ---------------------------------------------------------------------------------


def _image(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    text = html.escape(alt)
    return (
        f'<figure><img class="plot" alt="{text}" src="data:image/png;base64,{data}">'
        f"<figcaption>{text}</figcaption></figure>"
    )


def _empty(axes: Any, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def mos_figure(calls: Sequence[dict[str, Any]], labels: Sequence[str]) -> Figure:
    """One histogram per MOS kind, over 1–5."""
    shown = list(labels) or [NETWORK_LABEL]
    figure = Figure(figsize=(4 * len(shown), 3))
    for i, label in enumerate(shown):
        axes = figure.add_subplot(1, len(shown), i + 1)
        values = [v for c in calls if (v := call_scores(c).get(label)) is not None]
        if values:
            axes.hist(
                values, bins=[1 + 0.25 * i for i in range(17)], color="#4a78b5", edgecolor="white"
            )
        else:
            _empty(axes, "no value")
        axes.set_title(f"{label} (n={len(values)})")
        axes.set_xlim(1, 5)
        axes.set_xlabel("MOS")
    axes_left = figure.axes[0]
    axes_left.set_ylabel("calls")
    return figure


def setup_figure(calls: Sequence[dict[str, Any]]) -> Figure:
    """Cumulative distribution of request → connected and → first audio in."""
    figure = Figure(figsize=(6, 3))
    axes = figure.add_subplot()
    drawn = False
    for milestone, name in (("connected", "connected"), ("first_audio_in", "first audio in")):
        values = sorted(
            v for c in calls if (v := (c.get("setup_ms") or {}).get(milestone)) is not None
        )
        if values:
            share = np.arange(1, len(values) + 1) / len(values)
            axes.step(values, share, where="post", label=f"request → {name}")
            drawn = True
    if drawn:
        axes.set_xlabel("ms")
        axes.set_ylabel("share of calls")
        axes.set_ylim(0, 1.02)
        axes.legend(loc="lower right")
    else:
        _empty(axes, "no call connected")
    return figure


def windows_figure(calls: Sequence[dict[str, Any]]) -> Figure:
    """Each call's 1-s windows: correlation and delay (lag) over the call."""
    figure = Figure(figsize=(10, 4))
    correlation, lag = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    drawn = 0
    for call in calls[:MAX_CALLS_PLOTTED]:
        windows = _audio(call).get("windows") or []
        if not windows:
            continue
        start = [w["startS"] for w in windows]
        colour = "#4a78b5" if _passed(call) else "#b3261e"
        correlation.plot(start, [w["correlation"] for w in windows], color=colour, alpha=0.6)
        lags = [
            (s, w["lagMs"]) for s, w in zip(start, windows, strict=True) if w["lagMs"] is not None
        ]
        if lags:
            lag.plot(*zip(*lags, strict=True), color=colour, alpha=0.6)
        drawn += 1
    if not drawn:
        _empty(correlation, "no windows (no reference or no audio)")
        _empty(lag, "no windows")
        return figure
    correlation.set_title(f"correlation per window ({drawn} calls; failed in red)")
    correlation.set_xlabel("s into the call")
    correlation.set_ylim(-0.1, 1.05)
    lag.set_title("delay per window")
    lag.set_xlabel("s into the call")
    lag.set_ylabel("ms")
    return figure


def envelope(pcm: Pcm, points: int = ENVELOPE_POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time s, min, max) of `pcm` in `points` buckets, for drawing a long signal."""
    samples = pcm.astype(np.float32) / 32768.0
    if len(samples) == 0:
        empty = np.zeros(0, np.float32)
        return empty, empty, empty
    size = max(1, len(samples) // points)
    usable = (len(samples) // size) * size or len(samples)
    buckets = samples[:usable].reshape(-1, size) if usable >= size else samples.reshape(1, -1)
    seconds = np.arange(len(buckets)) * size / SAMPLE_RATE
    return seconds, buckets.min(axis=1), buckets.max(axis=1)


def waveform_figure(reference: Pcm, received: Pcm) -> Figure:
    """The received audio drawn over the reference, both as envelopes."""
    figure = Figure(figsize=(10, 3))
    axes = figure.add_subplot()
    for pcm, name, colour in (
        (reference, "reference", "#9aa7b8"),
        (received, "received", "#b3261e"),
    ):
        seconds, low, high = envelope(pcm)
        if len(seconds):
            axes.fill_between(seconds, low, high, color=colour, alpha=0.6, label=name, linewidth=0)
    axes.set_xlabel("s")
    axes.set_ylim(-1, 1)
    axes.legend(loc="upper right")
    return figure

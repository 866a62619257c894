"""The QA flags of `agent-bot call`: thresholds (defaults with teeth), scoring, run rules,
outputs; and the checks of bad input that make a usage error (exit 2) before any call."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.media.sources import SourceError, decode
from agent_bot.qa.listening import MIN_SECONDS
from agent_bot.qa.replay import Outputs, ReplayPlan
from agent_bot.qa.rules import RunRules
from agent_bot.qa.score import LABELS, MOS_CQE, MOS_LQO
from agent_bot.qa.scoring import SCORERS
from agent_bot.qa.verdict import Thresholds

DEFAULTS = Thresholds()
SCORING = {
    "auto": "listening against a known reference, DNSMOS and PLCMOS for --far-end unknown",
    "all": "every scorer that applies",
    "off": "the network score only",
}


def limit(text: str) -> float | None:
    """A number, or `off` (None: the check is disabled)."""
    if text.lower() == "off":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number (or off): {text!r}") from None


def labelled(text: str) -> tuple[str, float | None]:
    """`LABEL=VALUE` (VALUE a number or off), LABEL one of the score labels."""
    label, _, value = text.partition("=")
    if label not in LABELS or not value:
        raise argparse.ArgumentTypeError(f"expected LABEL=VALUE, LABEL one of {', '.join(LABELS)}")
    return label, limit(value)


def share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {text}")
    return value


def add_arguments(call: argparse.ArgumentParser) -> None:
    """The QA flags, on the `call` subcommand's parser."""
    out = call.add_argument_group("QA outputs")
    out.add_argument("--report", type=Path, help="write the JSON report here")
    out.add_argument("--junit", type=Path, help="write a JUnit XML file here (a case per call)")
    out.add_argument("--html", type=Path, metavar="FILE", help="write the HTML report here")
    out.add_argument(
        "--keep-failed", type=Path, metavar="DIR",
        help="for each failed call write ID.wav (left received, right reference), "
        "ID.windows.json and ID.json into DIR",
    )  # fmt: skip
    far = call.add_argument_group("far end")
    far.add_argument(
        "--expect", type=Path, metavar="FILE",
        help="what the far end plays (default: the far end echoes what this side sends)",
    )  # fmt: skip
    far.add_argument(
        "--far-end", choices=("echo", "unknown"), default="echo",
        help="echo: the reference is what this side sent (or --expect); unknown: no "
        "reference (a live agent): only silence, one-way audio and scores are judged",
    )  # fmt: skip
    checks = call.add_argument_group("call checks (a number, or off)")
    t = DEFAULTS
    for flag, default, what in (
        ("--min-mos", t.min_mos, "low-quality under this network MOS-CQE (E-model)"),
        ("--min-correlation", t.min_correlation, "wrong-content under this mean correlation"),
        ("--min-content-lqo", t.min_content_lqo, "wrong-content under this MOS-LQO"),
        ("--max-silent-share", t.max_silent_share,
         "far-end-silent when more of the reference's speaking windows arrive silent"),
        ("--max-delay-ms", t.max_delay_ms, "too-late over this audio delay (echo: round trip)"),
        ("--max-caller-lag-ms", t.max_caller_lag_ms,
         "inconclusive when this process's own event loop lagged more (too loaded to measure)"),
    ):  # fmt: skip
        shown = "off" if default is None else f"{default:g}"
        checks.add_argument(flag, type=limit, default=default, metavar="X",
                            help=f"{what} (default {shown})")  # fmt: skip
    checks.add_argument(
        "--min-score", type=labelled, action="append", default=[], metavar="LABEL=X",
        help=f"low-quality under this score, repeatable; labels {', '.join(LABELS)} "
        f"(default {MOS_LQO}={t.min_scores[MOS_LQO]}; {MOS_CQE} is --min-mos)",
    )  # fmt: skip
    scoring = call.add_argument_group("scoring")
    scoring.add_argument(
        "--scoring", choices=tuple(SCORING), default="auto",
        help="; ".join(f"{k}: {v}" for k, v in SCORING.items()) + " (default auto)",
    )  # fmt: skip
    scoring.add_argument("--scoring-workers", type=int, default=1, metavar="N",
                         help="scoring processes (default 1)")  # fmt: skip
    scoring.add_argument(
        "--capture-seconds", type=float, default=30.0,
        help="seconds of each call kept in memory for the audio checks and scores",
    )  # fmt: skip
    run = call.add_argument_group("run rules (the exit status follows them)")
    run.add_argument("--min-pass-rate", type=share, default=1.0, metavar="R",
                     help="share of calls that must pass (default 1: all)")  # fmt: skip
    run.add_argument("--max-p95-setup-ms", type=float, metavar="MS",
                     help="p95 of request-to-connected times must not exceed MS")  # fmt: skip
    run.add_argument(
        "--min-p5-score", type=labelled, action="append", default=[], metavar="LABEL=X",
        help="p5 of this score over the calls must be at least X, repeatable "
        "(e.g. MOS-LQO=3.5)",
    )  # fmt: skip


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Bad input as usage errors: unwritable outputs, unreadable or too short samples."""
    for flag in ("report", "junit", "html"):
        path: Path | None = getattr(args, flag)
        if path is not None and (path.is_dir() or not os.access(path.parent, os.W_OK)):
            parser.error(f"--{flag} {path}: cannot write to {path}")
    if args.keep_failed is not None:
        try:
            args.keep_failed.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"--keep-failed {args.keep_failed}: {exc.strerror}")
        if not os.access(args.keep_failed, os.W_OK):
            parser.error(f"--keep-failed {args.keep_failed}: cannot write there")
    if args.far_end == "unknown" and args.expect is not None:
        parser.error("--expect gives the far end's content: it does not go with --far-end unknown")
    if args.scoring_workers < 1:
        parser.error("--scoring-workers must be at least 1")
    if not args.capture_seconds > 0:
        parser.error("--capture-seconds must be a positive number")
    sample = args.expect if args.expect is not None else (None if args.loop else args.play)
    if sample is not None and "listening" in scorers(args, reference=True):
        try:
            seconds = len(decode(sample)) / SAMPLE_RATE
        except SourceError as exc:
            parser.error(str(exc))
        if seconds < MIN_SECONDS:
            parser.error(
                f"{sample}: {seconds:.1f} s is too short to score (ViSQOL needs at least "
                f"{MIN_SECONDS:g} s; give a longer sample, --loop, or --scoring off)"
            )


def scorers(args: argparse.Namespace, *, reference: bool) -> tuple[str, ...]:
    if args.scoring == "off":
        return ()
    if args.scoring == "all":
        return tuple(SCORERS)
    return ("listening",) if reference else ("dnsmos", "plcmos")


def thresholds(args: argparse.Namespace) -> Thresholds:
    floors = {**DEFAULTS.min_scores, **dict(args.min_score)}
    min_mos = floors.pop(MOS_CQE, args.min_mos)
    return Thresholds(
        min_mos=min_mos,
        min_correlation=args.min_correlation,
        min_content_lqo=args.min_content_lqo,
        max_silent_share=args.max_silent_share,
        max_delay_ms=args.max_delay_ms,
        min_scores={label: value for label, value in floors.items() if value is not None},
        max_caller_lag_ms=args.max_caller_lag_ms,
        reference_known=args.far_end != "unknown",
    )


def replay_plan(args: argparse.Namespace, expect: Pcm | None) -> ReplayPlan:
    """The replay's plan from the flags; `expect` the decoded `--expect` file (or None)."""
    rules = RunRules(
        min_pass_rate=args.min_pass_rate,
        max_p95_setup_ms=args.max_p95_setup_ms,
        min_p5_scores={label: value for label, value in args.min_p5_score if value is not None},
    )
    known = args.far_end != "unknown"
    return ReplayPlan(
        thresholds=thresholds(args),
        rules=rules,
        expect=expect,
        echo=known,
        scorers=scorers(args, reference=known),
        scoring_workers=args.scoring_workers,
        capture_seconds=args.capture_seconds,
    )


def outputs(args: argparse.Namespace) -> Outputs:
    return Outputs(args.report, args.junit, args.html, args.keep_failed)

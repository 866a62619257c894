"""The `agent-bot` command line: its parser, the types of its flag values, and the flag
combinations argparse cannot express."""

from __future__ import annotations

import argparse
import os
import urllib.parse
from pathlib import Path

from aiortc import RTCIceServer

from agent_bot.admission import Limits
from agent_bot.calloptions import CallOptions
from agent_bot.ice import rtc_ice_servers
from agent_bot.qa import options as qa_options
from agent_bot.sound import add_processing_flags
from agent_bot.workers import default_workers
from signaling_server.iceservers import parse_ice_url


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def port_number(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {value}")
    return value


def server_urls(text: str) -> list[str]:
    """Comma-separated http(s)://HOST[:PORT] URLs: the nodes of one signaling deployment."""
    urls = [url.strip() for url in text.split(",")]
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise argparse.ArgumentTypeError(f"{url!r} is not an http(s)://HOST[:PORT] URL")
        try:
            parts.port  # noqa: B018 (raises ValueError for a bad port)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{url!r}: {exc}") from None
    return urls


def ice_server(text: str) -> RTCIceServer:
    """`stun:host:port` or `turn:user:password@host:port[?transport=udp|tcp]` (one parser
    with the server's, `signaling_server.iceservers`)."""
    try:
        [server] = rtc_ice_servers([parse_ice_url(text)])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return server


def build_parser(description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-bot", description=description)
    parser.add_argument(
        "--log-level",
        default=os.environ.get("AGENT_BOT_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    answer = commands.add_parser("answer", help="register as an agent and take calls")
    add_common(answer)
    add_agent_flags(answer)
    answer.add_argument("--max-calls", type=positive_int, default=1, help="calls at once")
    answer.add_argument(
        "--manual", action="store_true", help="do not auto-accept: accept/reject from the console"
    )
    answer.add_argument(
        "--workers",
        type=positive_int,
        nargs="?",
        const=default_workers(),
        metavar="W",
        help="run W worker processes behind one name (no W: one per core)",
    )
    answer.add_argument(
        "--max-lag-ms",
        type=positive_float,
        default=Limits.max_lag_ms,
        help="stop taking calls while the event loop lags more than this (ms)",
    )
    answer.add_argument(
        "--max-cpu",
        type=positive_float,
        default=Limits.max_cpu_percent,
        help="stop taking calls while the process uses more CPU (percent of one core)",
    )

    desk = commands.add_parser("desk", help="the agent desk: take calls from a terminal UI")
    add_common(desk)
    add_agent_flags(desk)
    from agent_bot.desk.cli import add_arguments  # noqa: PLC0415 (the desk's own flags)

    add_arguments(desk)

    call = commands.add_parser("call", help="place calls as a customer")
    add_common(call)
    call.add_argument("--name", default="agent-bot-caller", help="customer name")
    call.add_argument(
        "--duration",
        type=positive_float,
        help="seconds each call lasts once connected (default: the sample's end)",
    )
    call.add_argument("--calls", type=positive_int, default=1, help="calls in all")
    call.add_argument("--concurrency", type=positive_int, default=1, help="calls at once")
    call.add_argument("--ramp", type=positive_float, help="calls started per second at most")
    call.add_argument(
        "--agent-offers", action="store_true", help="let the agent send the WebRTC offer"
    )
    qa_options.add_arguments(call)

    commands.add_parser("devices", help="list the sound devices")
    return parser


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        type=server_urls,
        default=os.environ.get("AGENT_BOT_SERVER", "http://127.0.0.1:8080"),
        metavar="URL[,URL...]",
        help="signaling server URL; several (comma-separated): the nodes of one deployment, "
        "tried in turn when the one in use goes away (env AGENT_BOT_SERVER)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--play", type=Path, metavar="FILE", help="send this audio file")
    source.add_argument("--tone", type=positive_float, metavar="HZ", help="send a sine tone")
    source.add_argument("--silence", action="store_true", help="send silence")
    source.add_argument("--echo", action="store_true", help="send back what is received")
    source.add_argument(
        "--mic",
        nargs="?",
        const="",
        metavar="DEVICE",
        help="send this input device (index or name part; no DEVICE: the system default), "
        "with echo cancellation, noise suppression and gain",
    )
    add_processing_flags(parser)
    parser.add_argument("--loop", action="store_true", help="with --play: loop the file")
    parser.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="record each call as a stereo WAV in DIR (left: in, right: out)",
    )
    parser.add_argument(
        "--ice-server",
        type=ice_server,
        action="append",
        default=[],
        metavar="URL",
        help="STUN/TURN server, repeatable; given, it replaces those the signaling server "
        "sends with each call (default: the server's; none on loopback)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=positive_float,
        default=CallOptions.connect_timeout,
        metavar="S",
        help="end a call whose media has not connected S seconds after it was accepted "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--media-timeout",
        type=positive_float,
        default=CallOptions.media_timeout,
        metavar="S",
        help="end a connected call when no audio arrives for S seconds (default %(default)s)",
    )
    parser.add_argument(
        "--metrics-port",
        type=port_number,
        metavar="PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (with --workers, worker i "
        "on PORT+i; default: none)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address the metrics are served on (default %(default)s)",
    )


def add_agent_flags(parser: argparse.ArgumentParser) -> None:
    """What `answer` and `desk` share beyond the common flags."""
    parser.add_argument(
        "--token",
        default=os.environ.get("SIGNALING_AGENT_TOKEN"),
        help="agent token (env SIGNALING_AGENT_TOKEN)",
    )
    parser.add_argument("--name", default="agent-bot", help="agent name shown to callers")
    parser.add_argument(
        "--speaker",
        nargs="?",
        const="",
        metavar="DEVICE",
        help="play the call in focus on this output device (index or name part; "
        "no DEVICE: the system default)",
    )
    parser.add_argument(
        "--hold-audio",
        type=Path,
        metavar="FILE",
        help="what a held customer hears, looped (default: a quiet generated tone pattern)",
    )
    parser.add_argument(
        "--wrap-up",
        type=positive_float,
        metavar="S",
        help="after each call, wrap-up (no calls offered) for S seconds or until ready",
    )


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Flag combinations argparse cannot express."""
    if args.loop and args.play is None:
        parser.error("--loop goes with --play")
    if args.command == "call":
        ends = args.play is not None and not args.loop
        if args.duration is None and not ends:
            parser.error("--duration is required unless --play FILE (without --loop) is given")
    if args.command == "call":
        qa_options.check(parser, args)
    if args.record is not None:
        try:
            args.record.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"--record {args.record}: {exc.strerror}")

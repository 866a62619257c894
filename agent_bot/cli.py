"""`agent-bot answer | call | devices`: flags and environment → a running agent or dialer."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from aiortc import RTCIceServer

from agent_bot.admission import Limits
from agent_bot.agent import Agent
from agent_bot.calloptions import CallOptions
from agent_bot.console import Console, stdin_reader
from agent_bot.dialer import Dialer, DialPlan
from agent_bot.ice import rtc_ice_servers
from agent_bot.media.frames import Pcm, Source
from agent_bot.media.sources import (
    EchoSource,
    FileSource,
    SilenceSource,
    SourceError,
    ToneSource,
    decode,
)
from agent_bot.metrics import BotMetrics, MetricsError
from agent_bot.qa import options as qa_options
from agent_bot.qa.progress import Progress
from agent_bot.qa.replay import Replay
from agent_bot.signaling import SignalingError
from agent_bot.sound import Sound, add_processing_flags, open_sound
from agent_bot.workers import Supervisor, default_workers, pin_to_core, worker_index
from signaling_server.iceservers import parse_ice_url

logger = logging.getLogger("agent_bot")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-bot", description=__doc__)
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


def hold_source(args: argparse.Namespace) -> Source | None:
    """`--hold-audio FILE` as a looped source; None: the generated pattern."""
    path: Path | None = getattr(args, "hold_audio", None)
    return None if path is None else FileSource(path, loop=True)


def port_number(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {value}")
    return value


def start_metrics(args: argparse.Namespace) -> BotMetrics | None:
    """`--metrics-port`: the bot's metrics, served; None without the flag."""
    if args.metrics_port is None:
        return None
    metrics = BotMetrics()
    metrics.serve(args.metrics_host, args.metrics_port + (worker_index() or 0))
    return metrics


def make_source(args: argparse.Namespace, sound: Sound | None) -> Source:
    """The source the flags ask for; raises `SourceError` for an unreadable file."""
    if args.play is not None:
        return FileSource(args.play, loop=args.loop)
    if args.tone is not None:
        return ToneSource(args.tone)
    if args.echo:
        return EchoSource()
    if sound is not None and sound.microphone is not None:
        return sound.microphone
    if args.command == "answer" and not args.silence:
        logger.info("no source given and no sound device in use: sending silence")
    return SilenceSource()


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


def make_agent(
    args: argparse.Namespace,
    options: CallOptions,
    *,
    max_calls: int,
    auto_accept: bool,
    limits: Limits | None = None,
) -> Agent:
    """The agent the flags ask for (`answer`, `desk`), its metrics served with `--metrics-port`."""
    metrics = start_metrics(args)
    agent = Agent(
        args.server,
        options,
        token=args.token,
        name=args.name,
        max_calls=max_calls,
        auto_accept=auto_accept,
        limits=limits,
        on_call_end=None if metrics is None else metrics.call_ended,
        wrap_up=args.wrap_up,
    )
    if metrics is not None:
        metrics.watch(lambda: agent.calls_in_progress, agent.admission)
    return agent


async def run_answer(args: argparse.Namespace, options: CallOptions, sound: Sound | None) -> int:
    limits = Limits(
        max_lag_ms=args.max_lag_ms,
        max_cpu_percent=args.max_cpu,
        resume_lag_ms=min(Limits.resume_lag_ms, args.max_lag_ms / 2),
        resume_cpu_percent=min(Limits.resume_cpu_percent, args.max_cpu * 0.8),
    )
    agent = make_agent(
        args, options, max_calls=args.max_calls, auto_accept=not args.manual, limits=limits
    )
    if sound is None:
        return await serve(agent, manual=args.manual)
    options.speaker = sound.speaker
    sound.engine.start()
    try:
        return await serve(agent, manual=args.manual)
    finally:
        sound.engine.close()


async def serve(agent: Agent, *, manual: bool) -> int:
    """Take calls until SIGINT/SIGTERM, then hang up every call."""
    try:
        await agent.start()
    except SignalingError as exc:
        logger.error("cannot register as an agent: %s", exc.message)
        return 1
    console = None
    if manual:
        console = asyncio.create_task(Console(agent).run(await stdin_reader()))
    await wait_for_signal()
    if console is not None:
        console.cancel()
    logger.info("stopping: hanging up %d calls", len(agent.calls))
    await agent.stop()
    return 0


async def run_call(args: argparse.Namespace, options: CallOptions, expect: Pcm | None) -> int:
    plan = DialPlan(
        calls=args.calls,
        concurrency=args.concurrency,
        ramp=args.ramp,
        duration=args.duration,
        agent_offers=args.agent_offers,
        name=args.name,
    )
    replay = Replay(
        qa_options.replay_plan(args, expect), Progress(args.calls), qa_options.outputs(args)
    )
    metrics = start_metrics(args)
    dialer = Dialer(
        args.server, options, plan, observer=replay,
        on_call_end=None if metrics is None else metrics.call_ended,
    )  # fmt: skip
    if metrics is not None:
        metrics.watch(lambda: dialer.calls_in_progress)
    placing = asyncio.create_task(dialer.run())
    stop = asyncio.create_task(wait_for_signal())
    await asyncio.wait([placing, stop], return_when=asyncio.FIRST_COMPLETED)
    if not placing.done():
        logger.info("stopping: hanging up the calls in progress")
        await dialer.stop()
    stop.cancel()
    await placing
    await replay.wait()
    try:
        return replay.conclude_run()
    except OSError as exc:
        logger.error("cannot write the report: %s", exc)
        return 1


async def wait_for_signal() -> None:
    """Return on SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def list_devices() -> int:
    try:
        from agent_bot.media.devices import device_table  # noqa: PLC0415 (PortAudio on demand)
    except ImportError as exc:
        sys.stderr.write(f"agent-bot: error: {exc}\n")
        return 1
    sys.stdout.write(device_table() + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "desk":
        from agent_bot.desk.cli import prepare  # noqa: PLC0415 (Textual on demand)

        problems = prepare(args)
    else:
        logging.basicConfig(
            level=args.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    if args.command == "devices":
        return list_devices()
    check(parser, args)
    try:
        sound = open_sound(args)
        source = make_source(args, sound)
        expect = decode(args.expect) if getattr(args, "expect", None) else None
        hold = hold_source(args)
    except (SourceError, ImportError) as exc:
        parser.exit(2, f"agent-bot: error: {exc}\n")
    if args.command == "answer" and args.workers:
        index = worker_index()
        if index is None:
            source.close()
            return Supervisor(sys.argv[1:] if argv is None else argv, args.workers).run()
        pin_to_core(index)
    options = CallOptions(
        source=source,
        ice_servers=args.ice_server,
        record_dir=args.record,
        connect_timeout=args.connect_timeout,
        media_timeout=args.media_timeout,
        hold_source=hold,
    )
    try:
        if args.command == "answer":
            return asyncio.run(run_answer(args, options, sound))
        if args.command == "desk":
            from agent_bot.desk.cli import run_desk  # noqa: PLC0415 (Textual on demand)

            return run_desk(args, options, problems, sound)
        return asyncio.run(run_call(args, options, expect))
    except MetricsError as exc:
        logger.error("%s", exc)
        return 1
    finally:
        with contextlib.suppress(Exception):
            source.close()


if __name__ == "__main__":
    sys.exit(main())

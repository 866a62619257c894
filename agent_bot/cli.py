"""`agent-bot answer | call | devices`: flags and environment → a running agent or dialer."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from agent_bot.admission import Limits
from agent_bot.agent import Agent
from agent_bot.calloptions import CallOptions
from agent_bot.console import Console, stdin_reader
from agent_bot.dialer import Dialer, DialPlan
from agent_bot.flags import build_parser, check, ice_server
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
from agent_bot.sound import Sound, open_sound
from agent_bot.workers import Supervisor, pin_to_core, worker_index

# the names other modules and tests import from here (`ice_server` is `flags.py`'s)
__all__ = ["ice_server", "main", "make_agent"]

logger = logging.getLogger("agent_bot")


def hold_source(args: argparse.Namespace) -> Source | None:
    """`--hold-audio FILE` as a looped source; None: the generated pattern."""
    path: Path | None = getattr(args, "hold_audio", None)
    return None if path is None else FileSource(path, loop=True)


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
        metrics.watch(
            lambda: agent.calls_in_progress, agent.admission, speaker=lambda: options.speaker
        )
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
    parser = build_parser(__doc__)
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

"""`agent-bot desk`: its flags beyond `answer`'s, its logging, and running the app."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from agent_bot.calloptions import CallOptions
from agent_bot.cli import make_agent
from agent_bot.desk.devices import SoundDevices
from agent_bot.desk.problems import ProblemLog
from agent_bot.sound import Sound

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log", type=Path, metavar="FILE", help="write the log here (default: no log)"
    )
    parser.add_argument(
        "--no-speaker", action="store_true", help="do not play calls on a sound device"
    )
    parser.add_argument(
        "--ring-device",
        default="",
        metavar="DEVICE",
        help="ring on this output device (index or name part; default: the system's)",
    )
    parser.add_argument("--no-ring", action="store_true", help="ring silently")


def prepare(args: argparse.Namespace) -> ProblemLog:
    """Logging to `--log` only (the terminal is the UI; the app shows the problems). No
    source flag: the system's microphone; no `--speaker`: the system's output device."""
    handlers: list[logging.Handler] = [logging.NullHandler()]
    if args.log is not None:
        handlers = [logging.FileHandler(args.log)]
    problems = ProblemLog()
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT, handlers=handlers)
    sources = (args.play, args.tone, args.mic)
    if all(s is None for s in sources) and not (args.silence or args.echo):
        args.mic = ""
    if args.speaker is None and not args.no_speaker:
        args.speaker = ""
    if args.no_speaker:
        args.speaker = None
    return problems


def run_desk(
    args: argparse.Namespace, options: CallOptions, problems: ProblemLog, sound: Sound | None
) -> int:
    """Run the desk until the agent quits (`q`)."""
    from agent_bot.desk.app import DeskApp  # noqa: PLC0415 (Textual on demand)

    speaker = None if sound is None else sound.speaker
    ringer = None if sound is None else sound.ringer
    options.speaker = speaker
    microphone = None if sound is None or sound.microphone is None else sound.microphone.device
    devices = SoundDevices(None if speaker is None else speaker.device, microphone)
    agent = make_agent(args, options, max_calls=1, auto_accept=False)
    engine = None if sound is None else sound.engine
    return DeskApp(agent, problems, ringer, devices, engine).run() or 0

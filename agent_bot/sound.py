"""The bot's sound devices from its flags: one sound engine with its speaker, microphone, ring.

`--speaker` and `--mic` put their devices in a sound engine (`media.soundengine`: a child
process the bot restarts when it hangs or dies). The microphone is processed there: echo
cancellation while the speaker is in use too (not with `--headset` or `--no-aec`), noise
suppression, a high-pass filter and automatic gain (`--no-noise-suppression`, `--no-agc`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from agent_bot.media.echo import Processing

if TYPE_CHECKING:
    from agent_bot.media.enginedevice import EngineRinger
    from agent_bot.media.enginespeaker import EngineSpeaker
    from agent_bot.media.microphone import Microphone
    from agent_bot.media.soundengine import SoundEngine


def add_processing_flags(parser: argparse.ArgumentParser) -> None:
    """How the microphone is processed (with `--mic`)."""
    parser.add_argument(
        "--headset",
        action="store_true",
        help="the speaker cannot be heard by the microphone: no echo cancellation",
    )
    parser.add_argument(
        "--no-aec", action="store_true", help="no echo cancellation on the microphone"
    )
    parser.add_argument(
        "--no-noise-suppression",
        action="store_true",
        help="no noise suppression on the microphone",
    )
    parser.add_argument(
        "--no-agc", action="store_true", help="no automatic gain control on the microphone"
    )


def device_spec(text: str) -> int | str | None:
    """A device flag's value: "" the default, digits an index, else a name part."""
    if not text:
        return None
    return int(text) if text.isdigit() else text


def processing(args: argparse.Namespace) -> Processing:
    """The microphone's processing the flags ask for."""
    speaker = getattr(args, "speaker", None) is not None
    return Processing(
        echo_cancellation=speaker and not (args.headset or args.no_aec),
        noise_suppression=not args.no_noise_suppression,
        auto_gain=not args.no_agc,
    )


class Sound:
    """The sound engine the flags ask for, and the views of its devices."""

    def __init__(self, args: argparse.Namespace) -> None:
        from agent_bot.media.enginedevice import EngineCapture, EngineRinger  # noqa: PLC0415
        from agent_bot.media.enginespeaker import EngineSpeaker  # noqa: PLC0415
        from agent_bot.media.microphone import Microphone  # noqa: PLC0415
        from agent_bot.media.soundengine import SoundEngine  # noqa: PLC0415

        speaker = getattr(args, "speaker", None)
        ring = ring_device(args)
        self.engine: SoundEngine = SoundEngine(
            speaker=speaker is not None,
            speaker_spec=device_spec(speaker or ""),
            microphone=args.mic is not None,
            microphone_spec=device_spec(args.mic or ""),
            ringer=ring is not None,
            ringer_spec=device_spec(ring or ""),
            processing=processing(args),
        )
        self.speaker: EngineSpeaker | None = None if speaker is None else EngineSpeaker(self.engine)
        self.microphone: Microphone | None = (
            None if args.mic is None else Microphone(capture=EngineCapture(self.engine))
        )
        self.ringer: EngineRinger | None = None if ring is None else EngineRinger(self.engine)


def ring_device(args: argparse.Namespace) -> str | None:
    """The desk's ring device ("" the default); None: no ring (`--no-ring`, or not the desk)."""
    if getattr(args, "no_ring", True):
        return None
    return str(args.ring_device)


def open_sound(args: argparse.Namespace) -> Sound | None:
    """The flags' sound engine (not started); None when no sound device is asked for."""
    if getattr(args, "speaker", None) is None and args.mic is None and ring_device(args) is None:
        return None
    return Sound(args)

"""Evidence of failed calls (`--keep-failed DIR`): what a person needs to listen to a failure.

For each failed call exactly three files, named after the call id:
`ID.wav` (two channels, 48 kHz 16-bit: left what was received, right the reference, on the
capture's time line, as a recording has them), `ID.windows.json` (the per-window comparison
and the call's scores) and `ID.json` (the call's object of the JSON report).
"""

from __future__ import annotations

import json
import logging
import re
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent_bot.media.frames import SAMPLE_RATE, Pcm

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallAudio:
    """A call's reference and received audio on one time line, padded to one length."""

    reference: Pcm
    received: Pcm

    @classmethod
    def of(cls, reference: Pcm | None, received: Pcm | None) -> CallAudio:
        ref = reference if reference is not None else np.zeros(0, np.int16)
        rec = received if received is not None else np.zeros(0, np.int16)
        length = max(len(ref), len(rec))
        return cls(_padded(ref, length), _padded(rec, length))


def _padded(pcm: Pcm, length: int) -> Pcm:
    return np.concatenate([pcm, np.zeros(length - len(pcm), np.int16)]).astype(np.int16)


def file_stem(call_id: str) -> str:
    """A call id made safe as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", call_id) or "call"


def write_stereo(path: Path, left: Pcm, right: Pcm) -> None:
    """A two-channel 48 kHz 16-bit WAV file of `left` and `right` (same length)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(np.column_stack([left, right]).astype("<i2").tobytes())


def keep_failed(directory: Path, call: dict[str, Any], audio: CallAudio) -> list[Path]:
    """Write one failed call's evidence files into `directory`; their paths."""
    stem = file_stem(str(call["call_id"]))
    verdict = call.get("verdict") or {}
    windows = {
        "callId": call["call_id"],
        "windows": (verdict.get("audio") or {}).get("windows", []),
        "scores": verdict.get("scores", []),
    }
    paths = [directory / f"{stem}.wav", directory / f"{stem}.windows.json",
             directory / f"{stem}.json"]  # fmt: skip
    write_stereo(paths[0], audio.received, audio.reference)  # empty when the call never ran
    paths[1].write_text(json.dumps(windows, indent=2) + "\n", encoding="utf-8")
    paths[2].write_text(json.dumps(call, indent=2) + "\n", encoding="utf-8")
    logger.info("call=%s evidence kept: %s", call["call_id"], ", ".join(p.name for p in paths))
    return paths

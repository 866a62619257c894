"""Test signals for the QA tests: delayed copies and a real Opus round trip."""

from __future__ import annotations

import fractions
import wave
from pathlib import Path

import av
import numpy as np

from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE, Pcm

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def read_wav(path: Path) -> Pcm:
    """A mono 16-bit 48 kHz WAV file as int16 samples."""
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SAMPLE_RATE)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).copy()


def delayed(pcm: Pcm, delay_ms: float, gain: float = 1.0) -> Pcm:
    """`pcm` scaled by `gain` after `delay_ms` of digital silence."""
    pad = np.zeros(round(delay_ms * SAMPLE_RATE / 1000))
    out = np.concatenate([pad, pcm.astype(np.float64) * gain])
    return np.clip(out, -32768, 32767).astype(np.int16)


def opus_round_trip(pcm: Pcm, lost: frozenset[int] = frozenset()) -> Pcm:
    """`pcm` encoded with libopus at 96 kbit/s (as aiortc sends) and decoded again.

    Frames whose index is in `lost` come out as silence, as a receiver without concealment
    that keeps the timeline leaves them.
    """
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = SAMPLE_RATE
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 96_000
    encoder.time_base = fractions.Fraction(1, SAMPLE_RATE)
    decoder = av.CodecContext.create("libopus", "r")
    decoder.sample_rate = SAMPLE_RATE
    decoder.layout = "mono"
    out = []
    for index, start in enumerate(range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES)):
        frame = av.AudioFrame.from_ndarray(
            pcm[start : start + FRAME_SAMPLES].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        for packet in encoder.encode(frame):
            decoded = [f.to_ndarray().reshape(-1) for f in decoder.decode(packet)]
            if index in lost:
                decoded = [np.zeros_like(d) for d in decoded]
            out.extend(decoded)
    return np.concatenate(out).astype(np.int16)

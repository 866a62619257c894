"""Generated sound patterns: the hold sound a held customer hears, the ring of the desk.

Each is a looped `SampleSource` (encoded once), made on first use and shared by every call.
"""

from __future__ import annotations

import functools

import numpy as np

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.media.sources import SampleSource, SilenceSource

HOLD_AMPLITUDE = 0.06
"""Quiet: about -27 dBFS peaks, far below speech."""

RING_AMPLITUDE = 0.25


def _tone(hz: float, seconds: float, amplitude: float) -> Pcm:
    """A sine burst with 10 ms fades (no clicks)."""
    n = round(seconds * SAMPLE_RATE)
    wave = np.sin(2 * np.pi * hz * np.arange(n) / SAMPLE_RATE)
    fade = min(n // 2, SAMPLE_RATE // 100)
    envelope = np.ones(n)
    envelope[:fade] = np.linspace(0, 1, fade)
    envelope[n - fade :] = np.linspace(1, 0, fade)
    return (wave * envelope * amplitude * 32767).astype(np.int16)


def _silence(seconds: float) -> Pcm:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def hold_pattern() -> Pcm:
    """Two soft rising notes every 3 s."""
    return np.concatenate(
        [
            _tone(523.25, 0.3, HOLD_AMPLITUDE),
            _silence(0.05),
            _tone(659.25, 0.3, HOLD_AMPLITUDE),
            _silence(2.35),
        ]
    )


def ring_pattern() -> Pcm:
    """A double ring (two 0.4 s bursts of 400 + 450 Hz) every 3 s."""
    burst = (
        _tone(400, 0.4, RING_AMPLITUDE / 2).astype(np.int32)
        + _tone(450, 0.4, RING_AMPLITUDE / 2).astype(np.int32)
    ).astype(np.int16)
    return np.concatenate([burst, _silence(0.2), burst, _silence(2.0)])


@functools.cache
def hold_source() -> SampleSource:
    """The default hold sound, shared by every call."""
    return SampleSource(hold_pattern(), loop=True, encode_once=True)


@functools.cache
def silence_source() -> SampleSource:
    """What a muted call sends."""
    return SilenceSource()

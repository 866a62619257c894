"""Echo cancellation with libwebrtc's real audio processing module, on simulated devices.

The far end (what the speaker plays) is a speech sample; the microphone hears it back through
a simulated echo path (delayed, attenuated, with a little noise), and in the double-talk case
another voice too. Render and capture are called as two sound devices would call them.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from agent_bot.media.echo import EchoCanceller, EchoStats, Processing
from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.media.sources import decode
from agent_bot.qa.comparison import compare

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
RENDER_BLOCK = 480  # 10 ms output blocks (the speaker's)
CAPTURE_BLOCK = 960  # 20 ms input blocks (the microphone's)
RENDER_DELAY_S = 0.02  # from the output callback to the DAC
ECHO_DB = -10.0
NOISE_RMS = 10.0  # -70 dBFS
CONVERGED_S = 2.0

logger = logging.getLogger(__name__)


@cache
def speech(name: str) -> Pcm:
    return decode(SAMPLES / name)


def far_end() -> Pcm:
    return speech("hello-48k.wav")


def echo_of(far: Pcm, delay_ms: float, near: Pcm | None = None) -> Pcm:
    """What the microphone hears: the far end delayed and attenuated, noise, the near end."""
    delay = round(delay_ms * SAMPLE_RATE / 1000)
    mic = np.zeros(len(far))
    mic[delay:] = far[: len(far) - delay] * 10 ** (ECHO_DB / 20)
    mic += np.random.default_rng(3).normal(0.0, NOISE_RMS, len(far))
    if near is not None:
        mic += near
    return np.clip(np.round(mic), -32768, 32767).astype(np.int16)


def simulate(canceller: EchoCanceller, far: Pcm, mic: Pcm) -> Pcm:
    """Calls render and capture in the order two devices would: far-end sample t reaches the
    DAC at t / SAMPLE_RATE, so its block is rendered RENDER_DELAY_S before; a microphone block
    is captured when its last sample is in. The processed microphone audio is returned."""
    events = [
        (start / SAMPLE_RATE - RENDER_DELAY_S, 0, start)
        for start in range(0, len(far) - RENDER_BLOCK + 1, RENDER_BLOCK)
    ]
    events += [
        ((start + CAPTURE_BLOCK) / SAMPLE_RATE, 1, start)
        for start in range(0, len(mic) - CAPTURE_BLOCK + 1, CAPTURE_BLOCK)
    ]
    out = np.zeros(len(mic), dtype=np.int16)
    for _, kind, start in sorted(events):
        if kind == 0:
            canceller.render(far[start : start + RENDER_BLOCK], RENDER_DELAY_S)
        else:
            block = mic[start : start + CAPTURE_BLOCK]
            processed = canceller.capture(block, CAPTURE_BLOCK / SAMPLE_RATE)
            assert len(processed) == CAPTURE_BLOCK and processed.dtype == np.int16
            out[start : start + CAPTURE_BLOCK] = processed
    return out


def power(pcm: Pcm) -> float:
    return float(np.mean(np.square(pcm, dtype=np.float64)))


def reduction_db(mic: Pcm, out: Pcm) -> float:
    """How much quieter the output is than the microphone after convergence."""
    start = round(CONVERGED_S * SAMPLE_RATE)
    return 10 * float(np.log10(power(mic[start:]) / max(power(out[start:]), 1e-3)))


@pytest.mark.parametrize("delay_ms", [40, 120])
def test_echo_is_removed(delay_ms: float) -> None:
    far = far_end()
    mic = echo_of(far, delay_ms)
    canceller = EchoCanceller(Processing())
    out = simulate(canceller, far, mic)
    removed = reduction_db(mic, out)
    stats = canceller.stats
    logger.info("echo path %d ms: %.1f dB removed; %s", delay_ms, removed, stats)
    assert removed >= 25.0
    assert stats.echo_removed_db is not None
    assert abs(stats.echo_removed_db - removed) <= 10.0
    # 20 ms to the DAC + 20 ms capture blocks; the blocks are whole frames, nothing held
    assert stats.delay_ms == pytest.approx(40, abs=2)
    assert stats.speaker_rms > 0.01
    assert 0.0 < stats.mic_rms < 0.001
    assert stats.echo_cancellation and stats.noise_suppression and stats.auto_gain
    assert canceller.errors == 0


def telephone_band(pcm: Pcm) -> Pcm:
    """300–3400 Hz: the APM's high-pass filter turns the phase of the voice's fundamental
    (100–300 Hz here), which costs waveform correlation even with no echo at all."""
    sos = signal.butter(4, [300, 3400], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return np.clip(signal.sosfiltfilt(sos, pcm.astype(np.float64)), -32768, 32767).astype(np.int16)


def median_correlation(reference: Pcm, received: Pcm) -> float:
    return float(np.median([w.correlation for w in compare(reference, received).windows]))


def test_near_end_comes_through_double_talk() -> None:
    far = far_end()
    start = 3 * SAMPLE_RATE  # the near end starts talking after the canceller has converged
    near = np.zeros(len(far), dtype=np.int16)
    voice = speech("weather-48k.wav")[: len(far) - start]
    near[start : start + len(voice)] = voice
    canceller = EchoCanceller(Processing())
    out = simulate(canceller, far, echo_of(far, 60, near))
    plain = median_correlation(near[start:], out[start:])
    band = median_correlation(telephone_band(near[start:]), telephone_band(out[start:]))
    level_db = 10 * np.log10(power(out[start:]) / power(near[start:]))
    logger.info(
        "double talk: correlation %.3f (telephone band %.3f), level %+.1f dB; %s",
        plain,
        band,
        level_db,
        canceller.stats,
    )
    assert band >= 0.6
    assert level_db > -6.0  # not suppressed as echo


def test_echo_stays_without_echo_cancellation() -> None:
    far = far_end()
    mic = echo_of(far, 60)
    canceller = EchoCanceller(Processing(echo_cancellation=False))
    out = simulate(canceller, far, mic)
    removed = reduction_db(mic, out)
    logger.info("no echo cancellation: %.1f dB removed", removed)
    assert removed < 6.0
    stats = canceller.stats
    assert stats.echo_removed_db is None and stats.delay_ms == 0.0
    assert not stats.echo_cancellation and stats.noise_suppression


def test_odd_blocks_come_back_the_same_length() -> None:
    far = far_end()[: 2 * SAMPLE_RATE]
    mic = echo_of(far, 60)
    canceller = EchoCanceller(Processing())
    position = 0
    for size in [700, 333, 1, 959, 481] * 20:
        canceller.render(far[position : position + size], RENDER_DELAY_S)
        assert len(canceller.capture(mic[position : position + size], 0.01)) == size
        position += size
    assert canceller.errors == 0
    # held samples count: 20 ms + 10 ms of device delays, give or take what the framers hold
    assert 20 <= canceller.stats.delay_ms <= 40


def test_nothing_on_passes_the_microphone_through_without_livekit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "livekit", None)  # importing it now fails
    off = Processing(echo_cancellation=False, noise_suppression=False, auto_gain=False)
    off.high_pass = False
    canceller = EchoCanceller(off)
    far = far_end()[:CAPTURE_BLOCK]
    canceller.render(far, RENDER_DELAY_S)
    assert canceller.capture(far, 0.02) is far
    stats = canceller.stats
    assert stats == EchoStats(None, stats.mic_rms, stats.speaker_rms, 0.0, False, False, False)
    assert stats.mic_rms == pytest.approx(stats.speaker_rms) and stats.mic_rms > 0


def test_importing_the_module_does_not_load_livekit() -> None:
    code = "import sys, agent_bot.media.echo; print('livekit' in sys.modules)"
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=SAMPLES.parent, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.strip() == b"False"


def test_a_missing_livekit_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "livekit", None)
    with pytest.raises(ImportError, match="pip install livekit"):
        EchoCanceller(Processing(echo_cancellation=False, auto_gain=False))


def test_render_and_capture_from_two_threads() -> None:
    canceller = EchoCanceller(Processing())
    far = far_end()
    mic = echo_of(far, 60)
    failures: list[BaseException] = []
    done = time.monotonic() + 2.0

    def run(block: int, call: Callable[[int, int], None]) -> None:
        try:
            position = 0
            while time.monotonic() < done:
                if position + block > len(far):
                    position = 0
                call(position, block)
                position += block
                time.sleep(block / SAMPLE_RATE / 4)  # faster than real time, not spinning
        except BaseException as exc:
            failures.append(exc)

    def render(position: int, block: int) -> None:
        canceller.render(far[position : position + block], RENDER_DELAY_S)

    def capture(position: int, block: int) -> None:
        assert len(canceller.capture(mic[position : position + block], 0.02)) == block
        canceller.stats  # noqa: B018 (read from a third party while both run)

    threads = [
        threading.Thread(target=run, args=(RENDER_BLOCK, render)),
        threading.Thread(target=run, args=(CAPTURE_BLOCK, capture)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert canceller.errors == 0


def test_a_microphone_that_hears_nothing_while_the_speaker_plays() -> None:
    """Digital silence in (a muted or idle source) gives no echo figure and no error."""
    canceller = EchoCanceller(Processing())
    far = far_end()[: 4 * SAMPLE_RATE]
    silence = np.zeros(CAPTURE_BLOCK, dtype=np.int16)
    for start in range(0, len(far) - CAPTURE_BLOCK, CAPTURE_BLOCK):
        canceller.render(far[start : start + RENDER_BLOCK], RENDER_DELAY_S)
        canceller.render(far[start + RENDER_BLOCK : start + CAPTURE_BLOCK], RENDER_DELAY_S)
        canceller.capture(silence, RENDER_DELAY_S)  # (raised: log10 of 0 power)
    assert canceller.stats.echo_removed_db is None
    assert canceller.errors == 0

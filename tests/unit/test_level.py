"""Level meter: RMS of the last ~100 ms."""

import numpy as np

from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE
from agent_bot.media.level import LevelMeter


def test_level_follows_the_signal() -> None:
    meter = LevelMeter()
    assert meter.rms == 0.0
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (16384 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    for start in range(0, SAMPLE_RATE // 2, FRAME_SAMPLES):
        meter.update(tone[start : start + FRAME_SAMPLES])
    assert abs(meter.rms - 0.5 / np.sqrt(2)) < 0.01
    for _ in range(50):  # a second of silence
        meter.update(np.zeros(FRAME_SAMPLES, dtype=np.int16))
    assert meter.rms < 0.01
    meter.update(tone[:FRAME_SAMPLES])
    meter.reset()
    assert meter.rms == 0.0

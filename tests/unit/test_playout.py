"""Playout buffer with simulated packet arrival: loss, reorder, jitter, bursts
(`playoutsim.simulate`); the drift tests are in `test_playout_drift.py`."""

from __future__ import annotations

import random

import numpy as np
import pytest

from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from agent_bot.media.opus import encode
from agent_bot.media.playout import HARD_EXCESS_MS, MAX_TARGET_MS, PlayoutBuffer
from agent_bot.media.rtpreceiver import OpusDecoder
from tests.unit.playoutsim import (
    BASE,
    BLOCK,
    NETWORK_S,
    RAMP,
    RampDecoder,
    after,
    assert_all_played,
    ramp_frame,
    simulate,
)


def test_clean_stream_plays_everything_with_low_latency() -> None:
    run = simulate(30)
    stats = run.buffer.stats
    assert stats.underruns == stats.concealed == stats.late == stats.dropped == 0
    assert run.gaps == 0
    lat = after(run, 5)
    # 5 ms network + buffer kept near one frame plus the safety margin
    assert np.median(lat) < 40
    assert lat.max() - lat.min() < 15


def test_the_device_latency_is_followed() -> None:
    """`device_ms`: the device's own latency as the caller reports it, smoothed over ~1 s."""
    buffer = PlayoutBuffer(RampDecoder())
    for k in range(300):
        buffer.pull(BLOCK, k * BLOCK / SAMPLE_RATE, 0.030 if k % 2 else 0.028)
    assert buffer.stats.device_ms == pytest.approx(29, abs=0.5)
    for k in range(300, 600):  # the sound server keeps a block more from now on
        buffer.pull(BLOCK, k * BLOCK / SAMPLE_RATE, 0.039)
    assert buffer.stats.device_ms == pytest.approx(39, abs=0.5)


def test_silence_before_the_first_packet() -> None:
    buffer = PlayoutBuffer(RampDecoder())
    assert not buffer.pull(BLOCK).any()


def test_lost_packets_are_concealed_and_latency_holds() -> None:
    rng = random.Random(1)
    lost = {i for i in range(1500) if rng.random() < 0.05}
    run = simulate(30, loss=lambda i: i in lost)
    stats = run.buffer.stats
    assert stats.lost == stats.concealed == len(lost)
    assert stats.underruns == stats.late == stats.dropped == 0
    assert_all_played(stats)
    assert np.median(after(run, 5)) < 40


def test_reordered_packets_in_time_are_played() -> None:
    rng = random.Random(2)
    swapped = {i for i in range(0, 1500, 2) if rng.random() < 0.05}

    def delay(i: int, t: float) -> float:
        # packet i is held back one packet time: i+1 overtakes it
        return NETWORK_S + (0.021 if i in swapped else 0.0)

    run = simulate(30, delay=delay)
    stats = run.buffer.stats
    # the first swap may come before the buffer knows it: the wait for it is concealed
    assert stats.late == stats.lost == 0
    assert stats.underruns == stats.concealed <= 1
    assert_all_played(stats)
    lat = after(run, 5)
    assert lat.max() < 60


def test_target_follows_jitter() -> None:
    rng = random.Random(3)
    delays = [NETWORK_S + rng.uniform(0, 0.025) for _ in range(1500)]
    run = simulate(30, delay=lambda i, t: delays[i])
    stats = run.buffer.stats
    quiet = simulate(30).buffer.stats
    assert stats.target_ms > quiet.target_ms + 8
    assert 20 <= stats.target_ms <= 60
    # the buffer grows to the jitter within the first packets: nothing lost, little waited for
    assert stats.lost == stats.late == 0
    assert stats.underruns <= 3
    assert_all_played(stats)
    assert after(run, 5).max() < 100


@pytest.mark.parametrize("drift_ppm", [0.0, 300.0, -300.0, 1000.0])
def test_a_bursty_start_does_not_hold_latency_high(drift_ppm: float) -> None:
    """A call's first packets come up to 30 ms late (the connection and the device just
    started), then 8 ms of jitter: the first seconds play at the latency the call settles at
    (measured for the whole first window, the start's jitter held it 15 ms high for 10 s)."""
    rng = random.Random(5)
    delays = [NETWORK_S + rng.uniform(0, 0.030 if i < 40 else 0.008) for i in range(4000)]
    run = simulate(60, delay=lambda i, t: delays[i], drift_ppm=drift_ppm)
    times, latency = np.array(run.times), np.array(run.latencies_ms)
    settled = np.median(latency[times >= 30])
    assert abs(np.median(latency[(times >= 2) & (times < 10)]) - settled) <= 3
    assert run.buffer.stats.underruns <= 2


def test_burst_after_a_stall_is_caught_up() -> None:
    """Every 3 s the network freezes 150 ms, then delivers the held packets at once."""

    def delay(i: int, t: float) -> float:
        phase = t % 3.0
        if 1.0 <= phase < 1.15:
            return NETWORK_S + (1.15 - phase)
        return NETWORK_S

    run = simulate(30, delay=delay)
    stats = run.buffer.stats
    assert stats.dropped > 0
    lat = after(run, 0.5)
    # bounded: 5 ms network + at most the largest target + the hard excess
    assert np.percentile(lat, 99) < 5 + MAX_TARGET_MS + HARD_EXCESS_MS + 5
    # and caught up towards the target between freezes (a signal with no quiet frame to drop:
    # by playing faster)
    pairs = list(zip(run.times, run.latencies_ms, strict=True))
    after_freeze = np.median([lat for t, lat in pairs if 1.2 <= t % 3 < 1.4])
    settled = np.median([lat for t, lat in pairs if 2.8 <= t % 3 < 3.0])
    assert settled < after_freeze - 5
    assert settled < 5 + MAX_TARGET_MS + 25


def test_catch_up_drops_quiet_frames_not_speech() -> None:
    """Talk spurts of 300 ms and pauses of 300 ms; the network freezes 60 ms every 3 s, in a
    talk spurt."""

    def talk(index: int) -> bytes:
        """Loud frames carry their index as a constant level (1000 + index), pauses a level of 5."""
        level = 5 if index // 15 % 2 else BASE + index
        return np.full(FRAME_SAMPLES, level, dtype=np.int16).tobytes()

    def delay(i: int, t: float) -> float:
        phase = t % 3.0
        return NETWORK_S + (1.26 - phase if 1.2 <= phase < 1.26 else 0.0)

    outputs: list[Pcm] = []
    run = simulate(30, delay=delay, frame=talk, outputs=outputs)
    stats = run.buffer.stats
    assert stats.dropped > 0
    assert stats.lost == 0
    levels, counts = np.unique(np.concatenate(outputs), return_counts=True)
    heard = {int(level) - BASE for level, n in zip(levels, counts, strict=True) if n > 400}
    spoken = {i for i in range(run.sent - 3) if not i // 15 % 2}
    assert spoken <= heard


def test_sequence_and_timestamp_wrap() -> None:
    run = simulate(10, seq0=65_000, ts0=2**32 - 200 * FRAME_SAMPLES)
    stats = run.buffer.stats
    assert stats.underruns == stats.concealed == stats.late == stats.resyncs == 0
    assert_all_played(stats)


def test_sender_restart_resyncs() -> None:
    buffer = PlayoutBuffer(RampDecoder())
    for i in range(10):
        buffer.put(i, i * FRAME_SAMPLES, i * 0.02, ramp_frame(i))
        buffer.pull(FRAME_SAMPLES)
    buffer.put(5000, 10**9, 0.2, ramp_frame(10))
    assert buffer.stats.resyncs == 1
    out = np.concatenate([buffer.pull(FRAME_SAMPLES) for _ in range(3)])
    first = BASE + 10 * FRAME_SAMPLES
    assert ((out > first) & (out < first + FRAME_SAMPLES)).sum() > FRAME_SAMPLES // 2


def test_store_is_bounded_when_nobody_pulls() -> None:
    buffer = PlayoutBuffer(RampDecoder())
    for i in range(1000):
        buffer.put(i, i * FRAME_SAMPLES, i * 0.02, ramp_frame(i))
    assert buffer.stats.overflow > 0
    assert buffer.stats.overflow + 100 >= 1000


def test_bad_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="min_target_ms"):
        PlayoutBuffer(RampDecoder(), min_target_ms=80, max_target_ms=60)


def test_opus_plc_continues_the_signal_over_a_lost_packet() -> None:
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)).astype(np.int16)
    payloads = encode(tone)
    decoder = OpusDecoder()
    out = [decoder.decode(p) for p in payloads[:10]]
    concealed = decoder.conceal()  # packet 10 lost
    out += [concealed] + [decoder.decode(p) for p in payloads[11:20]]
    assert all(len(pcm) == FRAME_SAMPLES for pcm in out)
    # the concealment is no silence: it carries the tone on (same level, same pitch)
    expected = np.concatenate(out[9:12]).astype(np.float64)
    level = np.sqrt(np.mean(concealed.astype(np.float64) ** 2))
    assert level > 0.5 * np.sqrt(np.mean(expected**2))
    spectrum = np.abs(np.fft.rfft(concealed.astype(np.float64)))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / FRAME_SAMPLES - 440) <= 50


def test_opus_decoder_conceals_undecodable_payloads() -> None:
    decoder = OpusDecoder()
    assert not decoder.conceal().any()  # nothing decoded yet: silence
    pcm = decoder.decode(b"\xff\xff\xff\xff")
    assert len(pcm) == FRAME_SAMPLES
    assert decoder.errors == 1


def test_a_device_underflow_is_skipped_not_added_to_latency() -> None:
    """At 10 s the device misses 100 ms (its callback came late): that audio is skipped."""
    buffer = PlayoutBuffer(RampDecoder())
    latencies: list[float] = []
    sent = 0
    for block in range(2 * 20 * 100):  # 20 s of 10 ms blocks
        now = block * BLOCK / SAMPLE_RATE
        while sent * FRAME_SAMPLES / SAMPLE_RATE + NETWORK_S <= now:
            buffer.put(sent, sent * FRAME_SAMPLES, now, ramp_frame(sent))
            sent += 1
        if 1000 <= block < 1010:
            continue  # the device did not ask: the next callback finds it played silence
        if block == 1010:
            buffer.skip(10 * BLOCK)
        out = buffer.pull(BLOCK).astype(np.int64)
        latencies.append((now * SAMPLE_RATE - (out[0] - BASE)) % RAMP / SAMPLE_RATE * 1000)
    stats = buffer.stats
    assert stats.skipped == 10 * BLOCK
    assert stats.underruns == stats.dropped == stats.late == 0
    before, after_skip = np.median(latencies[500:1000]), np.median(latencies[1000:])
    # not +100 ms: only the jitter the stall looked like (arrivals during it measured against
    # an output count that stood still) raises the target a little, for the 5-s window
    assert abs(after_skip - before) < 10

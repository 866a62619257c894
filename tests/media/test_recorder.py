"""Recorder: stereo WAV files readable at any time, channels aligned, surviving SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import av
import numpy as np
import pytest

from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE, Pcm, frame_to_pcm
from agent_bot.media.recorder import GAP_SECONDS, Recorder, RecorderError, StereoTimeline
from agent_bot.media.sources import FileSource
from tests.media.conftest import SAMPLES, Connect, lag, window_correlations

REPO = Path(__file__).resolve().parents[2]


def frame(value: int) -> Pcm:
    return np.full(FRAME_SAMPLES, value, dtype=np.int16)


def channels(stereo: Pcm) -> tuple[Pcm, Pcm]:
    pairs = stereo.reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def read_stereo(path: Path) -> Pcm:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, SAMPLE_RATE, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_channels_written_in_step_are_interleaved_in_order() -> None:
    timeline = StereoTimeline(start=0.0)
    for index in range(5):
        now = (index + 1) * 0.020
        timeline.add(0, frame(index + 1), now)
        timeline.add(1, frame(-index - 1), now)
    left, right = channels(timeline.take(0.1))
    assert np.array_equal(left, np.repeat(np.arange(1, 6), FRAME_SAMPLES))
    assert np.array_equal(right, -left)


def test_a_side_that_starts_late_is_placed_at_its_arrival_time() -> None:
    timeline = StereoTimeline(start=0.0)
    for index in range(25):  # sent from the start, 0.5 s
        timeline.add(1, frame(1), (index + 1) * 0.020)
    timeline.add(0, frame(7), 0.300)  # the first received frame arrives at 300 ms
    left, right = channels(timeline.take(0.5))
    first = int(np.argmax(left == 7))
    assert first == round(0.280 * SAMPLE_RATE)
    assert not left[:first].any()
    assert len(right) == len(left) == round(0.5 * SAMPLE_RATE)


def test_a_first_frame_late_by_less_than_the_gap_is_still_placed_exactly() -> None:
    timeline = StereoTimeline(start=0.0)
    for index in range(10):
        timeline.add(1, frame(1), (index + 1) * 0.020)
    timeline.add(0, frame(7), 0.080)  # 60 ms late: within the gap, but the first frame
    left, _ = channels(timeline.take(0.2))
    assert int(np.argmax(left == 7)) == round(0.060 * SAMPLE_RATE)


def test_jitter_shorter_than_the_gap_inserts_no_silence() -> None:
    timeline = StereoTimeline(start=0.0)
    for index in range(10):
        now = (index + 1) * 0.020
        timeline.add(1, frame(1), now)
        timeline.add(0, frame(2), now + 0.060 if index % 2 else now)  # bursts, 60 ms late
    left, _ = channels(timeline.take(0.3))
    assert (left == 2).all()


def test_a_stalled_side_is_filled_with_silence_up_to_the_clock() -> None:
    timeline = StereoTimeline(start=0.0)
    timeline.add(0, frame(3), 0.020)
    for index in range(50):
        timeline.add(1, frame(4), (index + 1) * 0.020)
    left, right = channels(timeline.take(1.0))
    assert len(left) >= round((1.0 - GAP_SECONDS) * SAMPLE_RATE) - FRAME_SAMPLES
    assert (left[:FRAME_SAMPLES] == 3).all() and not left[FRAME_SAMPLES:].any()
    assert (right == 4).all()
    left, right = channels(timeline.finish())
    assert len(left) == len(right) and not left.any()


def test_recording_is_a_stereo_wav_left_received_right_sent(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "call.wav"
    recorder = Recorder(path, clock=clock)
    for index in range(100):
        clock.now += 0.020
        recorder.write(frame(index))
        recorder.write_sent(frame(-index))
    assert len(read_stereo(path)) > 0  # readable while recording
    recorder.close()
    recorder.close()
    recorder.write(frame(1))  # after close: ignored
    left, right = channels(read_stereo(path))
    assert np.array_equal(left, np.repeat(np.arange(100, dtype=np.int16), FRAME_SAMPLES))
    assert np.array_equal(right, -left)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert (stream.channels, stream.rate) == (2, SAMPLE_RATE)  # plain WAV: left, right
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
    assert np.array_equal(decoded, read_stereo(path))


def test_a_new_recording_is_a_valid_empty_wav(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "empty.wav")
    assert len(read_stereo(tmp_path / "empty.wav")) == 0
    recorder.close()
    assert len(read_stereo(tmp_path / "empty.wav")) == 0


def test_a_recording_that_cannot_be_created_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecorderError, match="missing"):
        Recorder(tmp_path / "missing" / "call.wav")


def test_recordings_are_named_by_call_id_and_time(tmp_path: Path) -> None:
    recorder = Recorder.for_call(tmp_path, "call/1 x")
    recorder.close()
    assert recorder.path.parent == tmp_path
    assert recorder.path.name.startswith("call_1_x-")
    assert recorder.path.suffix == ".wav"
    assert recorder.path.exists()


def test_a_recorder_killed_with_sigkill_leaves_all_but_the_last_second(tmp_path: Path) -> None:
    path = tmp_path / "killed.wav"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.media.recording_process", str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "recording"
        started = time.monotonic()
        time.sleep(3.0)
        elapsed = time.monotonic() - started
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    left, right = channels(read_stereo(path))
    assert len(left) >= (elapsed - 1.0) * SAMPLE_RATE, f"{len(left) / SAMPLE_RATE:.2f} s kept"
    frames = len(left) // FRAME_SAMPLES
    expected = np.repeat(np.arange(frames, dtype=np.int16), FRAME_SAMPLES)
    assert np.array_equal(left[: len(expected)], expected)
    assert np.array_equal(right[: len(expected)], -expected)


async def test_a_recorded_call_holds_both_sides_aligned_in_time(
    loopback: Connect, tmp_path: Path
) -> None:
    source = FileSource(SAMPLES / "weather-48k.wav")
    track = source.create_track()
    recorder = Recorder(tmp_path / "call.wav")
    track.add_sent_listener(recorder.write_sent)
    remote = await loopback(track)
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        recorder.write(frame_to_pcm(await asyncio.wait_for(remote.recv(), 5)))
    recorder.close()
    received, sent = channels(read_stereo(tmp_path / "call.wav"))
    assert len(sent) >= 3.5 * SAMPLE_RATE
    # An event-loop stall longer than the recorder's gap shows as silence on both sides: let
    # each window find its own place within half a second.
    sent_scores = window_correlations(source.pcm[: 3 * SAMPLE_RATE], sent, search_ms=500)
    assert float(np.median(sent_scores)) > 0.99, sent_scores
    delay = lag(sent[: 3 * SAMPLE_RATE], received) / SAMPLE_RATE
    assert 0.02 <= delay <= 0.5, f"received {delay * 1000:.0f} ms after sent"
    scores = window_correlations(sent[: 3 * SAMPLE_RATE], received, search_ms=500)
    assert float(np.median(scores)) >= 0.9, scores

"""10 ms framing of device blocks, and the echo canceller's stream delay estimate."""

import numpy as np
import pytest

from agent_bot.media.framing import DelayEstimate, Framer, SampleQueue

FRAME = 480
BLOCKS = [960, 960, 1, 479, 481, 333, 7, 1000, 960, 2, 1919, 480, 0, 961]


def stream(samples: int) -> np.ndarray:
    return np.random.default_rng(7).integers(-32768, 32767, samples, dtype=np.int16)


def test_framer_gives_the_stream_back_in_whole_frames() -> None:
    pcm = stream(sum(BLOCKS))
    framer = Framer(FRAME)
    frames: list[np.ndarray] = []
    position = 0
    for size in BLOCKS:
        frames.extend(framer.push(pcm[position : position + size]))
        position += size
        assert framer.held == position % FRAME
        assert len(frames) == position // FRAME
    assert all(len(frame) == FRAME and frame.dtype == np.int16 for frame in frames)
    np.testing.assert_array_equal(np.concatenate(frames), pcm[: len(frames) * FRAME])


def test_framer_frames_are_not_overwritten_by_later_blocks() -> None:
    framer = Framer(FRAME)
    first = framer.push(np.full(700, 1, dtype=np.int16))
    framer.push(np.full(700, 2, dtype=np.int16))
    assert len(first) == 1 and (first[0] == 1).all()


def test_framer_rejects_an_empty_frame_size() -> None:
    with pytest.raises(ValueError):
        Framer(0)


def test_queue_zero_fills_in_front_once_then_lags() -> None:
    queue = SampleQueue(capacity=16)
    queue.write(np.arange(1, 301, dtype=np.int16))
    out = queue.read(480)
    assert (out[:180] == 0).all() and queue.lag == 180
    np.testing.assert_array_equal(out[180:], np.arange(1, 301))
    assert queue.held == 0
    queue.write(np.arange(301, 2001, dtype=np.int16))  # grows past its capacity
    assert queue.held == 1700
    np.testing.assert_array_equal(queue.read(1000), np.arange(301, 1301))
    assert queue.held == 700 and queue.lag == 180


def test_queue_slack_is_taken_at_the_first_shortfall() -> None:
    queue = SampleQueue(slack=479)
    queue.write(np.ones(480, dtype=np.int16))
    assert (queue.read(480) == 1).all() and queue.lag == 0  # not short: no slack
    queue.write(np.ones(480, dtype=np.int16))
    out = queue.read(700)
    assert queue.lag == 479 and queue.held == 259
    assert (out[:479] == 0).all() and (out[479:] == 1).all()


def through(blocks: list[int], pcm: np.ndarray) -> tuple[np.ndarray, int]:
    """`pcm` in device blocks through 10 ms frames and back, as the echo canceller passes it."""
    framer, queue = Framer(FRAME), SampleQueue(slack=FRAME - 1)
    out, position = [], 0
    for size in blocks:
        for frame in framer.push(pcm[position : position + size]):
            queue.write(frame)
        out.append(queue.read(size))
        assert len(out[-1]) == size
        position += size
    return np.concatenate(out), queue.lag


@pytest.mark.parametrize("block", [960, 480, 700, 333, 1])
def test_steady_blocks_come_back_whole_lagging_less_than_a_frame(block: int) -> None:
    pcm = stream(block * 200)
    out, lag = through([block] * 200, pcm)
    assert lag == (0 if block % FRAME == 0 else FRAME - 1)
    assert (out[:lag] == 0).all()
    np.testing.assert_array_equal(out[lag:], pcm[: len(pcm) - lag])


def test_changing_blocks_put_zeros_in_once() -> None:
    """Two aligned blocks, then odd ones: one run of zeros where the first fell short."""
    pcm = stream(sum(BLOCKS))
    out, lag = through(BLOCKS, pcm)
    assert lag == FRAME - 1
    at = 2 * 960
    np.testing.assert_array_equal(out[:at], pcm[:at])
    assert (out[at : at + lag] == 0).all()
    np.testing.assert_array_equal(out[at + lag :], pcm[at : len(pcm) - lag])


def test_delay_is_render_and_capture_latency_corrected_by_what_the_framers_hold() -> None:
    estimate = DelayEstimate(48_000)
    assert estimate.ms is None
    estimate.rendered(0.020, held=240)  # the held 5 ms reached the DAC before the block
    assert estimate.ms is None
    estimate.captured(0.030, held=96)  # the held 2 ms were captured before the block
    assert estimate.ms == pytest.approx(20 - 5 + 30 + 2)


def test_delay_is_smoothed_and_follows_a_lasting_change() -> None:
    estimate = DelayEstimate(48_000, window=10)
    for _ in range(10):
        estimate.rendered(0.020, held=0)
        estimate.captured(0.020, held=0)
    estimate.rendered(0.300, held=0)  # one late callback
    estimate.captured(0.001, held=0)
    assert estimate.ms == pytest.approx(40)
    for _ in range(6):
        estimate.rendered(0.030, held=0)
    assert estimate.ms == pytest.approx(50)


def test_delay_leaves_out_devices_that_report_no_timing() -> None:
    estimate = DelayEstimate(48_000)
    estimate.rendered(-12345.6, held=0)  # outputBufferDacTime 0: a host API without timing
    estimate.captured(float("nan"), held=0)
    estimate.captured(54321.0, held=0)
    assert estimate.ms is None
    estimate.rendered(0.010, held=0)
    estimate.captured(0.010, held=0)
    assert estimate.ms == pytest.approx(20)

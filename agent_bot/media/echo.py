"""Echo cancellation, noise suppression, high-pass filter and automatic gain for the microphone.

The processing is libwebrtc's audio processing module (AEC3 for the echo) as the `livekit`
package wraps it: `livekit.rtc.AudioProcessingModule`, which runs in-process and needs no
LiveKit server. The data path, one 10 ms frame at a time (the module takes nothing else):

    speaker samples -> render()  -> queue ... capture() -> Framer -> APM reverse stream
    mic samples     -> capture() -> Framer -> APM process_stream -> SampleQueue -> returned

`render` runs in the output stream's PortAudio thread and only queues what was played (the far
end: what echoes); `capture`, in the input stream's thread, gives the module what was queued,
then the microphone block, so the speaker's callback never waits on the module. Before each
microphone frame the module is told the stream delay (`DelayEstimate`: device latencies
and what the framers hold). `capture` returns as many samples as it is given; with blocks that
are not whole 10 ms frames its output lags by less than a frame (zeros at first). The module
itself delays the audio a few ms more (about 9 ms with AEC3, 15 ms with noise suppression too).
With nothing enabled, `capture` hands its input back and livekit is never loaded.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.media.framing import DelayEstimate, Framer, SampleQueue
from agent_bot.media.level import LevelMeter

if TYPE_CHECKING:
    from livekit import rtc

logger = logging.getLogger(__name__)

RENDER_QUEUE_BLOCKS = 64
"""Speaker blocks held for the module at most (0.64 s of 10 ms blocks) between two microphone
blocks; older ones are dropped."""

MAX_STREAM_DELAY_MS = 500
"""The largest stream delay libwebrtc accepts."""

FAR_ACTIVE_DBFS = -50.0
"""A far-end frame this loud (mean square) means the speaker plays something that can echo."""
FAR_HISTORY_FRAMES = 50
"""How far back (10 ms frames) the far end counts for a microphone frame: its echo comes later."""
ERLE_FRAMES = 100
"""Far-end-active frames (1 s) of one figure of the echo estimate."""
ERLE_FIGURES = 600
"""Figures the estimate is taken over (the last 10 minutes of far-end talk)."""
ERLE_PERCENTILE = 90.0
_OUT_FLOOR = 1e-10  # -100 dBFS: a frame of digital silence out does not make the ratio infinite
_FULL_SCALE_SQUARED = 32768.0**2


@dataclass
class Processing:
    """Which of the audio processing module's parts are on."""

    echo_cancellation: bool = True
    noise_suppression: bool = True
    auto_gain: bool = True
    high_pass: bool = True

    @property
    def enabled(self) -> bool:
        """Whether anything is on at all."""
        return self.echo_cancellation or self.noise_suppression or self.auto_gain or self.high_pass


@dataclass
class EchoStats:
    """The microphone processing's state, for the call report."""

    echo_removed_db: float | None
    """10·log10(mic power in / processed power out) with the speaker playing and the near end
    quiet (`ErleEstimate`); None until known, and while echo cancellation is off."""
    mic_rms: float
    """Level of the processed microphone audio over the last ~100 ms (full scale = 1.0)."""
    speaker_rms: float
    """Level of what `render` got over the last ~100 ms."""
    delay_ms: float
    """The stream delay last given to the module (0 until given)."""
    echo_cancellation: bool
    noise_suppression: bool
    auto_gain: bool


def mean_square(pcm: Pcm) -> float:
    """Mean square of int16 samples, full scale = 1.0 (0 for an empty array)."""
    if not len(pcm):
        return 0.0
    return float(np.mean(np.square(pcm, dtype=np.float64))) / _FULL_SCALE_SQUARED


class ErleEstimate:
    """Echo return loss enhancement: how much quieter the processed microphone audio is than
    the raw one while only the far end talks.

    A microphone frame counts when the far end was active within the last `FAR_HISTORY_FRAMES`
    and the microphone is not louder than the loudest of those far-end frames (a Geigel
    double-talk test with a 0 dB bound: a louder microphone is the near end talking). Quieter
    near-end talk during echo is not told apart and lowers the figure of its second: the
    estimate is the `ERLE_PERCENTILE`th percentile of the figures of each `ERLE_FRAMES` counted
    frames (most of a call's seconds are one party talking).
    """

    def __init__(self) -> None:
        self._far: deque[float] = deque(maxlen=FAR_HISTORY_FRAMES)
        self._power_in = 0.0
        self._power_out = 0.0
        self._frames = 0
        self._figures: deque[float] = deque(maxlen=ERLE_FIGURES)

    def far(self, power: float) -> None:
        """A far-end frame of this mean square went to the module."""
        self._far.append(power)

    def near(self, power_in: float, power_out: float) -> None:
        """A microphone frame of mean square `power_in` came out with `power_out`."""
        far_peak = max(self._far, default=0.0)
        if far_peak < 10 ** (FAR_ACTIVE_DBFS / 10) or power_in > far_peak:
            return
        if power_in < _OUT_FLOOR:  # a microphone that hears nothing has no echo to remove
            return
        self._power_in += power_in
        self._power_out += max(power_out, _OUT_FLOOR)
        self._frames += 1
        if self._frames == ERLE_FRAMES:
            self._figures.append(10.0 * math.log10(self._power_in / self._power_out))
            self._power_in = self._power_out = 0.0
            self._frames = 0

    @property
    def db(self) -> float | None:
        if not self._figures:
            return None
        return float(np.percentile(self._figures, ERLE_PERCENTILE))


class _Apm:
    """livekit's audio processing module with one preallocated 10 ms frame per direction."""

    def __init__(self, processing: Processing, sample_rate: int, samples: int) -> None:
        try:
            from livekit import rtc  # noqa: PLC0415 (loaded only when something is on)
        except ImportError as exc:
            raise ImportError(
                f"echo cancellation and the other microphone processing need livekit "
                f"(pip install livekit): {exc}"
            ) from exc
        self._module: rtc.AudioProcessingModule = rtc.AudioProcessingModule(
            echo_cancellation=processing.echo_cancellation,
            noise_suppression=processing.noise_suppression,
            high_pass_filter=processing.high_pass,
            auto_gain_control=processing.auto_gain,
        )
        # The module works in place on each frame's bytearray; numpy views write and read it.
        render = bytearray(2 * samples)
        capture = bytearray(2 * samples)
        self._render_pcm: Pcm = np.frombuffer(render, dtype=np.int16)
        self._capture_pcm: Pcm = np.frombuffer(capture, dtype=np.int16)
        self._render_frame = rtc.AudioFrame(render, sample_rate, 1, samples)
        self._capture_frame = rtc.AudioFrame(capture, sample_rate, 1, samples)

    def analyze(self, frame: Pcm) -> None:
        """Gives the module one far-end frame."""
        self._render_pcm[:] = frame
        self._module.process_reverse_stream(self._render_frame)

    def process(self, frame: Pcm, delay_ms: int | None) -> Pcm:
        """One microphone frame processed (a view, valid until the next call)."""
        self._capture_pcm[:] = frame
        if delay_ms is not None:
            self._module.set_stream_delay_ms(delay_ms)
        self._module.process_stream(self._capture_frame)
        return self._capture_pcm


class EchoCanceller:
    """The microphone's audio processing, fed with what the speaker plays.

    `render` and `capture` may be called from two threads at once (the output and the input
    stream's callbacks); `stats` from any thread.
    """

    def __init__(self, processing: Processing, sample_rate: int = SAMPLE_RATE) -> None:
        if sample_rate <= 0 or sample_rate % 100:
            raise ValueError(f"sample rate must be a multiple of 100 Hz, not {sample_rate}")
        self.processing = replace(processing)
        self._aec = processing.echo_cancellation
        samples = sample_rate // 100
        self._apm = _Apm(processing, sample_rate, samples) if processing.enabled else None
        self._lock = threading.Lock()
        self._render_framer = Framer(samples)
        self._capture_framer = Framer(samples)
        self._out = SampleQueue(8 * samples, slack=samples - 1)
        self._delay = DelayEstimate(sample_rate)
        self._delay_ms = 0
        self._erle = ErleEstimate()
        self._speaker = LevelMeter()
        self._mic = LevelMeter()
        self._rendered: deque[tuple[Pcm, float, float]] = deque(maxlen=RENDER_QUEUE_BLOCKS)
        self.errors = 0
        """Frames the module failed on (passed through unprocessed on the microphone side)."""
        self.render_dropped = 0
        """Speaker blocks dropped unanalysed: the microphone stopped coming."""
        logger.info("microphone processing: %s", self.processing)

    def render(self, pcm: Pcm, delay_s: float) -> None:
        """What the output callback wrote (int16 mono), due at the DAC `delay_s` from now.

        Only queued here: the module analyses it in the capture thread, before the next
        microphone block, so the output callback never waits on the module's work.
        """
        self._speaker.update(pcm)
        if self._apm is None or not self._aec:
            return
        if len(self._rendered) == self._rendered.maxlen:
            self.render_dropped += 1
        self._rendered.append((pcm.copy(), delay_s, time.monotonic()))

    def _analyze_rendered(self) -> None:
        """Gives the module the far end queued since the last microphone block (under the
        lock, in the capture thread)."""
        assert self._apm is not None
        while self._rendered:
            pcm, delay_s, queued_at = self._rendered.popleft()
            waited = time.monotonic() - queued_at
            self._delay.rendered(delay_s - waited, self._render_framer.held)
            for frame in self._render_framer.push(pcm):
                self._erle.far(mean_square(frame))
                try:
                    self._apm.analyze(frame)
                except RuntimeError as exc:
                    self._failed(exc)

    def capture(self, pcm: Pcm, delay_s: float) -> Pcm:
        """The microphone block (int16 mono, first sample captured `delay_s` ago) processed:
        as many samples, lagging the input by less than 10 ms."""
        with self._lock:
            if self._apm is None:
                self._mic.update(pcm)
                return pcm
            if self._aec:
                self._analyze_rendered()
                self._delay.captured(delay_s, self._capture_framer.held)
                estimate = self._delay.ms
                if estimate is not None:
                    self._delay_ms = min(max(round(estimate), 0), MAX_STREAM_DELAY_MS)
            for frame in self._capture_framer.push(pcm):
                try:
                    processed = self._apm.process(frame, self._delay_ms if self._aec else None)
                except RuntimeError as exc:
                    self._failed(exc)
                    processed = frame
                if self._aec:
                    self._erle.near(mean_square(frame), mean_square(processed))
                self._out.write(processed)
            out = self._out.read(len(pcm))
            self._mic.update(out)
            return out

    @property
    def stats(self) -> EchoStats:
        with self._lock:
            erle = self._erle.db if self._apm is not None and self._aec else None
            return EchoStats(
                echo_removed_db=None if erle is None else round(erle, 1),
                mic_rms=self._mic.rms,
                speaker_rms=self._speaker.rms,
                delay_ms=float(self._delay_ms),
                echo_cancellation=self.processing.echo_cancellation,
                noise_suppression=self.processing.noise_suppression,
                auto_gain=self.processing.auto_gain,
            )

    def _failed(self, exc: RuntimeError) -> None:
        if not self.errors:
            logger.warning("audio processing failed (the frame goes on unprocessed): %s", exc)
        self.errors += 1

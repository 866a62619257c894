"""Sources: what the bot sends. Each makes one aiortc audio track per call.

- `FileSource`: a sound file (any format PyAV opens), decoded once, played once or looped.
- `ToneSource`: a sine tone. `SilenceSource`: digital silence.
- `EchoSource`: each track sends back the Opus packets its call receives, as they arrive.

File, tone and silence tracks yield a 20 ms frame every 20 ms, scheduled from their start
time (`FrameClock`): pre-encoded Opus packets by default (`encode_once`, see `opus.py`), or
PCM `av.AudioFrame`s that aiortc encodes per call. Those frames are mono, which aiortc's
encoder upmixes to stereo at -3 dB: PCM-frame tracks arrive 3 dB quieter than packets (stereo
frames would double aiortc's per-frame audio-level cost instead). Every track reports each
frame it sends (`frames.SentReporter`): to counters, and its PCM to listeners (the recorder).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import weakref
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, AudioResampler, Packet

from agent_bot.media.frames import (
    FRAME_SAMPLES,
    FRAME_SECONDS,
    SAMPLE_RATE,
    Pcm,
    SentReporter,
)
from agent_bot.media.opus import TIME_BASE, EncodedSample, packet
from agent_bot.media.rtpreceiver import OpusDecoder

logger = logging.getLogger(__name__)

SILENT_FRAME: Pcm = np.zeros(FRAME_SAMPLES, dtype=np.int16)

MAX_LATE_FRAMES = 3
"""A track this many frames behind its schedule restarts its schedule from now instead of
sending the missed frames back to back."""

ECHO_QUEUE_PACKETS = 5
"""Received packets an echo track holds while its sender is busy; beyond that the oldest are
dropped (the sender normally takes each one as it arrives)."""

TAIL_FRAMES = 5
"""Silent frames after a sample played once: aiortc's receiver holds 4 frames in its jitter
buffer until later packets push them out, so without a tail the last 80 ms never play."""

TONE_AMPLITUDE = 0.3

MAX_FILE_SECONDS = 600
"""Longest file a source decodes (held in memory: 58 MB at this length); loop a shorter one."""


class SourceError(Exception):
    """A source cannot be made (unreadable file, bad tone frequency)."""


class FrameClock:
    """Paces 20 ms frames in real time: frame n is due at start + n × 20 ms.

    Waiting on an absolute schedule never drifts. After a stall of more than
    `MAX_LATE_FRAMES` frames the schedule restarts from now, so a late track never bursts.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._start: float | None = None
        self.index = -1
        self.restarts = 0

    def advance(self) -> float:
        """Moves to the next frame; returns how long to wait until it is due (≥ 0)."""
        now = self._clock()
        self.index += 1
        if self._start is None:
            self._start = now
        due = self._start + self.index * FRAME_SECONDS
        if now - due > MAX_LATE_FRAMES * FRAME_SECONDS:
            self._start = now - self.index * FRAME_SECONDS
            self.restarts += 1
            return 0.0
        return max(0.0, due - now)

    async def tick(self) -> int:
        """Waits until the next frame is due; returns its index."""
        await asyncio.sleep(self.advance())
        return self.index


def audio_frame(pcm: Pcm, pts: int) -> AudioFrame:
    """One mono s16 48 kHz `av.AudioFrame` of `pcm` at `pts` (in samples)."""
    frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = TIME_BASE
    return frame


class PacedTrack(MediaStreamTrack, SentReporter):
    """An audio track sending one 20 ms frame every 20 ms; it reports each frame it sends.

    `ended` is set when the track stops: after its last frame, or when stopped.
    """

    kind = "audio"

    def __init__(self) -> None:
        MediaStreamTrack.__init__(self)
        SentReporter.__init__(self)
        self.ended = asyncio.Event()
        self._clock = FrameClock()

    @property
    def stalls(self) -> int:
        """How many times this track fell too far behind and restarted its schedule."""
        return self._clock.restarts

    def stop(self) -> None:
        super().stop()
        self.ended.set()

    async def recv(self) -> AudioFrame | Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        stalls = self.stalls
        index = await self._clock.tick()
        if self.stalls != stalls:
            logger.debug("track=%s stalled before frame %d: schedule restarted", self.id, index)
        pcm = self._frame(index)
        if pcm is None:
            logger.info("track=%s ended after %d frames", self.id, index)
            self.stop()
            raise MediaStreamError
        self.report_sent(pcm)
        return self._media(index, pcm)

    @abstractmethod
    def _frame(self, index: int) -> Pcm | None:
        """The PCM of frame `index`; None when there is no more."""

    def _media(self, index: int, pcm: Pcm) -> AudioFrame | Packet[Any]:
        return audio_frame(pcm, index * FRAME_SAMPLES)


class SampleTrack(PacedTrack):
    """Plays a sample held in memory, as PCM frames or as its pre-encoded Opus packets."""

    def __init__(self, pcm: Pcm, *, loop: bool, encoded: EncodedSample | None) -> None:
        super().__init__()
        self._pcm = pcm
        self._frames = len(pcm) // FRAME_SAMPLES
        self._looping = loop
        self._encoded = encoded

    def _frame(self, index: int) -> Pcm | None:
        if index >= self._frames and not self._looping:
            return None
        start = (index % self._frames) * FRAME_SAMPLES
        return self._pcm[start : start + FRAME_SAMPLES]

    def _media(self, index: int, pcm: Pcm) -> AudioFrame | Packet[Any]:
        if self._encoded is None:
            return super()._media(index, pcm)
        payload = self._encoded.payload(index)
        assert payload is not None  # the sample and its packets have the same length
        return packet(payload, index * FRAME_SAMPLES)


class SampleSource:
    """Plays one sample (mono int16 48 kHz) into every call, each call from its start.

    A sample played once is followed by `TAIL_FRAMES` of silence, then its tracks end.
    """

    def __init__(self, pcm: Pcm, *, loop: bool, encode_once: bool) -> None:
        if len(pcm) == 0:
            raise SourceError("the sample is empty")
        padding = -len(pcm) % FRAME_SAMPLES + (0 if loop else TAIL_FRAMES * FRAME_SAMPLES)
        self.pcm: Pcm = np.concatenate([pcm, np.zeros(padding, dtype=np.int16)])
        self.loop = loop
        self.encoded = EncodedSample(self.pcm, loop=loop) if encode_once else None
        self._tracks: weakref.WeakSet[SampleTrack] = weakref.WeakSet()

    @property
    def duration(self) -> float:
        """Seconds of one play of the sample (with its tail)."""
        return len(self.pcm) / SAMPLE_RATE

    def create_track(self) -> SampleTrack:
        track = SampleTrack(self.pcm, loop=self.loop, encoded=self.encoded)
        self._tracks.add(track)
        return track

    def close(self) -> None:
        """Stops every track still playing."""
        for track in list(self._tracks):
            track.stop()


class FileSource(SampleSource):
    """A sound file, decoded once to mono 48 kHz; played once (the track then ends) or looped."""

    def __init__(self, path: str | Path, *, loop: bool = False, encode_once: bool = True) -> None:
        self.path = Path(path)
        super().__init__(decode(self.path), loop=loop, encode_once=encode_once)
        logger.info(
            "source file=%s duration=%.2fs loop=%s encode_once=%s",
            self.path,
            self.duration,
            loop,
            encode_once,
        )


def decode(path: Path) -> Pcm:
    """The whole audio of a file as mono int16 at 48 kHz; SourceError if there is none."""
    resampler = AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[Pcm] = []
    samples = 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise SourceError(f"cannot play {path}: it has no audio stream")
            for frame in container.decode(container.streams.audio[0]):
                chunks.extend(f.to_ndarray()[0] for f in resampler.resample(frame))
                samples += frame.samples * SAMPLE_RATE // (frame.sample_rate or SAMPLE_RATE)
                if samples > MAX_FILE_SECONDS * SAMPLE_RATE:
                    raise SourceError(
                        f"cannot play {path}: longer than {MAX_FILE_SECONDS} s (loop a shorter one)"
                    )
            chunks.extend(f.to_ndarray()[0] for f in resampler.resample(None))
    except (OSError, ValueError, av.FFmpegError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SourceError(f"cannot play {path}: {reason}") from exc
    if sum(len(chunk) for chunk in chunks) == 0:
        raise SourceError(f"cannot play {path}: it holds no audio")
    return np.concatenate(chunks).astype(np.int16, copy=False)


class ToneSource(SampleSource):
    """A sine tone at `hz` (rounded to whole hertz so that one second loops seamlessly)."""

    def __init__(self, hz: float, *, encode_once: bool = True) -> None:
        if not 0 < hz < SAMPLE_RATE / 2:
            raise SourceError(f"tone frequency must be above 0 and below 24000 Hz, not {hz}")
        self.hz = max(1, round(hz))
        phase = 2 * np.pi * self.hz * np.arange(SAMPLE_RATE) / SAMPLE_RATE
        pcm = (np.sin(phase) * TONE_AMPLITUDE * 32767).astype(np.int16)
        super().__init__(pcm, loop=True, encode_once=encode_once)


class SilenceSource(SampleSource):
    """Digital silence, forever."""

    def __init__(self, *, encode_once: bool = True) -> None:
        super().__init__(SILENT_FRAME, loop=True, encode_once=encode_once)


class EchoTrack(MediaStreamTrack, SentReporter):
    """Sends back the Opus packets its call receives, as they arrive: no decoding, no encoding.

    A `PacketSink`: the call feeds it the packets its receiver gets (`rtpreceiver.tap_rtp`).
    Each packet keeps its RTP timestamp spacing, so a lost one stays a gap that the far end
    conceals; a packet no newer than the last one taken is dropped (late or reordered), and
    at most `ECHO_QUEUE_PACKETS` wait (the oldest are dropped). Sent-listeners (the recorder)
    get the decoded PCM of each packet sent; without one, nothing is decoded.
    """

    kind = "audio"

    def __init__(self) -> None:
        MediaStreamTrack.__init__(self)
        SentReporter.__init__(self)
        self._queue: collections.deque[tuple[int, bytes]] = collections.deque(
            maxlen=ECHO_QUEUE_PACKETS
        )
        self._arrived = asyncio.Event()
        self._newest: int | None = None
        self._pts = 0
        self._decoder: OpusDecoder | None = None
        self.dropped = 0
        """Packets not sent back: late, reordered, duplicated or crowded out of the queue."""

    def write_packet(self, seq: int, timestamp: int, arrival: float, payload: bytes) -> None:
        if self.readyState != "live":
            return
        if self._newest is not None:
            ahead = (timestamp - self._newest) & 0xFFFFFFFF
            if ahead == 0 or ahead >= 1 << 31:
                self.dropped += 1
                return
            self._pts += ahead
        self._newest = timestamp
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append((self._pts, payload))
        self._arrived.set()

    async def recv(self) -> Packet[Any]:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._arrived.clear()
            await self._arrived.wait()
        pts, payload = self._queue.popleft()
        pcm = None
        if self.wants_pcm:
            self._decoder = self._decoder or OpusDecoder()
            pcm = self._decoder.decode(payload)
        self.report_sent(pcm)
        return packet(payload, pts)

    def stop(self) -> None:
        super().stop()
        self._queue.clear()
        self._arrived.set()


class EchoSource:
    """Each call's track sends back that call's received audio (see `EchoTrack`)."""

    def __init__(self) -> None:
        self._tracks: weakref.WeakSet[EchoTrack] = weakref.WeakSet()

    def create_track(self) -> EchoTrack:
        track = EchoTrack()
        self._tracks.add(track)
        return track

    def close(self) -> None:
        """Stops every track still playing."""
        for track in list(self._tracks):
            track.stop()

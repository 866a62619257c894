"""20 ms PCM frames, and the source and sink interfaces the call engine is written against.

A *source* makes one local track per call (what the bot sends). A *sink* takes the decoded
audio of one call (what the bot received). The call engine knows nothing else of files,
tones or devices.

PCM inside the bot is always mono int16 at 48 kHz in frames of 960 samples (20 ms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from av import AudioFrame, Packet
from av.frame import Frame

if TYPE_CHECKING:  # (the sound engine imports this module without aiortc)
    from aiortc import MediaStreamTrack

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE

Pcm = npt.NDArray[np.int16]
"""One frame (or more) of mono int16 samples at `SAMPLE_RATE`."""

PcmListener = Callable[[Pcm], None]


@runtime_checkable
class AudioSink(Protocol):
    """Consumes one call's received audio, one frame at a time, on the event loop."""

    def write(self, pcm: Pcm) -> None: ...

    def close(self) -> None: ...


class AudioTap(AudioSink, Protocol):
    """A sink that also takes the audio sent, frame by frame (recorder, QA capture)."""

    def write_sent(self, pcm: Pcm) -> None: ...


@runtime_checkable
class PacketSink(Protocol):
    """Takes one call's received Opus packets as they arrive, before any jitter buffer (echo)."""

    def write_packet(self, seq: int, timestamp: int, arrival: float, payload: bytes) -> None: ...


SentCounter = Callable[[], None]


@runtime_checkable
class SentAudio(Protocol):
    """A local track that reports every frame it sends: to counters, and its PCM to listeners
    (the recorder, QA capture)."""

    def add_sent_counter(self, counter: SentCounter) -> None: ...

    def add_sent_listener(self, listener: PcmListener) -> None: ...


class SentReporter:
    """The `SentAudio` part of a track. A track that has to work for the PCM of what it sent
    (an echo decodes it) asks `wants_pcm` first."""

    def __init__(self) -> None:
        self._counters: list[SentCounter] = []
        self._listeners: list[PcmListener] = []

    def add_sent_counter(self, counter: SentCounter) -> None:
        self._counters.append(counter)

    def add_sent_listener(self, listener: PcmListener) -> None:
        self._listeners.append(listener)

    @property
    def wants_pcm(self) -> bool:
        return bool(self._listeners)

    def report_sent(self, pcm: Pcm | None) -> None:
        """One frame was sent; `pcm` may be None only while nobody `wants_pcm`."""
        for counter in self._counters:
            counter()
        if pcm is not None:
            for listener in self._listeners:
                listener(pcm)


class Source(Protocol):
    """Makes the local (sending) track of each call.

    A track that is also a `PacketSink` (echo) is fed the call's received packets.
    """

    def create_track(self) -> MediaStreamTrack: ...

    def close(self) -> None: ...


def frame_to_pcm(frame: Frame | Packet[Any]) -> Pcm:
    """A decoded frame as mono int16 PCM (aiortc decodes to packed s16 stereo at 48 kHz)."""
    if not isinstance(frame, AudioFrame):
        raise ValueError(f"expected an audio frame, got {type(frame).__name__}")
    if frame.format.name != "s16" or frame.sample_rate != SAMPLE_RATE:
        raise ValueError(f"unexpected frame format {frame.format.name} at {frame.sample_rate} Hz")
    samples = np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1, frame.layout.nb_channels)
    if samples.shape[1] == 1:
        return samples[:, 0].copy()
    # The mean of the channels in integers: several times cheaper than through floats.
    mixed: Pcm = (samples.sum(axis=1, dtype=np.int32) // samples.shape[1]).astype(np.int16)
    return mixed

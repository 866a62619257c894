"""Real aiortc peers over loopback, and the measures the media tests apply to what arrives."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError

from agent_bot.media.frames import SAMPLE_RATE, Pcm, frame_to_pcm

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


class Loopback:
    """Sends a track from one RTCPeerConnection to another; gives the far end's track."""

    def __init__(self) -> None:
        self.peers: list[RTCPeerConnection] = []

    async def __call__(self, track: MediaStreamTrack) -> MediaStreamTrack:
        sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.peers.extend([sender, receiver])
        remote: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
        receiver.on("track", remote.set_result)
        sender.addTrack(track)
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        return await asyncio.wait_for(remote, 10)

    def receiver(self, remote: MediaStreamTrack) -> RTCRtpReceiver:
        """The receiver whose track `remote` is."""
        transceivers = [t for pc in self.peers for t in pc.getTransceivers()]
        return next(t.receiver for t in transceivers if t.receiver.track is remote)


Connect = Loopback


@pytest.fixture
async def loopback() -> AsyncIterator[Loopback]:
    connect = Loopback()
    yield connect
    for peer in connect.peers:
        await peer.close()


async def receive(track: MediaStreamTrack, seconds: float) -> Pcm:
    """The mono PCM a remote track yields for `seconds` (or until it ends or stalls for 2 s)."""
    chunks: list[Pcm] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            frame = await asyncio.wait_for(track.recv(), 2)
        except (MediaStreamError, TimeoutError):
            break
        chunks.append(frame_to_pcm(frame))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


def lag(reference: Pcm, received: Pcm) -> int:
    """Samples by which `received` is late on `reference` (FFT cross-correlation)."""
    size = 1 << (len(reference) + len(received)).bit_length()
    spectrum = np.fft.rfft(received.astype(np.float64), size) * np.conj(
        np.fft.rfft(reference.astype(np.float64), size)
    )
    correlation = np.fft.irfft(spectrum, size)
    return int(np.argmax(correlation[: len(received)]))


def window_correlations(reference: Pcm, received: Pcm, search_ms: float = 10) -> list[float]:
    """Normalised cross-correlation of each 1-s window of `reference` found in `received`,
    each window aligned on its own within ±`search_ms` of the overall lag."""
    offset = lag(reference, received)
    search = int(search_ms * SAMPLE_RATE / 1000)
    scores = []
    for start in range(0, len(reference) - SAMPLE_RATE + 1, SAMPLE_RATE):
        chunk = reference[start : start + SAMPLE_RATE].astype(np.float64)
        begin = max(0, start + offset - search)
        region = received[begin : start + offset + SAMPLE_RATE + search]
        if not chunk.any() or len(region) < SAMPLE_RATE:
            continue
        found = begin + lag(reference[start : start + SAMPLE_RATE], region)
        other = received[found : found + SAMPLE_RATE].astype(np.float64)
        norm = np.sqrt((chunk @ chunk) * (other @ other))
        if len(other) == SAMPLE_RATE and norm:
            scores.append(float(chunk @ other / norm))
    return scores


def dominant_hz(pcm: Pcm) -> float:
    """The frequency of the strongest spectral peak of `pcm`."""
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(pcm))

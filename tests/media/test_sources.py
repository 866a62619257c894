"""Sources over real aiortc loopback calls: what arrives, at what pace, and bad input."""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from agent_bot.media import sources
from agent_bot.media.frames import FRAME_SAMPLES, SAMPLE_RATE, Pcm, SentAudio
from agent_bot.media.rtpreceiver import tap_rtp
from agent_bot.media.sources import (
    ECHO_QUEUE_PACKETS,
    MAX_LATE_FRAMES,
    TAIL_FRAMES,
    EchoSource,
    EchoTrack,
    FileSource,
    FrameClock,
    PacedTrack,
    SampleSource,
    SilenceSource,
    SourceError,
    ToneSource,
    decode,
)
from tests.media.conftest import (
    SAMPLES,
    Connect,
    dominant_hz,
    lag,
    receive,
    window_correlations,
)

HELLO = SAMPLES / "hello-48k.wav"
WEATHER = SAMPLES / "weather-48k.wav"


def read_wav(path: Path) -> Pcm:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, SAMPLE_RATE, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)


def write_audio(path: Path, pcm: Pcm, codec: str, rate: int, layout: str) -> None:
    """Writes mono 48 kHz `pcm` with PyAV as `codec` at `rate` Hz in `layout`."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        resampler = av.AudioResampler(format=stream.codec_context.format, layout=layout, rate=rate)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            converted.pts = None
            container.mux(stream.encode(converted))
        container.mux(stream.encode(None))


@pytest.mark.parametrize("encode_once", [True, False], ids=["encode-once", "per-frame"])
async def test_file_audio_arrives_and_correlates_with_the_sample(
    loopback: Connect, encode_once: bool
) -> None:
    source = FileSource(HELLO, encode_once=encode_once)
    remote = await loopback(source.create_track())
    received = await receive(remote, source.duration + 0.5)
    original = read_wav(HELLO)
    assert len(received) >= len(original), "the end of the sample did not arrive"
    scores = window_correlations(original, received)
    assert len(scores) >= 9, f"only {len(scores)} one-second windows arrived"
    assert float(np.median(scores)) >= 0.9, scores


@pytest.mark.parametrize("encode_once", [True, False], ids=["encode-once", "per-frame"])
async def test_tone_frequency_is_heard_at_the_far_end(loopback: Connect, encode_once: bool) -> None:
    remote = await loopback(ToneSource(697, encode_once=encode_once).create_track())
    received = await receive(remote, 2.0)
    steady = received[SAMPLE_RATE // 2 :]
    assert len(steady) >= SAMPLE_RATE
    assert abs(dominant_hz(steady) - 697) < 3
    assert np.sqrt(np.mean(steady.astype(np.float64) ** 2)) > 1000


async def test_silence_arrives_as_silence(loopback: Connect) -> None:
    received = await receive(await loopback(SilenceSource().create_track()), 1.0)
    assert len(received) >= SAMPLE_RATE // 2
    assert np.abs(received).max() < 50


async def test_echo_sends_back_what_it_receives(loopback: Connect) -> None:
    """tone → call 1 → its received packets → echo track → call 2 → here: the tone comes back."""
    echo = EchoSource().create_track()
    assert isinstance(echo, EchoTrack)
    inbound = await loopback(ToneSource(440).create_track())
    tap_rtp(loopback.receiver(inbound), echo.write_packet)
    returned = await loopback(echo)
    drain = asyncio.create_task(receive(inbound, 3.0))  # aiortc's own track keeps working
    received = await receive(returned, 2.5)
    heard = await drain
    steady = received[SAMPLE_RATE:]
    assert abs(dominant_hz(steady) - 440) < 3
    assert np.sqrt(np.mean(steady.astype(np.float64) ** 2)) > 1000
    assert len(heard) >= 2 * SAMPLE_RATE
    assert echo.dropped == 0


def opus_payloads(count: int) -> list[bytes]:
    """`count` 20 ms Opus packets of a 440 Hz tone."""
    encoded = ToneSource(440).encoded
    assert encoded is not None
    return [payload for index in range(count) if (payload := encoded.payload(index))]


async def test_echo_keeps_timestamp_spacing_and_drops_late_packets() -> None:
    track = EchoTrack()
    sent: list[Pcm] = []
    track.add_sent_listener(sent.append)
    payloads = opus_payloads(6)
    start = 0xFFFFFFFF - FRAME_SAMPLES  # the RTP timestamp wraps after the second
    stamps = [start + n * FRAME_SAMPLES for n in (0, 1, 3, 2, 3, 4)]  # a loss, a reorder, a dup
    for seq, (stamp, payload) in enumerate(zip(stamps, payloads, strict=True)):
        track.write_packet(seq, stamp & 0xFFFFFFFF, 0.0, payload)
    out = [await track.recv() for _ in range(4)]
    assert [packet.pts // FRAME_SAMPLES for packet in out] == [0, 1, 3, 4]
    assert [bytes(packet) for packet in out] == [payloads[0], payloads[1], payloads[2], payloads[5]]
    assert track.dropped == 2  # the reordered packet and the duplicate
    assert len(sent) == 4 and all(len(pcm) == FRAME_SAMPLES for pcm in sent)
    assert abs(dominant_hz(np.concatenate(sent[1:])) - 440) < 10


async def test_echo_decodes_only_for_listeners_that_want_pcm() -> None:
    track = EchoTrack()
    counted: list[None] = []
    track.add_sent_counter(lambda: counted.append(None))
    payloads = opus_payloads(4)
    for seq, payload in enumerate(payloads):
        track.write_packet(seq, seq * FRAME_SAMPLES, 0.0, payload)
    await track.recv()
    await track.recv()
    assert len(counted) == 2
    assert track._decoder is None  # counted, not decoded
    sent: list[Pcm] = []
    track.add_sent_listener(sent.append)  # a recorder joins mid-call
    await track.recv()
    await track.recv()
    assert len(counted) == 4
    assert len(sent) == 2 and all(len(pcm) == FRAME_SAMPLES for pcm in sent)


async def test_echo_queue_is_bounded_and_stop_ends_a_waiting_recv() -> None:
    track = EchoTrack()
    payloads = opus_payloads(ECHO_QUEUE_PACKETS + 3)
    for seq, payload in enumerate(payloads):
        track.write_packet(seq, seq * FRAME_SAMPLES, 0.0, payload)
    assert track.dropped == 3
    first = await track.recv()
    assert first.pts == 3 * FRAME_SAMPLES  # the oldest were dropped
    for _ in range(ECHO_QUEUE_PACKETS - 1):
        await track.recv()
    waiting = asyncio.create_task(track.recv())
    await asyncio.sleep(0.05)
    assert not waiting.done()  # nothing received: nothing sent
    track.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(waiting, 1)
    track.write_packet(99, 99 * FRAME_SAMPLES, 0.0, payloads[0])  # ignored after the end
    with pytest.raises(MediaStreamError):
        await track.recv()


@pytest.mark.parametrize(
    "make_track",
    [
        lambda: FileSource(HELLO, loop=True).create_track(),
        lambda: FileSource(HELLO, loop=True, encode_once=False).create_track(),
    ],
    ids=["encode-once", "per-frame"],
)
async def test_tracks_send_fifty_frames_a_second(make_track: Callable[[], PacedTrack]) -> None:
    track = make_track()
    await track.recv()
    start = time.monotonic()
    frames = 0
    while time.monotonic() - start < 3.0:
        await track.recv()
        frames += 1
    rate = frames / (time.monotonic() - start)
    assert 45 <= rate <= 55, f"{rate:.1f} frames/s ({track.stalls} stalls)"


def test_frame_clock_keeps_an_absolute_schedule_and_never_bursts() -> None:
    now = [100.0]
    clock = FrameClock(lambda: now[0])
    assert clock.advance() == 0.0  # frame 0 at once
    now[0] += 0.005
    assert clock.advance() == pytest.approx(0.015)  # frame 1 due at +20 ms
    now[0] = 100.045  # woke late: frame 2 (due at +40 ms) is 5 ms late, sent at once
    assert clock.advance() == 0.0
    assert clock.advance() == pytest.approx(0.015)  # frame 3 still due at +60 ms: no drift
    now[0] = 100.060 + (MAX_LATE_FRAMES + 2) * 0.020  # a long stall
    assert clock.advance() == 0.0  # frame 4 now, and the schedule restarts from here
    assert clock.restarts == 1
    assert clock.advance() == pytest.approx(0.020)  # frame 5: one frame later, not at once
    assert clock.index == 5


async def test_a_stalled_track_restarts_its_schedule_instead_of_bursting() -> None:
    track = ToneSource(440).create_track()
    await track.recv()
    time.sleep(0.3)  # noqa: ASYNC251 (on purpose: the event loop stalls for 15 frames)
    await track.recv()  # late: sent at once
    start = time.monotonic()
    await track.recv()
    waited = time.monotonic() - start
    assert track.stalls == 1
    assert waited >= 0.010, "the frame after a stall went out back to back"


@pytest.mark.parametrize("encode_once", [True, False], ids=["encode-once", "per-frame"])
async def test_a_sample_played_once_ends_after_its_last_frame(encode_once: bool) -> None:
    pcm = np.arange(5 * FRAME_SAMPLES, dtype=np.int16)
    track = SampleSource(pcm, loop=False, encode_once=encode_once).create_track()
    assert isinstance(track, SentAudio)
    sent: list[Pcm] = []
    track.add_sent_listener(sent.append)
    emitted: list[bool] = []
    track.on("ended", lambda: emitted.append(True))
    for _ in range(5 + TAIL_FRAMES):
        await track.recv()
    assert not track.ended.is_set()
    with pytest.raises(MediaStreamError):
        await track.recv()
    assert track.ended.is_set()
    assert emitted == [True]
    assert track.readyState == "ended"
    tail = np.zeros(TAIL_FRAMES * FRAME_SAMPLES, dtype=np.int16)
    assert np.array_equal(np.concatenate(sent), np.concatenate([pcm, tail]))


async def test_a_looped_sample_starts_again_with_continuous_timestamps() -> None:
    pcm = np.arange(3 * FRAME_SAMPLES, dtype=np.int16)
    track = SampleSource(pcm, loop=True, encode_once=False).create_track()
    sent: list[Pcm] = []
    track.add_sent_listener(sent.append)
    pts = [(await track.recv()).pts for _ in range(7)]
    assert pts == [index * FRAME_SAMPLES for index in range(7)]
    assert np.array_equal(np.concatenate(sent), np.concatenate([pcm, pcm, pcm[:FRAME_SAMPLES]]))


async def test_closing_a_source_stops_its_tracks() -> None:
    source = ToneSource(1000)
    tracks = [source.create_track(), source.create_track()]
    source.close()
    assert all(track.ended.is_set() for track in tracks)
    with pytest.raises(MediaStreamError):
        await tracks[0].recv()


@pytest.mark.parametrize(
    ("name", "codec", "rate", "layout"),
    [
        ("stereo-44k.wav", "pcm_s16le", 44_100, "stereo"),
        ("speech.flac", "flac", 48_000, "mono"),
        ("speech.mp3", "libmp3lame", 44_100, "stereo"),
    ],
)
def test_files_in_other_formats_are_decoded_to_48k_mono(
    tmp_path: Path, name: str, codec: str, rate: int, layout: str
) -> None:
    original = read_wav(WEATHER)
    path = tmp_path / name
    write_audio(path, original, codec, rate, layout)
    decoded = decode(path)
    assert abs(len(decoded) - len(original)) < SAMPLE_RATE // 10  # codec padding only
    scores = window_correlations(original, decoded)
    assert len(scores) >= 8
    assert min(scores) >= 0.95, scores


def test_the_ogg_opus_samples_decode_like_their_wavs() -> None:
    for name in ("hello", "weather"):
        original = read_wav(SAMPLES / f"{name}-48k.wav")
        decoded = decode(SAMPLES / f"{name}.opus")
        assert abs(len(decoded) - len(original)) <= 2 * FRAME_SAMPLES
        assert abs(lag(original, decoded)) < 10  # Ogg/Opus pre-skip already removed
        assert float(np.median(window_correlations(original, decoded))) >= 0.95


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "No such file"),
        (b"", "Invalid data"),
        (b"this is not audio\n" * 100, "Invalid data"),
    ],
    ids=["missing", "empty", "text"],
)
def test_unreadable_files_raise_a_source_error_naming_the_file(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "input.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=reason) as error:
        FileSource(path)
    assert str(path) in str(error.value)


def test_a_directory_or_a_file_without_audio_raises_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=str(tmp_path)):
        FileSource(tmp_path)
    silent_header = tmp_path / "no-samples.wav"
    with wave.open(str(silent_header), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
    with pytest.raises(SourceError, match="no audio"):
        FileSource(silent_header)
    image = tmp_path / "picture.png"
    with av.open(str(image), "w") as container:
        stream = container.add_stream("png", rate=1)
        stream.width = stream.height = 16
        stream.pix_fmt = "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), dtype=np.uint8), format="rgb24")
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(SourceError, match="no audio stream"):
        FileSource(image)


def test_a_file_too_long_to_hold_raises_a_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_FILE_SECONDS", 5)
    with pytest.raises(SourceError, match="longer than 5 s"):
        FileSource(HELLO)


@pytest.mark.parametrize("hz", [0, -5, 24_000, 100_000])
def test_impossible_tone_frequencies_raise_a_source_error(hz: float) -> None:
    with pytest.raises(SourceError, match="frequency"):
        ToneSource(hz)

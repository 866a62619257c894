"""In-order decoding of received packets: reorder window, PLC for gaps, wrap and resync."""

from __future__ import annotations

import numpy as np
import pytest

from agent_bot.media.frames import FRAME_SAMPLES, Pcm
from agent_bot.media.opus import encode
from agent_bot.media.packetdecoder import (
    MAX_CONCEAL_PACKETS,
    REORDER_PACKETS,
    RESYNC_SAMPLES,
    PacketDecoder,
)
from agent_bot.media.rtpreceiver import OpusDecoder

CONCEALED = -1


class Numbered:
    """Payload = the packet's number as text; a frame holds that number; concealment -1."""

    def decode(self, payload: bytes) -> Pcm:
        return np.full(FRAME_SAMPLES, int(payload), dtype=np.int16)

    def conceal(self) -> Pcm:
        return np.full(FRAME_SAMPLES, CONCEALED, dtype=np.int16)


class Run:
    def __init__(self, **kwargs: int) -> None:
        self.out: list[int] = []
        self.decoder = PacketDecoder(Numbered(), lambda pcm: self.out.append(int(pcm[0])), **kwargs)
        self.decoded = 0

    def put(self, *seqs: int, first_ts: int = 0, number: int | None = None) -> None:
        for seq in seqs:
            ts = (first_ts + seq * FRAME_SAMPLES) & 0xFFFFFFFF
            label = seq if number is None else number
            self.decoded += self.decoder.put(seq & 0xFFFF, ts, str(label).encode())


def test_in_order_packets_come_out_at_once() -> None:
    run = Run()
    for seq in range(10):
        run.put(seq)
        assert run.out[-1] == seq
    assert run.out == list(range(10)) and run.decoded == 10
    stats = run.decoder.stats
    assert stats.decoded == stats.received == 10
    assert stats.concealed == stats.late == stats.duplicates == stats.resyncs == 0


def test_a_packet_late_within_the_window_is_used_in_its_place() -> None:
    run = Run()
    run.put(0, 1, 3)
    assert run.out == [0, 1]  # 3 is held for 2
    run.put(4, 2)
    assert run.out == [0, 1, 2, 3, 4]
    run.put(5, *range(7, 7 + REORDER_PACKETS), 6)  # overtaken by the most the window allows
    assert run.out == list(range(7 + REORDER_PACKETS))
    assert run.decoder.stats.concealed == 0


def test_a_gap_the_window_passes_is_concealed_one_frame_per_packet() -> None:
    run = Run()
    run.put(0, 1, 3, 4)
    assert run.out == [0, 1]
    run.put(5)  # 3 past the missing 2: given up
    assert run.out == [0, 1, CONCEALED, 3, 4, 5]
    run.put(7, 8, 9)  # 2 packets past the window at once
    run.put(6, 2)  # too late now
    assert run.out == [0, 1, CONCEALED, 3, 4, 5, CONCEALED, 7, 8, 9]
    stats = run.decoder.stats
    assert (stats.concealed, stats.late, stats.duplicates, stats.decoded) == (2, 2, 0, 8)
    assert run.decoded == 8


def test_duplicates_are_dropped_and_counted() -> None:
    run = Run()
    run.put(0, 1, 1, 3, 3, 0)
    assert run.out == [0, 1]
    assert run.decoder.stats.duplicates == 3


def test_a_gap_too_long_to_conceal_is_skipped() -> None:
    run = Run()
    gap = MAX_CONCEAL_PACKETS + 1
    run.put(0, *range(1 + gap, 4 + gap))
    assert run.out == [0, *range(1 + gap, 4 + gap)]
    stats = run.decoder.stats
    assert (stats.concealed, stats.skipped) == (0, gap)


def test_sequence_numbers_and_timestamps_wrap() -> None:
    run = Run()
    first = 0xFFFF - 3
    ts = 0xFFFFFFFF - 5000
    run.put(*range(first, first + 4), first + 5, first + 6, first + 4, first_ts=ts, number=1)
    run.put(first + 8, first + 9, first + 10, first_ts=ts, number=2)
    assert run.out == [1] * 7 + [CONCEALED] + [2] * 3
    assert run.decoder.stats.resyncs == 0


def test_a_sender_restart_resyncs() -> None:
    run = Run()
    run.put(0, 1, 2, 4)  # 4 held for 3
    run.put(30_000, 30_001, number=7)  # new sequence numbers: resync, 4 delivered first
    assert run.out == [0, 1, 2, CONCEALED, 4, 7, 7]
    run.put(30_002, 30_003, first_ts=RESYNC_SAMPLES * 2, number=9)  # a timestamp jump alone
    assert run.out == [0, 1, 2, CONCEALED, 4, 7, 7, 9, 9]
    assert run.decoder.stats.resyncs == 2


def test_flush_gives_what_is_held() -> None:
    run = Run()
    run.put(0, 2, 3)
    assert run.out == [0]
    assert run.decoder.flush() == 2
    assert run.out == [0, CONCEALED, 2, 3]


def test_window_zero_conceals_at_once() -> None:
    run = Run(window=0)
    run.put(0, 2)
    assert run.out == [0, CONCEALED, 2]
    with pytest.raises(ValueError):
        Run(window=-1)


def test_opus_packets_lost_are_concealed_with_plc() -> None:
    """With the real decoder: a lost packet's frame carries the tone on (not silence)."""
    t = np.arange(FRAME_SAMPLES * 20) / 48_000
    payloads = encode((8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16))
    frames: list[Pcm] = []
    decoder = PacketDecoder(OpusDecoder(), frames.append)
    for seq, payload in enumerate(payloads):
        if seq != 10:
            decoder.put(seq, seq * FRAME_SAMPLES, payload)
    assert len(frames) == 20 and all(len(f) == FRAME_SAMPLES for f in frames)
    assert decoder.stats.concealed == 1
    level = np.sqrt(np.mean(frames[10].astype(np.float64) ** 2))
    assert level > 1000

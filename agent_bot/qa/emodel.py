"""ITU-T G.107 E-model, simplified for Opus over RTP: R-factor and MOS from delay and loss.

R = Ro − Is − Id − Ie,eff + A, with every G.107 parameter at its default value except the
delays (T = Ta = the one-way mouth-to-ear delay, Tr = 2T) and the codec's loss figures.
See docs/quality.md for the formulas, their sources and the Opus values chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agent_bot.qa.score import MOS_CQE, NETWORK, Score

RO = 94.77
"""Basic signal-to-noise ratio with G.107's default noise and loudness values."""
IS = 1.41
"""Simultaneous impairment factor with G.107's default values (Ro − Is − Id(0) = 93.2)."""
_WEPL = 110.0  # weighted echo path loss, dB (default)
_TELR = 65.0  # talker echo loudness rating, dB (default)

OPUS_FRAME_MS = 20.0
OPUS_LOOKAHEAD_MS = 6.5
"""Opus' algorithmic delay beyond the frame (RFC 6716: 26.5 ms in all for 20 ms frames)."""
AIORTC_JITTER_BUFFER_MS = 80.0
"""aiortc's audio receiver holds 4 × 20 ms frames before decoding (JitterBuffer prefetch=4)."""


@dataclass(frozen=True)
class Codec:
    """Codec figures the E-model needs: equipment impairment and loss robustness."""

    name: str
    ie: float
    """Equipment impairment factor Ie (0 = transparent on the narrowband scale)."""
    bpl: float
    """Packet-loss robustness factor Bpl (higher = degrades more slowly with loss)."""


OPUS_NO_PLC = Codec("opus (no concealment)", ie=0.0, bpl=4.3)
"""Opus at 64-96 kbit/s decoded without concealment, as aiortc's receiver does.

Ie 0: fullband Opus at these rates is transparent within the narrowband band the G.107 scale
rates. Bpl 4.3: G.113 Appendix I's value for a codec whose lost frames are not concealed
(G.711 without PLC); aiortc skips lost frames rather than concealing them.
"""
OPUS_PLC = Codec("opus (with concealment)", ie=0.0, bpl=25.1)
"""Opus decoded with packet-loss concealment (as in browsers); Bpl as G.113's G.711 with PLC."""


def delay_impairment(one_way_ms: float) -> float:
    """Id: impairment due to talker echo, listener echo and absolute delay (G.107 §7.4)."""
    if one_way_ms < 0:
        raise ValueError(f"delay must be >= 0 ms, got {one_way_ms}")
    t = one_way_ms
    # Talker echo (Idte), echo path delay T = Ta, default TELR; Roe equals Ro with defaults.
    terv = _TELR - 40 * math.log10((1 + t / 10) / (1 + t / 150)) + 6 * math.exp(-0.3 * t * t)
    re = 80 + 2.5 * (terv - 14)
    idte = ((RO - re) / 2 + math.sqrt((RO - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-t))
    # Listener echo (Idle), round-trip delay Tr = 2T, default WEPL.
    rle = 10.5 * (_WEPL + 7) * math.pow(2 * t + 1, -0.25)
    idle = (RO - rle) / 2 + math.sqrt((RO - rle) ** 2 / 4 + 169)
    # Absolute delay (Idd), default mT = 100 ms, sT = 1.
    idd = 0.0
    if t > 100:
        x = math.log10(t / 100) / math.log10(2)
        idd = 25 * (math.pow(1 + x**6, 1 / 6) - 3 * math.pow(1 + (x / 3) ** 6, 1 / 6) + 2)
    return idte + idle + idd


def loss_impairment(loss_percent: float, codec: Codec, burst_ratio: float = 1.0) -> float:
    """Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl / BurstR + Bpl) (G.107 §7.5)."""
    if not 0 <= loss_percent <= 100:
        raise ValueError(f"packet loss must be within 0..100 %, got {loss_percent}")
    if burst_ratio <= 0:
        raise ValueError(f"burst ratio must be > 0, got {burst_ratio}")
    return codec.ie + (95 - codec.ie) * loss_percent / (loss_percent / burst_ratio + codec.bpl)


def r_factor(
    one_way_ms: float,
    loss_percent: float,
    codec: Codec = OPUS_NO_PLC,
    *,
    burst_ratio: float = 1.0,
    advantage: float = 0.0,
) -> float:
    """Transmission rating R for a one-way mouth-to-ear delay and a packet loss rate."""
    return (
        RO
        - IS
        - delay_impairment(one_way_ms)
        - loss_impairment(loss_percent, codec, burst_ratio)
        + advantage
    )


def mos_from_r(r: float) -> float:
    """Estimated conversational MOS (1..4.5) from R (G.107 Annex B)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def mouth_to_ear_ms(
    rtt_ms: float,
    jitter_ms: float = 0.0,
    jitter_buffer_ms: float = AIORTC_JITTER_BUFFER_MS,
) -> float:
    """One-way delay estimate from network figures: RTT/2 + framing + Opus lookahead + buffer.

    The receive buffer is at least `jitter_buffer_ms`, and at least twice the jitter (what an
    adaptive buffer would need to absorb it).
    """
    if rtt_ms < 0 or jitter_ms < 0:
        raise ValueError(f"RTT and jitter must be >= 0 ms, got {rtt_ms} and {jitter_ms}")
    buffer_ms = max(jitter_buffer_ms, 2 * jitter_ms)
    return rtt_ms / 2 + OPUS_FRAME_MS + OPUS_LOOKAHEAD_MS + buffer_ms


@dataclass(frozen=True)
class Quality:
    """An E-model estimate and the inputs it was computed from."""

    one_way_ms: float
    loss_percent: float
    r: float
    mos: float


def estimate(one_way_ms: float, loss_percent: float, codec: Codec = OPUS_NO_PLC) -> Quality:
    """R-factor and MOS for one call."""
    r = r_factor(one_way_ms, loss_percent, codec)
    return Quality(one_way_ms=one_way_ms, loss_percent=loss_percent, r=r, mos=mos_from_r(r))


def network_score(quality: Quality, codec: Codec = OPUS_NO_PLC) -> Score:
    """The estimate as a labelled score: MOS-CQE, with the codec values and their source."""
    return Score(
        kind=NETWORK,
        label=MOS_CQE,
        algorithm="ITU-T G.107 E-model (simplified: G.107 defaults but delay and loss)",
        version="G.107 (06/2015)",
        parameters={
            "codec": codec.name,
            "Ie": codec.ie,
            "Bpl": codec.bpl,
            "BurstR": 1.0,
            "codecSource": "Ie 0: fullband Opus is transparent on G.107's narrowband scale; "
            "Bpl: ITU-T G.113 Appendix I, G.711 without PLC (aiortc conceals nothing)",
            "oneWayMs": round(quality.one_way_ms, 1),
            "lossPercent": round(quality.loss_percent, 3),
            "R": round(quality.r, 2),
        },
        value=quality.mos,
    )

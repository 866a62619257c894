"""Scores that cannot be computed are None with a reason, never a made-up number."""

import numpy as np

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.qa import listening, noreference
from agent_bot.qa.emodel import estimate, network_score


def test_too_short_or_silent_audio_is_not_scored(speech: Pcm) -> None:
    short = speech[: 2 * SAMPLE_RATE]
    assert listening.score(short, short, 0.0).reason == "too short: 2.0 s < 3 s"
    silence = np.zeros(len(speech), np.int16)
    assert listening.score(speech, silence, 0.0).reason == "no speech received"
    dnsmos = noreference.dnsmos(speech[: 5 * SAMPLE_RATE])
    assert dnsmos.value is None and dnsmos.reason == "too short: 5.0 s < 9.01 s"
    plcmos = noreference.plcmos(silence)
    assert plcmos.value is None and plcmos.reason == "no speech: the received audio is silent"


def test_the_network_score_names_its_codec_values() -> None:
    score = network_score(estimate(40, 0))
    assert (score.kind, score.label, score.version) == ("network", "MOS-CQE", "G.107 (06/2015)")
    assert score.parameters["Ie"] == 0 and score.parameters["Bpl"] == 4.3
    assert score.to_dict()["value"] == round(estimate(40, 0).mos, 3)


def test_aligned_takes_the_span_after_the_delay(speech: Pcm) -> None:
    shifted = np.concatenate([np.zeros(480, np.int16), speech])
    assert np.array_equal(listening.aligned(shifted, 10.0, len(speech)), speech)
    assert listening.aligned(speech[:100], 0.0, 200)[100:].max() == 0

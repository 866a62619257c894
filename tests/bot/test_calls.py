"""Bot ↔ bot calls through the real signaling server over loopback."""

from __future__ import annotations

import json
import signal
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from agent_bot.media.frames import Pcm
from agent_bot.qa.comparison import compare
from tests.bots import SAMPLES, Bots, read_recording, recordings

HELLO = SAMPLES / "hello-48k.wav"
WEATHER = SAMPLES / "weather-48k.wav"
WINDOW_SEARCH_MS = 400.0


def load_wav(path: Path) -> Pcm:
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).copy()


def median_correlation(reference: Pcm, received: Pcm) -> float:
    """Median over 1-s windows, each aligned on its own: a late burst of packets shifts the
    rest of a recording, which is arrival timing, not damage to the content."""
    result = compare(reference, received, search_ms=WINDOW_SEARCH_MS)
    assert result.windows, "no active windows in the reference"
    return float(np.median([w.correlation for w in result.windows]))


def load_report(path: Path) -> list[dict[str, object]]:
    data = json.loads(path.read_text())
    calls: list[dict[str, object]] = data["calls"]
    return calls


@pytest.mark.parametrize("agent_offers", [False, True], ids=["customer-offers", "agent-offers"])
def test_sample_crosses_both_ways(bots: Bots, tmp_path: Path, agent_offers: bool) -> None:
    agent_dir, caller_dir = tmp_path / "agent", tmp_path / "caller"
    agent = bots.answer("--play", str(WEATHER), "--loop", "--record", str(agent_dir))
    extra = ["--agent-offers"] if agent_offers else []
    caller = bots.call(
        "--play",
        str(HELLO),
        "--record",
        str(caller_dir),
        "--report",
        str(tmp_path / "r.json"),
        "--expect",
        str(WEATHER),
        *extra,
    )
    assert caller.wait() == 0, caller.text()
    agent.wait_log("ended reason=hangup")
    [report] = load_report(tmp_path / "r.json")
    assert report["verdict"]["passed"] is True
    assert report["offerer"] == ("agent" if agent_offers else "customer")

    [agent_rec] = recordings(agent_dir)
    received, _sent = read_recording(agent_rec)
    assert median_correlation(load_wav(HELLO), received) >= 0.9

    [caller_rec] = recordings(caller_dir)
    received, sent = read_recording(caller_rec)
    assert median_correlation(load_wav(HELLO), sent) >= 0.9
    weather = load_wav(WEATHER)
    assert median_correlation(weather[: len(received)], received) >= 0.9


def test_echo_round_trip(bots: Bots, tmp_path: Path) -> None:
    bots.answer("--echo")
    caller = bots.call("--play", str(HELLO), "--record", str(tmp_path))
    assert caller.wait() == 0, caller.text()
    [rec] = recordings(tmp_path)
    received, _sent = read_recording(rec)
    delay = compare(load_wav(HELLO), received).delay_ms
    assert delay is not None and 0 < delay < 1000
    assert median_correlation(load_wav(HELLO), received) >= 0.9


def test_five_concurrent_calls_in_one_bot(bots: Bots, tmp_path: Path) -> None:
    agent = bots.answer("--tone", "440", "--max-calls", "5", "--record", str(tmp_path / "a"))
    caller = bots.call(
        "--far-end",
        "unknown",
        "--tone",
        "660",
        "--calls",
        "5",
        "--concurrency",
        "5",
        "--duration",
        "3",
        "--report",
        str(tmp_path / "r.json"),
    )
    assert caller.wait() == 0, caller.text()
    calls = load_report(tmp_path / "r.json")
    assert len(calls) == 5
    assert len({c["call_id"] for c in calls}) == 5
    assert all(c["verdict"]["passed"] for c in calls)
    agent.wait_log("ended reason=hangup", count=5)
    assert len(recordings(tmp_path / "a")) == 5


def test_agent_hangs_up_on_sigterm(bots: Bots, tmp_path: Path) -> None:
    agent = bots.answer("--silence", "--record", str(tmp_path / "a"))
    caller = bots.call("--tone", "300", "--duration", "60", "--report", str(tmp_path / "r.json"))
    agent.wait_log("first audio in")
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0
    caller.wait(timeout=20)  # its exit status is its verdict: a silent far end fails it
    [report] = load_report(tmp_path / "r.json")
    assert report["end_reason"] == "hangup"
    [rec] = recordings(tmp_path / "a")
    received, _ = read_recording(rec)
    assert len(received) > 0


def test_killed_agent_ends_call_and_leaves_readable_recording(bots: Bots, tmp_path: Path) -> None:
    agent = bots.answer("--tone", "440", "--record", str(tmp_path / "a"))
    caller = bots.call("--tone", "300", "--duration", "60", "--report", str(tmp_path / "r.json"))
    agent.wait_log("first audio in")
    caller.wait_log("first audio in")
    time.sleep(2.5)
    agent.signal(signal.SIGKILL)
    caller.wait(timeout=20)
    [report] = load_report(tmp_path / "r.json")
    assert report["end_reason"] == "peer-disconnected"
    [rec] = recordings(tmp_path / "a")
    received, _sent = read_recording(rec)
    assert len(received) >= 48_000  # at least 1 s of the 2.5 s survived the SIGKILL


def test_media_survives_server_restart(
    bots: Bots, tmp_path: Path, signaling_server: object
) -> None:
    server = signaling_server
    agent = bots.answer("--echo")
    caller = bots.call("--tone", "500", "--duration", "8", "--report", str(tmp_path / "r.json"))
    caller.wait_log("first audio in")
    server.kill()
    server.start()
    agent.wait_log("agent re-registered", timeout=30)
    assert caller.wait(timeout=30) == 0, caller.text()
    [report] = load_report(tmp_path / "r.json")
    assert report["end_reason"] == "local-hangup"
    # 8 s of echo at 50 frames/s: media went on while signaling was down.
    assert report["frames_received"] >= 6 * 50


def test_unreadable_play_file_fails_before_connecting(bots: Bots, tmp_path: Path) -> None:
    bad = tmp_path / "not-audio.wav"
    bad.write_text("this is not audio")
    for path in (bad, tmp_path / "missing.wav"):
        caller = bots.run("call", "--play", str(path), log="bad")
        assert caller.wait() == 2
        text = caller.text()
        assert str(path) in text and "Traceback" not in text
        assert "signaling connected" not in text


@pytest.mark.parametrize(
    "args",
    [
        ["call", "--calls", "0", "--silence", "--duration", "1"],
        ["call", "--tone", "abc", "--duration", "1"],
        ["call", "--silence"],
        ["call", "--tone", "440", "--echo", "--duration", "1"],
        ["answer", "--max-calls", "-3"],
        ["answer", "--ice-server", "http://example"],
        ["answer", "--server", "notaurl"],
        ["call", "--server", "http://127.0.0.1:99999", "--silence", "--duration", "1"],
        ["call", "--loop", "--silence", "--duration", "1"],
        ["call", "--silence", "--duration", "1", "--report", "/nonexistent-dir/r.json"],
        ["call", "--silence", "--duration", "1", "--junit", "/nonexistent-dir/j.xml"],
    ],
)
def test_bad_flags_are_usage_errors(bots: Bots, args: list[str]) -> None:
    bot = bots.run(*args, log="usage")
    assert bot.wait() == 2
    assert "usage:" in bot.text() and "Traceback" not in bot.text()


def test_wrong_token_is_refused(bots: Bots) -> None:
    bot = bots.run("answer", "--token", "wrong", log="refused")
    assert bot.wait() == 1
    assert "cannot register as an agent" in bot.text()


def test_silent_peer_ends_the_call_with_media_timeout(bots: Bots) -> None:
    agent = bots.answer("--silence")
    caller = bots.call("--tone", "300", "--duration", "60")
    agent.wait_log("first audio in")
    # A frozen caller sends no media, and its signaling socket stays open (no disconnect).
    caller.signal(signal.SIGSTOP)
    try:
        agent.wait_log("no audio for 10 s", timeout=30)
        agent.wait_log("ended reason=media-timeout")
    finally:
        caller.signal(signal.SIGCONT)

"""Device trouble never ends a call: no device, a missing one, the sound server killed mid-call."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent_bot.media import devices
from agent_bot.media.devices import DeviceKeeper, open_stream
from agent_bot.media.frames import SAMPLE_RATE
from agent_bot.media.microphone import Microphone
from agent_bot.media.speaker import Speaker
from tests.bots import Bots, read_recording, recordings
from tests.sound.pulse import PulseDaemon
from tests.sound.test_speaker import until

pytestmark = [pytest.mark.sound, pytest.mark.solo]


def test_sound_server_killed_mid_call(bots: Bots, pulse: PulseDaemon, tmp_path: Path) -> None:
    """`answer --speaker --mic` keeps its call when PulseAudio dies, and comes back with it.

    The sound engine (a child of the bot) goes with the dead stream and a new one is started
    at once; it opens the devices when the sound server is back. No core is left spinning and
    PortAudio's complaints do not flood the log.
    """
    agent = bots.answer("--speaker", "--mic", "--record", str(tmp_path / "recordings"))
    caller = bots.call("--tone", "440", "--duration", "25", "--report", str(tmp_path / "r.json"))
    for role in ("speaker", "microphone"):
        agent.wait_log(rf"{role}: device \d+ .* open")
    agent.wait_log("on the speaker")
    time.sleep(1.0)
    before = cpu_share(agent.proc.pid, 3.0)

    killed = time.time()
    pulse.kill()
    [restart] = agent.wait_log(r"sound engine: restarting \(.*sound device stopped", timeout=3)
    assert logged_at(restart) - killed < 3.0, restart
    agent.wait_log("speaker: sound device unavailable", timeout=20)

    pulse.start()
    monitor = pulse.monitor()
    for role in ("speaker", "microphone"):
        agent.wait_log(rf"{role}: device \d+ .* open", count=2, timeout=30)
    time.sleep(1.5)
    heard = monitor.pcm()[-SAMPLE_RATE:]
    monitor.stop()
    assert np.sqrt(np.mean(heard.astype(np.float64) ** 2)) > 100  # the caller is heard again
    # a thread left spinning would hold a whole core in both windows; other load comes and goes
    after = min(cpu_share(agent.proc.pid, 2.0), cpu_share(agent.proc.pid, 2.0))
    assert after < before + 0.3, (before, after, per_process(agent.proc.pid))

    caller.wait(60)  # (its exit status is its QA verdict: the mic sends near silence)
    [report] = json.loads((tmp_path / "r.json").read_text())["calls"]
    assert report["end_reason"] == "local-hangup", report  # the whole call, audio both ways
    assert report["frames_received"] > 0 and report["frames_sent"] > 0, report
    agent.wait_log("ended reason=hangup")
    agent.signal(signal.SIGTERM)
    assert agent.wait(30) == 0, agent.text()[-4000:]
    [recording] = recordings(tmp_path / "recordings")
    received, _ = read_recording(recording)
    assert len(received) >= 20 * SAMPLE_RATE  # recorded throughout
    stderr_lines = [line for line in agent.text().splitlines() if "sound engine: " in line]
    assert len(stderr_lines) < 40, "\n".join(stderr_lines)


def logged_at(line: str) -> float:
    """The wall-clock time of a log line ("2026-12-01 13:30:59,668 ...")."""
    stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


def cpu_share(pid: int, seconds: float) -> float:
    """Share of a core `pid` and its children used over the next `seconds`."""
    start = tree_cpu(pid)
    time.sleep(seconds)
    return (tree_cpu(pid) - start) / seconds


def per_process(pid: int) -> dict[str, float]:
    """CPU seconds so far of `pid` and its children, by pid and command."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")[:80]
        except (OSError, IndexError):
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            found[f"{stat.parent.name} {command.decode(errors='replace')}"] = cpu
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by `pid` and its live children (Linux /proc)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def test_no_device_the_speaker_gives_up_with_a_log_line(
    no_sound_server: None, caplog: pytest.LogCaptureFixture
) -> None:
    speaker = Speaker(retries=2, retry_seconds=0.05)
    speaker.start()
    speaker.connect("call-1")
    speaker.put("call-1", 1, 960, 0.0, b"\xf8\xff\xfe")  # dropped: nothing plays
    await until(lambda: speaker.device.gave_up)
    speaker.close()
    assert not speaker.running
    lines = [r.getMessage() for r in caplog.records if r.name == "agent_bot.media.devices"]
    assert lines[-1] == "speaker: giving up on the sound device: no output device found"
    assert sum("retry" in line for line in lines) == 2


async def test_a_missing_named_device_is_retried_then_given_up(
    pulse: PulseDaemon, caplog: pytest.LogCaptureFixture
) -> None:
    microphone = Microphone("no-such-mic", retries=1, retry_seconds=0.05)
    track = microphone.create_track()
    frame = await asyncio.wait_for(track.recv(), 5)
    await until(lambda: microphone.device.gave_up)
    microphone.close()
    assert not frame.to_ndarray().any()
    assert "no input device named like 'no-such-mic'" in caplog.text


class WedgedClose:
    """A real stream whose first close() blocks until released, as PortAudio's ALSA backend
    can when the sound server died under it."""

    def __init__(self, stream: Any, release: threading.Event) -> None:
        self.stream = stream
        self._release = release

    def close(self, ignore_errors: bool = True) -> None:
        self._release.wait()
        self.stream.close(ignore_errors=ignore_errors)


async def test_a_stream_that_never_closes_is_left_behind_and_the_device_reopened(
    pulse: PulseDaemon, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devices, "PORTAUDIO_SECONDS", 0.5)
    release = threading.Event()
    stops: list[Any] = []
    wedged: list[WedgedClose] = []

    def callback(outdata: Any, *_: Any) -> None:
        outdata.fill(0)
        keeper.beat()

    def wedging_open(index: int, on_stop: Any) -> Any:
        stops.append(on_stop)
        stream = open_stream("output", index, 480, callback, on_stop)
        if len(stops) > 1:
            return stream
        wedged.append(WedgedClose(stream, release))
        return wedged[0]

    keeper = DeviceKeeper("speaker", None, "output", wedging_open)
    keeper.start()
    await until(lambda: keeper.running)
    ticks = 0

    async def tick() -> None:  # the event loop stays free while the close hangs
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    stops[0]()  # the stream says it stopped: the keeper closes it, which hangs
    await until(lambda: keeper.opened == 2 and keeper.running)
    ticker.cancel()
    keeper.close()
    release.set()
    await until(lambda: wedged[0].stream.closed)  # no PortAudio call outlives the test
    assert "speaker: PortAudio did not close the stream in 0.5 s; left behind" in caplog.text
    assert ticks >= 40  # 0.5 s of a blocked close did not block the loop


async def test_an_open_that_never_returns_is_retried_then_given_up(
    pulse: PulseDaemon, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devices, "PORTAUDIO_SECONDS", 0.2)
    release = threading.Event()
    late: list[Any] = []

    def hanging_open(index: int, on_stop: Any) -> Any:
        release.wait()
        stream = open_stream("output", index, 480, lambda outdata, *_: outdata.fill(0), on_stop)
        late.append(stream)
        return stream

    keeper = DeviceKeeper("speaker", None, "output", hanging_open, retries=1, retry_seconds=0.05)
    keeper.start()
    await until(lambda: keeper.gave_up)
    release.set()  # the two opens finish after all: what they opened is closed
    await until(lambda: len(late) == 2 and all(stream.closed for stream in late))
    keeper.close()
    assert not keeper.running
    assert "speaker: sound device unavailable (PortAudio did not open it in time)" in caplog.text
    assert "speaker: giving up on the sound device: PortAudio did not open it in time" in (
        caplog.text
    )

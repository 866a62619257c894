"""A private PulseAudio daemon with two null sinks, and recording / playing through it.

`speaker` is the default sink (what the bot plays), recorded at its monitor; `mic` is a sink
whose monitor is the default source (what the bot's microphone hears): play into `mic`.
PortAudio reaches the daemon through ALSA's `pulse` / `default` devices (libasound2-plugins).
Used by the sound tests and by `bench/playout_latency.py`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent_bot.media.frames import SAMPLE_RATE, Pcm
from tests.sound.sinkclock import SinkClock

TOOLS = {
    "pulseaudio": "pulseaudio",
    "pactl": "pulseaudio-utils",
    "parec": "pulseaudio-utils",
    "pacat": "pulseaudio-utils",
}
"""Program → the Debian package that has it."""

SPEAKER_SINK = "speaker"
MIC_SINK = "mic"
RAW = ["--raw", "--format=s16le", f"--rate={SAMPLE_RATE}", "--channels=1"]


class PulseError(RuntimeError):
    """The daemon cannot run here (a missing program names its Debian package)."""


def missing_tools() -> list[str]:
    """Debian packages to install for the programs that are missing."""
    return sorted({package for tool, package in TOOLS.items() if shutil.which(tool) is None})


class Monitor:
    """Records a PulseAudio source (`parec`), noting when each chunk arrived.

    The sink's clock need not be this machine's, nor steady: so the time a sample was captured
    comes from the chunks' arrivals (`time_of`, `sinkclock.SinkClock`), and `rate_ppm` says how
    fast the sink ran."""

    def __init__(self, env: dict[str, str], source: str) -> None:
        self._process = subprocess.Popen(
            ["parec", *RAW, "--latency-msec=10", f"--device={source}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._chunks: list[bytes] = []
        self._arrivals: list[tuple[int, float]] = []
        """(samples recorded so far, when that chunk was read) per chunk."""
        self._settled = 0
        self._clock: tuple[int, SinkClock] | None = None
        """The last clock, and how many arrivals it was made of."""
        self._samples = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        while chunk := self._process.stdout.read1(4096):  # type: ignore[attr-defined]
            now = time.monotonic()
            with self._lock:
                self._chunks.append(chunk)
                self._samples += len(chunk) // 2
                self._arrivals.append((self._samples, now))

    def settle(self) -> None:
        """Chunks from now on tell the sink's clock (an idle sink renders ahead of time)."""
        with self._lock:
            self._settled = len(self._arrivals)

    @property
    def samples(self) -> int:
        with self._lock:
            return self._samples

    def pcm(self) -> Pcm:
        with self._lock:
            data = b"".join(self._chunks)
        return np.frombuffer(data[: len(data) // 2 * 2], dtype=np.int16).copy()

    def time_of(self, index: float) -> float:
        """Monotonic time at which recorded sample `index` was captured."""
        return self.clock().time_of(index)

    @property
    def rate_ppm(self) -> float:
        """How much faster than this machine's clock the sink rendered."""
        return self.clock().rate_ppm

    def clock(self) -> SinkClock:
        """The sink's clock, from the chunks read since `settle`."""
        with self._lock:
            arrivals = self._arrivals[self._settled :]
        if not arrivals:
            raise RuntimeError("the monitor recorded nothing")
        if self._clock is None or self._clock[0] != len(arrivals):
            points = np.array(arrivals, dtype=np.float64)
            self._clock = (len(arrivals), SinkClock(points[:, 0], points[:, 1]))
        return self._clock[1]

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(5)
        self._thread.join(5)


class PulseDaemon:
    """`pulseaudio` on a private socket under `root`, with the `speaker` and `mic` null sinks."""

    def __init__(self, root: Path) -> None:
        missing = missing_tools()
        if missing:
            raise PulseError(f"PulseAudio is missing: install the Debian package(s) {missing}")
        self.root = root
        runtime = root / "run"
        home = root / "home"
        runtime.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        self.socket = runtime / "pulse.sock"
        self.env = {
            **os.environ,
            "XDG_RUNTIME_DIR": str(runtime),
            "HOME": str(home),
            "PULSE_SERVER": f"unix:{self.socket}",
        }
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        sinks = [
            f"module-null-sink sink_name={name} rate={SAMPLE_RATE} channels=1"
            for name in (SPEAKER_SINK, MIC_SINK)
        ]
        protocol = f"module-native-protocol-unix socket={self.socket} auth-anonymous=1"
        args = [
            "pulseaudio", "-n", "--daemonize=no", "--system=false", "--exit-idle-time=-1",
            "--disallow-exit=yes", "--use-pid-file=no", "--log-target=stderr",
            "-L", f"{protocol} auth-cookie-enabled=0",
            *[arg for sink in sinks for arg in ("-L", sink)],
        ]  # fmt: skip
        log = (self.root / "pulseaudio.log").open("ab")
        self._process = subprocess.Popen(args, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise PulseError(f"pulseaudio exited; see {self.root / 'pulseaudio.log'}")
            info = subprocess.run(["pactl", "info"], check=False, env=self.env, capture_output=True)
            if info.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise PulseError("pulseaudio did not come up")
            time.sleep(0.05)
        self.pactl("set-default-sink", SPEAKER_SINK)
        self.pactl("set-default-source", f"{MIC_SINK}.monitor")

    def pactl(self, *args: str) -> str:
        return subprocess.run(
            ["pactl", *args], env=self.env, capture_output=True, text=True, check=True
        ).stdout

    def monitor(self, sink: str = SPEAKER_SINK) -> Monitor:
        """Records `sink`'s monitor; waits until the recording runs in small chunks (an idle
        null sink otherwise renders in 2-second blocks)."""
        monitor = Monitor(self.env, f"{sink}.monitor")
        deadline = time.monotonic() + 5
        while monitor.samples < SAMPLE_RATE // 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        monitor.settle()
        time.sleep(0.2)
        return monitor

    def play(self, pcm: npt.NDArray[np.int16], sink: str = MIC_SINK) -> subprocess.Popen[bytes]:
        """Starts playing `pcm` into `sink` (`pacat`); returns the process."""
        process = subprocess.Popen(
            ["pacat", *RAW, "--latency-msec=20", f"--device={sink}"],
            env=self.env,
            stdin=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdin is not None
        threading.Thread(target=_feed, args=(process, pcm.tobytes()), daemon=True).start()
        return process

    def kill(self) -> None:
        """Kills the daemon as a crash would (SIGKILL)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(5)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(data)
        process.stdin.close()
    except (BrokenPipeError, OSError):
        return

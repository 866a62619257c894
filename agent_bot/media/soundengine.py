"""The bot's side of the sound engine: starts the engine process, watches it, restarts it.

`SoundEngine` runs `engineprocess` as a child and talks to it over a socket pair
(`enginewire`). The engine is killed and another started when it exits, stops sending
(`HANG_SECONDS`), spins (more than `SPIN_SHARE` of a core), has a PortAudio call stuck, or a
device stops under it; a device it could not open is retried by restarting it every
`retry_seconds`, `retries` times, and again whenever the set of sound devices changes
(hot-plug, see `DeviceWatch`). Calls go on meanwhile: the speaker's call comes back on the new
engine, the microphone's tracks send silence. One log line per restart says why. The engine's
log records come back over the socket and are logged here; anything it writes to stderr
(PortAudio, ALSA) is logged too, at most `STDERR_LINES_PER_SECOND` lines a second.

`EngineSpeaker` (in `enginespeaker`) and a `Microphone` over `EngineCapture` are the views the
calls use, the same as the in-process `Speaker` and `Microphone`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from agent_bot.media import enginewire as wire
from agent_bot.media.devicewatch import DeviceWatch
from agent_bot.media.echo import Processing
from agent_bot.media.enginedevice import EngineDevice
from agent_bot.media.frames import Pcm

logger = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
RETRIES = 5
STARTUP_SECONDS = 15.0
"""How long a new engine may take to send its first status (imports, PortAudio's start)."""
HANG_SECONDS = 1.0
"""An engine silent for this long (it sends a status every 0.2 s) is taken for hung."""
SPIN_SHARE = 0.8
"""Share of a core an engine may use, over `SPIN_WINDOW_S`, before it is taken for spinning
(it needs a few percent)."""
SPIN_WINDOW_S = 3.0
SPIN_GRACE_S = 5.0
"""An engine is not judged spinning in its first seconds: opening a microphone whose source
has been idle costs up to half a core for a second or two (PulseAudio's null sink here)."""
STDERR_LINES_PER_SECOND = 5
WATCH_SECONDS = 0.25
MIN_LIFE_SECONDS = 1.0
"""An engine that goes sooner than this after its start is restarted after a pause."""
QUIT_SECONDS = 2.0
"""How long an engine told to quit may take to close its devices before it is killed."""


class SoundEngine:
    """The sound devices of one bot, in a child process restarted as needed."""

    def __init__(
        self,
        *,
        speaker: bool,
        speaker_spec: wire.Spec = None,
        microphone: bool,
        microphone_spec: wire.Spec = None,
        ringer: bool = False,
        ringer_spec: wire.Spec = None,
        processing: Processing | None = None,
        retries: int = RETRIES,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.processing = processing or Processing()
        self.devices: dict[str, EngineDevice] = {}
        if speaker:
            self.devices["speaker"] = EngineDevice("speaker", speaker_spec, self._restart)
        if microphone:
            self.devices["microphone"] = EngineDevice("microphone", microphone_spec, self._restart)
        if ringer:
            self.devices["ringer"] = EngineDevice("ringer", ringer_spec, self._restart)
        self.ringing = False
        self._retries = retries
        self._retry_seconds = retry_seconds
        self.status: dict[str, Any] = {}
        """The running engine's last status (see `engineprocess.Engine.status`)."""
        self.restarts = 0
        self.focus: str | None = None
        self.on_mic: Callable[[Pcm], None] | None = None
        self._socket: socket.socket | None = None
        self._last_heard = 0.0
        self._wake = asyncio.Event()
        self._restart_reason: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch = DeviceWatch()

    @property
    def alive(self) -> bool:
        """Whether an engine runs and has reported."""
        return self._socket is not None and bool(self.status)

    def start(self) -> None:
        """Starts the engine (on the running event loop); idempotent."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._supervise())

    def close(self) -> None:
        """Stops the engine (it closes its devices and exits; killed if it does not)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.send(bytes([wire.QUIT]))

    def send(self, message: bytes) -> None:
        """One message to the running engine (dropped when none runs or it is behind)."""
        if self._socket is None:
            return
        with contextlib.suppress(OSError):
            self._socket.send(message)

    def ring(self, on: bool) -> None:
        """The ring on or off (kept across restarts)."""
        if on != self.ringing:
            self.ringing = on
            self.send(wire.ring(on))

    def set_focus(self, call_id: str | None) -> None:
        self.focus = call_id
        self.send(wire.focus(call_id))

    def _requested(self) -> str | None:
        """Why a restart was asked for (a switch), if it was."""
        return self._restart_reason

    def _restart(self, reason: str) -> None:
        self._restart_reason = reason
        self._wake.set()

    async def _supervise(self) -> None:
        while True:
            wanted = [d for d in self.devices.values() if not d.gave_up]
            if not wanted:
                await self._idle()
                continue
            started = time.monotonic()
            reason = await self._run_once()
            if self._task is None:
                return
            if all(d.gave_up for d in self.devices.values()):
                continue  # (each said why it was given up)
            self.restarts += 1
            logger.warning("sound engine: restarting (%s)", reason)
            if time.monotonic() - started < MIN_LIFE_SECONDS:
                await self._pause(self._retry_seconds)  # it fails as it starts: not in a loop

    async def _run_once(self) -> str:
        """Runs one engine until it must go; why."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        config = wire.EngineConfig(
            processing=self.processing,
            focus=self.focus,
            ringing=self.ringing,
            log_level=logging.getLogger("agent_bot").getEffectiveLevel(),
        )
        for device in self.devices.values():
            if not device.gave_up:
                setattr(config, device.role, True)
                setattr(config, f"{device.role}_spec", device.spec)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agent_bot.media.engineprocess",
            str(theirs.fileno()),
            config.to_json(),
            pass_fds=(theirs.fileno(),),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        theirs.close()
        ours.setblocking(False)
        loop = asyncio.get_running_loop()
        self._socket, self.status = ours, {}
        self._last_heard = time.monotonic()
        loop.add_reader(ours.fileno(), self._readable)
        stderr = loop.create_task(_forward_stderr(process))
        fault = False  # (cancelled: the bot is closing it, told to quit)
        try:
            reason, fault = await self._watch_engine(process)
            return reason
        finally:
            loop.remove_reader(ours.fileno())
            if process.returncode is None and fault:
                process.kill()
            elif process.returncode is None:
                self.send(bytes([wire.QUIT]))
            self._socket, self.status = None, {}
            ours.close()
            await _end(process)
            stderr.cancel()
            for device in self.devices.values():
                device.engine_gone()

    async def _watch_engine(self, process: asyncio.subprocess.Process) -> tuple[str, bool]:
        """Why the engine must go, and whether it is at fault (killed, not told to quit)."""
        cpu = CpuWatch(process.pid)
        self._restart_reason = None
        self._watch.reset()
        retry_at: float | None = None
        first_status: float | None = None
        while True:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), WATCH_SECONDS)
            now = time.monotonic()
            requested = self._requested()
            if requested is not None:
                return requested, False
            if process.returncode == wire.EXIT_NO_PORTAUDIO:
                for device in self.devices.values():
                    device.gave_up = True
                logger.error("sound engine: PortAudio is missing; no sound devices")
                return "no PortAudio", True
            if process.returncode is not None:
                return self._exit_reason(process.returncode), True
            silent = now - self._last_heard
            if silent > (HANG_SECONDS if self.status else STARTUP_SECONDS):
                return f"no word from it for {silent:.1f} s: hung", True
            if any(d.stuck for d in self.devices.values()):
                return "PortAudio is stuck in it", True
            if self.status and first_status is None:
                first_status = now
            settled = first_status is not None and now - first_status >= SPIN_GRACE_S
            share = cpu.share() if settled else None
            if share is not None and share > SPIN_SHARE:
                return f"spinning at {share:.0%} of a core", True
            if self._devices_changed():
                return "the sound devices changed", False
            unavailable = [d for d in self.devices.values() if d.unavailable and not d.gave_up]
            if unavailable and retry_at is None:
                for device in unavailable:
                    device.failed(self._retries, self._retry_seconds)
                if any(not d.gave_up for d in unavailable):
                    retry_at = now + self._retry_seconds
            if retry_at is not None and now >= retry_at:
                return "retrying " + ", ".join(d.role for d in unavailable), False

    def _devices_changed(self) -> bool:
        """Whether the sound devices changed (hot-plug); if so every device is tried afresh."""
        if not self._watch.changed():
            return False
        for device in self.devices.values():
            device.renew()
        return True

    def _exit_reason(self, code: int) -> str:
        stopped = [d for d in self.devices.values() if d.stopped]
        if stopped:
            return "; ".join(f"{d.role}: sound device stopped ({d.reason})" for d in stopped)
        return f"it exited with code {code}"

    async def _idle(self) -> None:
        """Every wanted device was given up: wait for a switch or a change of devices."""
        self._restart_reason = None
        while self._requested() is None:
            if self._devices_changed():
                logger.info("sound engine: the sound devices changed; trying again")
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    async def _pause(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _readable(self) -> None:
        sock = self._socket
        while sock is not None:
            try:
                message = sock.recv(wire.MAX_MESSAGE)
            except BlockingIOError:
                return
            except OSError:
                return
            if not message:
                return
            self._last_heard = time.monotonic()
            try:
                self._handle(message)
            except wire.WireError as exc:
                logger.warning("sound engine: %s", exc)

    def _handle(self, message: bytes) -> None:
        kind = message[0]
        if kind == wire.MIC:
            if self.on_mic is not None:
                self.on_mic(wire.parse_mic(message))
        elif kind == wire.STATUS:
            self.status = wire.parse_json(message)
            for role, fields in self.status.get("devices", {}).items():
                if role in self.devices:
                    self.devices[role].update(fields)
        elif kind == wire.LOG:
            name, level, text = wire.parse_log(message)
            logging.getLogger(name).log(level, "%s", text)


class CpuWatch:
    """The CPU share of a process over the last `SPIN_WINDOW_S` (Linux /proc; None elsewhere)."""

    def __init__(self, pid: int) -> None:
        self._path = f"/proc/{pid}/stat"
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._samples: list[tuple[float, float]] = []

    def share(self) -> float | None:
        try:
            with open(self._path) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        cpu = (int(fields[11]) + int(fields[12])) / self._tick
        now = time.monotonic()
        self._samples.append((now, cpu))
        while self._samples and now - self._samples[0][0] > SPIN_WINDOW_S:
            self._samples.pop(0)
        first_at, first_cpu = self._samples[0]
        if now - first_at < SPIN_WINDOW_S * 0.9:
            return None
        return (cpu - first_cpu) / (now - first_at)


async def _end(process: asyncio.subprocess.Process) -> None:
    """Waits a moment for the engine to exit (told to quit, or going), then kills it."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), QUIT_SECONDS)
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def _forward_stderr(process: asyncio.subprocess.Process) -> None:
    """Logs what the engine writes to stderr, at most `STDERR_LINES_PER_SECOND` lines a second."""
    assert process.stderr is not None
    second, shown, held = 0, 0, 0
    while line := await process.stderr.readline():
        now = int(time.monotonic())
        if now != second:
            if held:
                logger.warning("sound engine: %d more lines of stderr not shown", held)
            second, shown, held = now, 0, 0
        if shown < STDERR_LINES_PER_SECOND:
            shown += 1
            logger.warning("sound engine: %s", line.decode(errors="replace").rstrip())
        else:
            held += 1
    if held:
        logger.warning("sound engine: %d more lines of stderr not shown", held)

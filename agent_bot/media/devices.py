"""Sound devices: the table `agent-bot devices` prints, device selection, and keeping a stream open.

A device is chosen by index or by a substring of its name; `None` means the system default.
`DeviceKeeper` holds one PortAudio stream open for the speaker or the microphone: when the
device is missing, busy or vanishes mid-call it logs one line, retries every few seconds and
gives up with a log line after `retries` attempts. Nothing here raises into the call, and no
PortAudio call that opens or closes a stream runs on the event loop's thread: when the sound
server dies, PortAudio's ALSA backend can block in them for good (PortAudio issue #1037; a
close waiting on a dead PulseAudio connection), and a call must not freeze with it.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, TypeVar

from agent_bot.media.frames import SAMPLE_RATE

try:
    import sounddevice as sd
except OSError as exc:  # sounddevice raises this when the PortAudio library is not installed
    raise ImportError(
        f"PortAudio is missing: install the Debian package libportaudio2 ({exc})"
    ) from exc

__all__ = [
    "RETRIES",
    "RETRY_SECONDS",
    "DeviceError",
    "DeviceKeeper",
    "device_table",
    "find_device",
    "sd",
]

logger = logging.getLogger(__name__)

Kind = Literal["input", "output"]

RETRY_SECONDS = 2.0
RETRIES = 5
STALL_SECONDS = 2.0
"""An open stream whose callback has not run for this long is taken for dead and reopened:
when the sound server dies, PortAudio's ALSA backend may neither call back nor finish the
stream, and then prints an error line in a loop until the stream is closed."""

PORTAUDIO_SECONDS = 5.0
"""Opening or closing a stream that takes longer is given up (its thread is left behind)."""

T = TypeVar("T")


class DeviceError(ValueError):
    """No device matches what was asked for."""


def device_table() -> str:
    """Input and output devices as a table, or one line saying there are none."""
    devices: list[dict[str, Any]] = list(sd.query_devices())
    if not devices:
        return "no sound devices found (is a sound server running, and is PortAudio installed?)"
    hostapis = [api["name"] for api in sd.query_hostapis()]
    default_in, default_out = sd.default.device
    header = ("index", "name", "host API", "in", "out", "rate", "default")
    rows = [header]
    for device in devices:
        index = device["index"]
        marks = [mark for mark, d in (("input", default_in), ("output", default_out)) if d == index]
        rows.append(
            (
                str(index),
                device["name"],
                hostapis[device["hostapi"]],
                str(device["max_input_channels"]),
                str(device["max_output_channels"]),
                f"{device['default_samplerate']:.0f}",
                ", ".join(marks),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def find_device(spec: int | str | None, kind: Kind) -> int:
    """Index of the `kind` device `spec` names: an index, digits, a name substring, or None
    for the default."""
    devices: list[dict[str, Any]] = list(sd.query_devices())
    channels = f"max_{kind}_channels"
    usable = [d for d in devices if d[channels] > 0]
    if not usable:
        raise DeviceError(f"no {kind} device found")
    if spec is None or spec == "":
        default = sd.default.device[0 if kind == "input" else 1]
        if default is None or default < 0:
            return int(usable[0]["index"])
        return int(default)
    if isinstance(spec, int) or spec.isdigit():
        index = int(spec)
        if not any(d["index"] == index for d in usable):
            raise DeviceError(f"no {kind} device with index {index}")
        return index
    matches = [d for d in usable if spec.lower() in d["name"].lower()]
    exact = [d for d in matches if d["name"].lower() == spec.lower()]
    if len(exact) == 1 or len(matches) == 1:
        return int((exact or matches)[0]["index"])
    if not matches:
        raise DeviceError(f"no {kind} device named like {spec!r}")
    names = ", ".join(repr(d["name"]) for d in matches)
    raise DeviceError(f"{kind} device {spec!r} is ambiguous: {names}")


StreamOpener = Callable[[int, Callable[[], None]], Any]
"""Opens and starts a stream on a device index; the callable given fires when it stops."""


def open_stream(
    kind: Kind, index: int, blocksize: int, callback: Callable[..., None], on_stop: Any
) -> Any:
    """A started mono int16 48 kHz low-latency stream on device `index`."""
    stream_class = sd.InputStream if kind == "input" else sd.OutputStream
    stream = stream_class(
        device=index,
        samplerate=SAMPLE_RATE,
        channels=1,
        dtype="int16",
        blocksize=blocksize,
        latency="low",
        callback=callback,
        finished_callback=on_stop,
    )
    stream.start()
    return stream


class DeviceKeeper:
    """Keeps one stream open on a device, reopening it when it stops, until closed."""

    def __init__(
        self,
        role: str,
        spec: int | str | None,
        kind: Kind,
        open_stream: StreamOpener,
        *,
        retries: int = RETRIES,
        retry_seconds: float = RETRY_SECONDS,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        """`on_lost`: called with the reason instead of retrying or reopening when the device
        cannot be opened or stops (the sound engine restarts its whole process instead); the
        stream is then left as it is."""
        self.role = role
        self._spec = spec
        self._kind = kind
        self._open = open_stream
        self._retries = retries
        self._retry_seconds = retry_seconds
        self._stream: Any = None
        self._stopped = asyncio.Event()
        self._last_beat = 0.0
        self._task: asyncio.Task[None] | None = None
        self.opened = 0
        """How many times the stream was opened (1 + the reopens)."""
        self.index: int | None = None
        """The device the open stream plays or captures."""
        self.gave_up = False
        self.stuck = False
        """A stream's open or close never returned: PortAudio is stuck in a thread."""
        self._switching = False
        self._on_lost = on_lost

    @property
    def spec(self) -> int | str | None:
        return self._spec

    def switch(self, spec: int | str | None) -> None:
        """Use another device from now on: the open stream closes, one opens on `spec`.

        (A call playing or sending through this device goes on; it misses the moment the
        streams take to change.)
        """
        logger.info("%s: switching to device %r", self.role, spec)
        self._spec = spec
        self._switching = True
        self._stopped.set()

    @property
    def running(self) -> bool:
        return self._stream is not None

    def start(self) -> None:
        """Starts keeping the stream open (on the running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._keep())

    async def _keep(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            self._stopped.clear()
            try:
                index, self._stream = await _off_loop(
                    lambda: self._open_device(loop), self._close_late, PORTAUDIO_SECONDS
                )
            except (DeviceError, sd.PortAudioError, OSError, TimeoutError) as exc:
                failures += 1
                reason = exc if str(exc) else "PortAudio did not open it in time"
                if isinstance(exc, TimeoutError):
                    self.stuck = True
                if self._on_lost is not None:
                    self._on_lost(str(reason))
                    return
                if failures > self._retries:
                    logger.error("%s: giving up on the sound device: %s", self.role, reason)
                    self.gave_up = True
                    return
                logger.warning(
                    "%s: sound device unavailable (%s); retry %d/%d in %.0f s",
                    self.role,
                    reason,
                    failures,
                    self._retries,
                    self._retry_seconds,
                )
                await asyncio.sleep(self._retry_seconds)
                continue
            self.opened += 1
            self.index = index
            failures = 0
            logger.info("%s: device %d (%s) open", self.role, index, _name(index))
            lost = await self._watch()
            if self._on_lost is not None and not self._switching:
                self._on_lost(lost)
                return
            stream, self._stream = self._stream, None
            try:
                await _off_loop(partial(self._close, stream), _keep_open, PORTAUDIO_SECONDS)
            except TimeoutError:
                self._left_behind()
            if self._switching:
                self._switching = False
            else:
                logger.warning("%s: sound device stopped; reopening", self.role)

    def _open_device(self, loop: asyncio.AbstractEventLoop) -> tuple[int, Any]:
        index = find_device(self._spec, self._kind)
        return index, self._open(index, lambda: _notify(loop, self._stopped))

    def _close_late(self, opened: tuple[int, Any]) -> None:
        """Closes a stream whose opening was given up (it opened after all)."""
        self._close(opened[1])

    def beat(self) -> None:
        """The stream's callback ran (called from PortAudio's thread)."""
        self._last_beat = time.monotonic()

    async def _watch(self) -> str:
        """Return, saying why, when the open stream finished or stalled."""
        self._last_beat = time.monotonic()
        while True:
            try:
                await asyncio.wait_for(self._stopped.wait(), STALL_SECONDS / 2)
                return "the stream stopped"
            except TimeoutError:
                if time.monotonic() - self._last_beat > STALL_SECONDS:
                    logger.warning("%s: no callback for %.0f s", self.role, STALL_SECONDS)
                    return f"no callback for {STALL_SECONDS:.0f} s"

    def _close(self, stream: Any) -> None:
        try:
            stream.close(ignore_errors=True)
        except sd.PortAudioError as exc:
            logger.debug("%s: closing the stream: %s", self.role, exc)

    def close(self) -> None:
        """Stops retrying and closes the stream (waits at most `PORTAUDIO_SECONDS` for it)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        stream, self._stream = self._stream, None
        if stream is None:
            return
        closing = threading.Thread(target=self._close, args=(stream,), daemon=True)
        closing.start()
        closing.join(PORTAUDIO_SECONDS)
        if closing.is_alive():
            self._left_behind()

    def _left_behind(self) -> None:
        """A stream's close did not return in time: its thread stays stuck in PortAudio."""
        self.stuck = True
        logger.error(
            "%s: PortAudio did not close the stream in %.1f s; left behind",
            self.role,
            PORTAUDIO_SECONDS,
        )
        _forsake_portaudio()


async def _off_loop(work: Callable[[], T], undo: Callable[[T], None], within: float) -> T:
    """`work()` run in a daemon thread, awaited for at most `within` seconds (TimeoutError).

    A thread that outlives the wait is left behind; if its `work()` returns after all, `undo`
    gets the result in a thread of its own. A daemon thread never holds up the process's exit.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting coroutine
            _settle(loop, partial(future.set_exception, exc))
            return
        if not _settle(loop, partial(future.set_result, result)):
            undo(result)

    threading.Thread(target=run, name="portaudio", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(future), within)
    except BaseException:
        future.add_done_callback(lambda done: _undo_late(done, undo))
        raise


def _settle(loop: asyncio.AbstractEventLoop, settle: Callable[[], None]) -> bool:
    """Runs `settle` on `loop`; False when the loop is closed."""
    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:
        return False
    return True


def _keep_open(_: None) -> None:
    """Nothing to undo after a late close."""


def _undo_late(future: asyncio.Future[T], undo: Callable[[T], None]) -> None:
    if not future.cancelled() and future.exception() is None:
        threading.Thread(target=undo, args=(future.result(),), daemon=True).start()


def _forsake_portaudio() -> None:
    """PortAudio is stuck in a thread: do not let sounddevice shut it down at exit.

    Its exit handler stops and closes the last stream and terminates PortAudio, which would
    block on (or crash in) the stuck thread; the process then exits without it.
    """
    handler = getattr(sd, "_exit_handler", None)
    if handler is not None:
        atexit.unregister(handler)
        logger.warning("PortAudio is stuck: it will not be shut down at exit")


def _notify(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    """Sets `event` from PortAudio's thread (nothing if the loop is already closed)."""
    try:
        loop.call_soon_threadsafe(event.set)
    except RuntimeError:
        return


def _name(index: int) -> str:
    try:
        return str(sd.query_devices(index)["name"])
    except (sd.PortAudioError, ValueError):
        return "?"

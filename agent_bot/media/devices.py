"""Sound devices: the table `agent-bot devices` prints, device selection, and keeping a stream open.

A device is chosen by index or by a substring of its name; `None` means the system default.
`DeviceKeeper` holds one PortAudio stream open for the speaker or the microphone: when the
device is missing, busy or vanishes mid-call it logs one line, retries every few seconds and
gives up with a log line after `retries` attempts. Nothing here raises into the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

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
    ) -> None:
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
        self.gave_up = False

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
            try:
                index = find_device(self._spec, self._kind)
                self._stopped.clear()
                self._stream = self._open(index, lambda: _notify(loop, self._stopped))
            except (DeviceError, sd.PortAudioError, OSError) as exc:
                failures += 1
                if failures > self._retries:
                    logger.error("%s: giving up on the sound device: %s", self.role, exc)
                    self.gave_up = True
                    return
                logger.warning(
                    "%s: sound device unavailable (%s); retry %d/%d in %.0f s",
                    self.role,
                    exc,
                    failures,
                    self._retries,
                    self._retry_seconds,
                )
                await asyncio.sleep(self._retry_seconds)
                continue
            self.opened += 1
            failures = 0
            logger.info("%s: device %d (%s) open", self.role, index, _name(index))
            await self._watch()
            self._close_stream()
            logger.warning("%s: sound device stopped; reopening", self.role)

    def beat(self) -> None:
        """The stream's callback ran (called from PortAudio's thread)."""
        self._last_beat = time.monotonic()

    async def _watch(self) -> None:
        """Return when the open stream finished or stalled."""
        self._last_beat = time.monotonic()
        while True:
            try:
                await asyncio.wait_for(self._stopped.wait(), STALL_SECONDS / 2)
                return
            except TimeoutError:
                if time.monotonic() - self._last_beat > STALL_SECONDS:
                    logger.warning("%s: no callback for %.0f s", self.role, STALL_SECONDS)
                    return

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close(ignore_errors=True)
            except sd.PortAudioError as exc:
                logger.debug("%s: closing the stream: %s", self.role, exc)

    def close(self) -> None:
        """Stops retrying and closes the stream."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._close_stream()


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

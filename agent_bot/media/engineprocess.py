"""The sound engine: the bot's sound devices in a process of their own, which the bot can kill.

`python -m agent_bot.media.engineprocess FD CONFIG` runs it on the socket `FD` (see
`enginewire`). It opens the speaker and the microphone once, with the `Speaker` and
`DeviceCapture` of this package; packets of the call in focus go into the speaker's playout;
every block the speaker plays is the echo canceller's reference, and every microphone block
goes through the canceller (noise suppression, gain) to the bot. A device that cannot be
opened is reported and left alone (the bot restarts the engine to retry); a device that stops
ends the process at once, without touching PortAudio again: a fresh process is the cure for a
PortAudio stuck on a dead sound server. The engine also ends when the bot goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from dataclasses import asdict
from typing import Any

from agent_bot.media import enginewire as wire
from agent_bot.media.echo import EchoCanceller
from agent_bot.media.frames import Pcm
from agent_bot.media.priority import raise_priority

try:
    from agent_bot.media.devices import DeviceKeeper
    from agent_bot.media.inputdevice import DeviceCapture
    from agent_bot.media.ringer import Ringer
    from agent_bot.media.speaker import Speaker
except ImportError as exc:  # PortAudio is missing: said once, the bot does not retry
    sys.stderr.write(f"{exc}\n")
    sys.exit(wire.EXIT_NO_PORTAUDIO)

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 0.2
"""Between two status messages: the bot takes a silence of a few of them for a hang."""


class WireLogHandler(logging.Handler):
    """Sends each log record to the bot (stderr if the socket is full or gone)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._socket = sock

    def emit(self, record: logging.LogRecord) -> None:
        message = wire.log(record.name, record.levelno, record.getMessage())
        try:
            self._socket.send(message[: wire.MAX_MESSAGE])
        except OSError:
            sys.stderr.write(f"{record.levelname} {record.name}: {record.getMessage()}\n")


class Engine:
    """One engine process's devices, echo canceller and wire."""

    def __init__(self, sock: socket.socket, config: wire.EngineConfig) -> None:
        self._socket = sock
        self._config = config
        self._done: asyncio.Future[int] | None = None
        self._focus = config.focus
        self._lost: dict[str, str] = {}
        self._mic_dropped = 0
        self._processing_errors = 0
        processing = config.processing
        self._canceller = (
            EchoCanceller(processing) if config.microphone and processing.enabled else None
        )
        aec = self._canceller is not None and processing.echo_cancellation and config.speaker
        self.speaker = (
            Speaker(
                config.speaker_spec,
                on_played=self._played if aec else None,
                on_lost=lambda reason: self._on_lost("speaker", reason),
            )
            if config.speaker
            else None
        )
        self.ringer = (
            Ringer(config.ringer_spec, on_lost=lambda reason: self._on_lost("ringer", reason))
            if config.ringer
            else None
        )
        self.capture = (
            DeviceCapture(
                config.microphone_spec,
                on_block=self._captured,
                on_lost=lambda reason: self._on_lost("microphone", reason),
            )
            if config.microphone
            else None
        )

    async def run(self) -> int:
        """Runs until the bot says quit or goes away, or a device stops; the exit code."""
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        loop.add_reader(self._socket.fileno(), self._readable)
        if self.speaker is not None:
            self.speaker.start()
            if self._focus is not None:
                self.speaker.connect(self._focus)
        if self.capture is not None:
            self.capture.start()
        if self.ringer is not None:
            self.ringer.start()
            self.ringer.ring(self._config.ringing)
        while not self._done.done():
            self._send(wire.status(self.status()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._done), HEARTBEAT_SECONDS)
        code = self._done.result()
        self._send(wire.status(self.status()))
        if code == wire.EXIT_QUIT:
            for device in (self.speaker, self.capture, self.ringer):
                if device is not None:
                    device.close()
        return code

    def status(self) -> dict[str, Any]:
        """What the bot shows and reports: devices, playout, levels, echo cancellation."""
        devices: dict[str, Any] = {}
        speaker_rms = 0.0
        playout = None
        if self.speaker is not None:
            devices["speaker"] = self._device(self.speaker.device, "speaker")
            if self._focus is not None:
                stats = self.speaker.stats(self._focus)
                playout = None if stats is None else asdict(stats)
                speaker_rms = self.speaker.rms(self._focus)
        if self.capture is not None:
            devices["microphone"] = self._device(self.capture.device, "microphone")
        if self.ringer is not None:
            devices["ringer"] = self._device(self.ringer.device, "ringer")
        echo = None if self._canceller is None else asdict(self._canceller.stats)
        return {
            "devices": devices,
            "call": self._focus,
            "playout": playout,
            "speaker_rms": speaker_rms,
            "mic_rms": 0.0 if self.capture is None else self.capture.rms,
            "echo": echo,
            "mic_dropped": self._mic_dropped,
            "processing_errors": self._processing_errors,
        }

    def _device(self, keeper: DeviceKeeper, role: str) -> dict[str, Any]:
        if role in self._lost:
            state = "stopped" if keeper.opened else "unavailable"
        else:
            state = "open" if keeper.running else "opening"
        return {
            "state": state,
            "index": keeper.index,
            "reason": self._lost.get(role),
            "stuck": keeper.stuck,
        }

    def _readable(self) -> None:
        while True:
            try:
                message = self._socket.recv(wire.MAX_MESSAGE)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            if not message or message[0] == wire.QUIT:
                self._finish(wire.EXIT_QUIT)
                return
            self._handle(message)

    def _handle(self, message: bytes) -> None:
        kind = message[0]
        if kind == wire.PACKET and self.speaker is not None and self._focus is not None:
            self.speaker.put(self._focus, *wire.parse_packet(message))
        elif kind == wire.RING and self.ringer is not None:
            self.ringer.ring(wire.parse_ring(message))
        elif kind == wire.FOCUS:
            call_id = wire.parse_focus(message)
            if self.speaker is not None and call_id != self._focus:
                if self._focus is not None:
                    self.speaker.disconnect(self._focus)
                if call_id is not None:
                    self.speaker.connect(call_id)
            self._focus = call_id

    def _played(self, pcm: Pcm, delay: float) -> None:
        """(PortAudio's output thread; an exception would stop the stream.)"""
        assert self._canceller is not None
        try:
            self._canceller.render(pcm, delay)
        except Exception:
            self._failed("the speaker's reference")

    def _captured(self, pcm: Pcm, delay: float) -> None:
        """(PortAudio's input thread; an exception would stop the stream.)"""
        if self._canceller is not None:
            try:
                pcm = self._canceller.capture(pcm, delay)
            except Exception:
                self._failed("the microphone's block (sent unprocessed)")
        if not self._send(wire.mic(pcm)):
            self._mic_dropped += 1

    def _failed(self, what: str) -> None:
        """The processing raised: logged the first time; the sound goes on."""
        self._processing_errors += 1
        if self._processing_errors == 1:
            logger.exception("audio processing failed on %s", what)

    def _on_lost(self, role: str, reason: str) -> None:
        """A device could not open (reported: the bot retries) or stopped (the engine ends)."""
        self._lost[role] = reason
        keeper = {"speaker": self.speaker, "microphone": self.capture, "ringer": self.ringer}[role]
        if keeper is not None and keeper.device.opened:
            self._finish(wire.EXIT_LOST)
        else:
            self._send(wire.status(self.status()))

    def _finish(self, code: int) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(code)

    def _send(self, message: bytes) -> bool:
        try:
            self._socket.send(message)
        except OSError:  # full (the bot is late: drop) or gone (the reader sees it)
            return False
        return True


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m agent_bot.media.engineprocess FD CONFIG_JSON\n")
        return wire.EXIT_BAD_USAGE
    config = wire.EngineConfig.from_json(argv[1])
    priority = raise_priority()  # before any thread starts: they inherit it
    sock = socket.socket(fileno=int(argv[0]))
    sock.setblocking(False)
    logging.basicConfig(level=config.log_level, handlers=[WireLogHandler(sock)])
    logger.info("sound engine: priority %s", priority)
    try:
        code = asyncio.run(Engine(sock, config).run())
    except Exception:
        logger.exception("sound engine failed")
        code = 1
    sys.stderr.flush()
    # never PortAudio's exit handler: after a device stopped it may block for good
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

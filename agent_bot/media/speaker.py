"""The speaker: plays one call's received audio on a sound device, with bounded latency.

The call on the speaker gets a `PlayoutBuffer` fed straight from its RTP packets
(`attach_speaker`, through `rtpreceiver.tap_rtp`); a sounddevice `OutputStream` (48 kHz mono,
10 ms blocks, low latency) pulls from it. One call at a time is on the speaker: the newest
attached one; when it ends, the newest of the calls still attached comes back on. The others
keep their own sinks (recorder) and are not played. When the device is missing, busy or
vanishes, the call goes on and the speaker retries (see `DeviceKeeper`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from agent_bot.media.devices import RETRIES, RETRY_SECONDS, DeviceKeeper, open_stream, sd
from agent_bot.media.frames import SAMPLE_RATE, Pcm
from agent_bot.media.level import LevelMeter
from agent_bot.media.playout import PlayoutBuffer
from agent_bot.media.playoutstats import PlayoutStats
from agent_bot.media.rtpreceiver import OpusDecoder, arrival_clock
from agent_bot.media.speakerfeed import attach_speaker

logger = logging.getLogger(__name__)

BLOCK_SAMPLES = 480
"""10 ms device blocks: PulseAudio then reports 20 ms of output latency."""

SKIP_TOLERANCE_S = 0.002
"""A block that PortAudio flags as an output underflow and that is due this much later than
the previous one ended: the device played silence in between (the callback was late), and the
audio of that time is skipped."""

MAX_SKIP_S = 1.0
"""A larger jump of the DAC time is not taken for an underflow."""


class Speaker:
    """Plays the call in focus on an output device (index, name substring, or default)."""

    def __init__(
        self,
        device: int | str | None = None,
        *,
        retries: int = RETRIES,
        retry_seconds: float = RETRY_SECONDS,
        on_played: Callable[[Pcm, float], None] | None = None,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        """`on_played`: gets every block the device is given (silence included) in PortAudio's
        thread, with the render delay (seconds from the callback to the DAC): the echo
        canceller's reference. `on_lost`: see `DeviceKeeper`."""
        self._keeper = DeviceKeeper(
            "speaker",
            device,
            "output",
            self._open,
            retries=retries,
            retry_seconds=retry_seconds,
            on_lost=on_lost,
        )
        self._on_played = on_played
        self._lock = threading.Lock()
        self._call_id: str | None = None
        self._attached: list[str] = []
        self._buffer: PlayoutBuffer | None = None
        self._level = LevelMeter()
        self.underflows = 0
        """Device blocks PortAudio reported as output underflow."""
        self.skipped = 0
        """Samples of audio skipped because the device played silence instead (underflows)."""
        self._next_dac = 0.0

    @property
    def call_id(self) -> str | None:
        """The call on the speaker."""
        return self._call_id

    @property
    def running(self) -> bool:
        """Whether the device is open and playing."""
        return self._keeper.running

    @property
    def device(self) -> DeviceKeeper:
        return self._keeper

    def start(self) -> None:
        """Opens the device (on the running event loop); failures are logged and retried."""
        self._keeper.start()

    def close(self) -> None:
        """Closes the device; every call is taken off."""
        self._keeper.close()
        for call_id in reversed(self._attached):
            self.disconnect(call_id)

    def connect(self, call_id: str) -> None:
        """Puts `call_id` on the speaker (it was attached last)."""
        if call_id in self._attached:
            self._attached.remove(call_id)
        self._attached.append(call_id)
        previous = self._call_id
        self._focus(call_id)
        if previous is not None and previous != call_id:
            logger.info("call %s: taken off the speaker by call %s", previous, call_id)

    def disconnect(self, call_id: str) -> None:
        """Detaches `call_id`; if it was on the speaker, the newest attached call comes on."""
        if call_id not in self._attached:
            return
        self._attached.remove(call_id)
        if self._call_id != call_id:
            return
        with self._lock:
            buffer, self._buffer, self._call_id = self._buffer, None, None
            self._level.reset()
        if buffer is not None:
            logger.info("call %s: off the speaker; playout %s", call_id, summary(buffer.stats))
        if self._attached:
            self._focus(self._attached[-1])

    def _focus(self, call_id: str) -> None:
        with self._lock:
            self._call_id = call_id
            self._buffer = PlayoutBuffer(OpusDecoder())
            self._level.reset()
        logger.info("call %s: on the speaker", call_id)

    def put(self, call_id: str, seq: int, timestamp: int, arrival: float, payload: bytes) -> None:
        """One received Opus packet of `call_id` (ignored unless that call is on the speaker)."""
        if not self._keeper.running:
            return  # nothing plays: the device is reopened with a fresh buffer
        with self._lock:
            if self._call_id == call_id and self._buffer is not None:
                self._buffer.put(seq, timestamp, arrival, payload)

    def attach(self, receiver: Any, call_id: str) -> None:
        """Put the call `receiver` receives on this speaker (see `attach_speaker`)."""
        attach_speaker(receiver, self, call_id)

    def stats(self, call_id: str) -> PlayoutStats | None:
        """Playout figures of `call_id` while it is on the speaker."""
        with self._lock:
            return self._buffer.stats if self._call_id == call_id and self._buffer else None

    def rms(self, call_id: str) -> float:
        """RMS level (full scale = 1.0) played for `call_id` over the last ~100 ms."""
        return self._level.rms if self._call_id == call_id else 0.0

    def _open(self, index: int, on_stop: Any) -> sd.OutputStream:
        self._next_dac = 0.0
        with self._lock:
            if self._call_id is not None:
                self._buffer = PlayoutBuffer(OpusDecoder())
        stream: sd.OutputStream = open_stream(
            "output", index, BLOCK_SAMPLES, self._callback, on_stop
        )
        return stream

    def _callback(self, outdata: Any, frames: int, time: Any, status: sd.CallbackFlags) -> None:
        self._keeper.beat()
        if status.output_underflow:
            self.underflows += 1
        dac = float(time.outputBufferDacTime)
        delay = max(dac - float(time.currentTime), 0.0)  # until this block is heard
        missed = dac - self._next_dac if self._next_dac > 0 else 0.0
        self._next_dac = dac + frames / SAMPLE_RATE
        with self._lock:
            underflow = status.output_underflow and SKIP_TOLERANCE_S < missed < MAX_SKIP_S
            if self._buffer is not None and underflow:
                # keep the playout on the device's clock: what should have played is gone
                skip = round(missed * SAMPLE_RATE)
                self._buffer.skip(skip)
                self.skipped += skip
            buffer = self._buffer
            pcm = None if buffer is None else buffer.pull(frames, arrival_clock(), delay)
        if pcm is None:
            outdata.fill(0)
        else:
            outdata[:, 0] = pcm
            self._level.update(pcm)
        if self._on_played is not None:
            self._on_played(outdata[:, 0], delay)


def summary(stats: PlayoutStats) -> str:
    """Playout figures as one log line's worth."""
    return (
        f"played={stats.played} lost={stats.lost} concealed={stats.concealed} "
        f"underruns={stats.underruns} late={stats.late} dropped={stats.dropped} "
        f"target={stats.target_ms:.0f}ms jitter={stats.jitter_ms:.1f}ms "
        f"drift={stats.drift_ppm:+.0f}ppm device={stats.device_ms:.0f}ms"
    )

"""One call: one RTCPeerConnection's life, from offer/answer to its end and report.

Signaling reaches the call through `on_offer`, `on_answer` and `on_candidate`; the call sends
through the `SignalingClient`. Media: the source's track is sent; the received audio goes to
the sinks (recorder, QA capture: `ReceivedAudio` decides who decodes it); the speaker and an
echo track take the received packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCSessionDescription,
)

from agent_bot import candidates
from agent_bot.calloptions import CallOptions
from agent_bot.dtls import allow_rsa_peers, dtls_failed
from agent_bot.endings import TOLD_REASONS, CallEnd
from agent_bot.ice import bound_gathering
from agent_bot.media import patterns
from agent_bot.media.frames import (
    AudioSink,
    AudioTap,
    PacketSink,
    PcmListener,
    SentAudio,
)
from agent_bot.media.recorder import Recorder
from agent_bot.media.rtpreceiver import tap_rtp
from agent_bot.media.switch import Outgoing
from agent_bot.received import ReceivedAudio
from agent_bot.report import CallReport, TransportStats, sound_summary
from agent_bot.signaling import SignalingClient
from signaling_server.protocol import Event

logger = logging.getLogger(__name__)


class Call:
    """One RTCPeerConnection between this bot and the other party of a call."""

    def __init__(
        self,
        call_id: str,
        signaling: SignalingClient,
        options: CallOptions,
        *,
        role: str,
        peer_id: str,
        offerer: str,
        sinks: list[AudioSink] | None = None,
    ) -> None:
        self.call_id = call_id
        self.peer_id = peer_id
        self.report = CallReport(call_id=call_id, role=role, peer=peer_id, offerer=offerer)
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.source_ended = asyncio.Event()
        """Set when the local track stops by itself (a sample played to its end)."""
        self._signaling = signaling
        self._options = options
        self._sinks: list[AudioSink] = list(sinks or [])
        self._sent_listeners: list[PcmListener] = []
        allow_rsa_peers()
        if options.ice_servers:
            bound_gathering()
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=options.ice_servers))
        self._pending: list[RTCIceCandidate | None] = []
        self._remote_described = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._track: MediaStreamTrack | None = None
        self._outgoing: Outgoing | None = None
        self.held = False
        self.muted = False
        self.peer_held = False
        self.transfer_failed: str | None = None
        """Why the last transfer of this call failed (`call-transfer-failed`), if one did."""
        self._receiver: RTCRtpReceiver | None = None
        self._echo_fed = False
        self._received = ReceivedAudio(
            call_id, self._sinks, self._audio_in, speaker=options.speaker is not None
        )
        self._ending = False
        self._last_audio = 0.0
        self.on_end: Callable[[Call], Awaitable[None]] | None = None
        self._pc.on("track", self._on_track)
        self._pc.on("connectionstatechange", self._on_connection_state)
        self._spawn(self._connect_watchdog())

    # --- signaling -------------------------------------------------------------------------

    async def send_offer(self) -> None:
        """Create and send the offer (this side is the offerer)."""
        self._add_local_track()
        await self._pc.setLocalDescription(await self._pc.createOffer())
        await self._send_description(Event.OFFER)
        self.report.mark("offer")

    async def on_offer(self, offer: dict[str, Any]) -> None:
        """Answer the remote offer."""
        self.report.mark("offer")
        await self._set_remote(offer)
        self._add_local_track()
        await self._pc.setLocalDescription(await self._pc.createAnswer())
        await self._send_description(Event.ANSWER)
        self.report.mark("answer")

    async def on_answer(self, answer: dict[str, Any]) -> None:
        self.report.mark("answer")
        await self._set_remote(answer)

    async def on_candidate(self, candidate: dict[str, Any] | None) -> None:
        """Add a trickled remote candidate (`None` or an empty one: end of candidates)."""
        try:
            parsed = candidates.parse_candidate(candidate)
        except ValueError as exc:
            logger.debug("call=%s candidate ignored: %s", self.call_id, exc)
            return
        if not self._remote_described:
            self._pending.append(parsed)
            return
        await self._pc.addIceCandidate(parsed)

    async def _set_remote(self, description: dict[str, Any]) -> None:
        await self._pc.setRemoteDescription(
            RTCSessionDescription(sdp=description["sdp"], type=description["type"])
        )
        self._remote_described = True
        pending, self._pending = self._pending, []
        for candidate in pending:
            await self._pc.addIceCandidate(candidate)

    async def _send_description(self, event: Event) -> None:
        local = self._pc.localDescription
        key = "offer" if event is Event.OFFER else "answer"
        await self._signaling.request(
            event,
            {
                key: {"type": local.type, "sdp": local.sdp},
                "targetUserId": self.peer_id,
                "callId": self.call_id,
            },
        )
        # aiortc gathers every candidate before the description is set: say there are no more.
        await self._signaling.send(
            Event.ICE_CANDIDATE,
            {"candidate": None, "targetUserId": self.peer_id, "callId": self.call_id},
        )

    # --- media -----------------------------------------------------------------------------

    def _add_local_track(self) -> None:
        if self._track is not None:
            return
        track = self._options.source.create_track()
        self._track = track
        track.on("ended", self.source_ended.set)
        # the taps added so far; a tap added from now on registers itself (`add_tap`)
        self._report_sent(track)
        if self._options.record_dir is not None:
            recorder = Recorder.for_call(self._options.record_dir, self.call_id)
            self.report.recording = str(recorder.path)
            self.add_tap(recorder)
        self._feed_echo()
        self._outgoing = Outgoing(
            track,
            lambda: self._options.hold_source or patterns.hold_source(),
            patterns.silence_source,
            self._report_sent,
        )
        self._outgoing.set(held=self.held, muted=self.muted)
        self._pc.addTrack(self._outgoing.track)

    def _report_sent(self, track: object) -> None:
        if isinstance(track, SentAudio):
            track.add_sent_counter(self._on_sent)
            for listener in self._sent_listeners:
                track.add_sent_listener(listener)

    async def hold(self, held: bool = True) -> None:
        """Put the call on hold (the peer is told and hears the hold sound) or resume it.

        `SignalingError` when the server refuses (then nothing changes).
        """
        if held == self.held:
            return
        await self._signaling.request(
            Event.CALL_HOLD if held else Event.CALL_RESUME, {"callId": self.call_id}
        )
        self.held = held
        if self._outgoing is not None:
            self._outgoing.set(held=held)
        logger.info("call=%s %s", self.call_id, "on hold" if held else "resumed")

    async def transport_stats(self) -> TransportStats:
        """The call's getStats() figures now: RTT, loss, jitter."""
        return TransportStats.from_report(await self._pc.getStats())

    async def on_peer_hold(self, held: bool) -> None:
        """The agent put this (customer's) call on hold, or resumed it (`call-hold`)."""
        self.peer_held = held
        logger.info("call=%s %s by the peer", self.call_id, "held" if held else "resumed")

    def mute(self, muted: bool = True) -> None:
        """Send silence instead of the source (local: the peer is not told)."""
        self.muted = muted
        if self._outgoing is not None:
            self._outgoing.set(muted=muted)
        logger.info("call=%s %s", self.call_id, "muted" if muted else "unmuted")

    def add_sink(self, sink: AudioSink) -> None:
        self._sinks.append(sink)

    def add_tap(self, tap: AudioTap) -> None:
        """Feed `tap` both the received and the sent audio."""
        self._sinks.append(tap)
        track: object = self._track
        if isinstance(track, SentAudio):
            track.add_sent_listener(tap.write_sent)
        override: object = None if self._outgoing is None else self._outgoing.track.override
        if isinstance(override, SentAudio):
            override.add_sent_listener(tap.write_sent)
        # told to the local track once it is made, and to each hold / mute track
        self._sent_listeners.append(tap.write_sent)

    def remove_sink(self, sink: AudioSink) -> None:
        with contextlib.suppress(ValueError):
            self._sinks.remove(sink)

    def _on_sent(self) -> None:
        if self.report.frames_sent == 0:
            self.report.mark("first_audio_out")
            logger.info("call=%s first audio out", self.call_id)
        self.report.frames_sent += 1

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio":
            return
        self._receiver = next(
            t.receiver for t in self._pc.getTransceivers() if t.receiver.track is track
        )
        speaker = self._options.speaker
        if speaker is not None:
            speaker.attach(self._receiver, self.call_id)
        self._feed_echo()
        self._received.attach(self._receiver)
        self._spawn(self._received.track_frames(track, self._failed))

    def _failed(self, error: str) -> None:
        self.report.error = error
        self._spawn(self.end(CallEnd.ERROR))

    def _audio_in(self) -> None:
        """20 ms of audio came in (a decoded frame, or a packet when not decoding)."""
        self._last_audio = time.monotonic()
        if self.report.frames_received == 0:
            self.report.mark("first_audio_in")
            logger.info("call=%s first audio in", self.call_id)
        self.report.frames_received += 1

    def _feed_echo(self) -> None:
        """Once the call has both, a local track that takes received packets (echo) gets them."""
        track: object = self._track  # an aiortc track that may also be a PacketSink
        receiver = self._receiver
        if isinstance(track, PacketSink) and receiver is not None and not self._echo_fed:
            self._echo_fed = True
            tap_rtp(receiver, track.write_packet)

    async def _media_watchdog(self) -> None:
        """From connected on: end the call when no audio arrives for `media_timeout` seconds."""
        timeout = self._options.media_timeout
        self._last_audio = time.monotonic()
        while True:
            await asyncio.sleep(timeout / 4)
            if time.monotonic() - self._last_audio > timeout:
                logger.warning("call=%s no audio for %.0f s", self.call_id, timeout)
                await self.end(CallEnd.MEDIA_TIMEOUT)
                return

    # --- life ------------------------------------------------------------------------------

    async def _on_connection_state(self) -> None:
        state = self._pc.connectionState
        logger.info("call=%s connection %s", self.call_id, state)
        if state == "connected" and not self.connected.is_set():
            self.report.mark("connected")
            self.connected.set()
            self._spawn(self._media_watchdog())
            await self._signaling.send(Event.CALL_CONNECTED, {"callId": self.call_id})
        elif state == "failed":
            failed_in_dtls = dtls_failed(self._pc, self.call_id)
            await self.end(CallEnd.DTLS_FAILED if failed_in_dtls else CallEnd.ICE_FAILED)
        elif state == "closed":
            await self.end(CallEnd.REMOTE_CLOSED)

    async def _connect_watchdog(self) -> None:
        timeout = self._options.connect_timeout
        await asyncio.sleep(timeout)
        if not self.report.connected:
            logger.warning(
                "call=%s not connected after %g s: %s",
                self.call_id,
                timeout,
                candidates.tried(self._pc),
            )
            await self.end(CallEnd.CONNECT_TIMEOUT)

    @property
    def ending(self) -> bool:
        """The call is ending or ended: it no longer takes a slot of the bot."""
        return self._ending

    async def hangup(self) -> None:
        """End the call from this side and tell the other party."""
        await self.end(CallEnd.LOCAL_HANGUP)

    async def end(self, reason: str, *, notify: bool = True) -> None:
        """End the call once: tell the server (unless it told us), close the media ends.

        The server hears why when the bot gave up on the call (`TOLD_REASONS`), so the other
        party gets `call-ended` with that reason and the agent's slot frees at once.
        """
        if self._ending:
            return
        self._ending = True
        self.report.end_reason = reason
        if notify:
            hangup: dict[str, Any] = {"callId": self.call_id}
            if reason in TOLD_REASONS:
                hangup["reason"] = reason
            await self._signaling.send(Event.HANGUP, hangup)
        with contextlib.suppress(Exception):
            self.report.stats = TransportStats.from_report(await self._pc.getStats())
        speaker = self._options.speaker
        if speaker is not None:
            playout = speaker.stats(self.call_id)
            self.report.playout = None if playout is None else asdict(playout)
            self.report.sound = speaker.sound(self.call_id)
            speaker.disconnect(self.call_id)
            if self.report.sound is not None:
                logger.info("call=%s sound: %s", self.call_id, sound_summary(self.report.sound))
        if self._outgoing is not None:
            self._outgoing.track.stop()
        elif self._track is not None:
            self._track.stop()
        await self._pc.close()
        self._received.close()
        for sink in self._sinks:
            sink.close()
        self.report.mark("ended")
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        logger.info("call=%s ended reason=%s", self.call_id, reason)
        self.ended.set()
        if self.on_end is not None:
            await self.on_end(self)

    async def attempt(self, step: Awaitable[None]) -> None:
        """Run one signaling step of this call; a failure ends the call, never the bot."""
        try:
            await step
        except Exception as exc:
            logger.exception("call=%s signaling step failed", self.call_id)
            self.report.error = f"{type(exc).__name__}: {exc}"
            await self.end(CallEnd.ERROR)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

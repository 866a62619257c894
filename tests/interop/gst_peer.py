"""A GStreamer webrtcbin peer for the interop tests, driven by JSON lines on stdin/stdout.

Run with Debian's /usr/bin/python3 (python3-gi, python3-gst-1.0; the venv has no `gi`):

    gst_peer.py --role offerer|answerer --play SEND.wav --record RECEIVED.wav

It sends SEND.wav (any rate, mono or stereo, paced in real time) as Opus and records what it
receives to RECEIVED.wav (16-bit mono 48 kHz). No ICE servers: loopback / LAN only.

stdin:  {"type": "offer"|"answer", "sdp": S}
        {"type": "candidate", "candidate": C, "sdpMLineIndex": I}
        {"type": "stop"}  (finish the recording, then exit 0)
stdout: {"type": "offer"|"answer", "sdp": S}   {"type": "candidate", "candidate", "sdpMLineIndex"}
        {"type": "gathered"}   {"type": "state", "ice": …, "connection": …}   {"type": "connected"}
        {"type": "receiving", "caps": …}   {"type": "error", "message": M}   {"type": "stopped"}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

SEND = (
    "filesrc location={play} ! wavparse ! audioconvert ! audioresample ! "
    "audio/x-raw,rate=48000,channels=1 ! clocksync ! "
    "opusenc bitrate=64000 audio-type=voice frame-size=20 ! rtpopuspay pt={pt} ! "
    "application/x-rtp,media=audio,encoding-name=OPUS,payload={pt} ! queue ! webrtc.sink_0"
)
RECEIVE = (
    "queue ! rtpopusdepay ! opusdec ! audioconvert ! audioresample ! "
    "audio/x-raw,format=S16LE,rate=48000,channels=1 ! wavenc ! filesink name=recording"
)

_out_lock = threading.Lock()


def say(message: dict[str, Any]) -> None:
    """One protocol line on stdout (called from GStreamer's threads too)."""
    with _out_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def opus_payload_type(sdp: str) -> int:
    """The payload type the remote offer gives Opus (96 if it names none)."""
    found = re.search(r"^a=rtpmap:(\d+) opus/48000", sdp, re.MULTILINE | re.IGNORECASE)
    return int(found.group(1)) if found else 96


class Peer:
    """One webrtcbin call: the send branch built up front, the receive branch on pad-added."""

    def __init__(self, role: str, play: str, record: str) -> None:
        self.role = role
        self.play = play
        self.record = record
        self.loop = GLib.MainLoop()
        self.pipeline: Gst.Pipeline | None = None
        self.webrtc: Gst.Element | None = None
        self.recording: Gst.Bin | None = None
        self.connected = False
        self.stopping = False
        self.stopped = False

    # --- pipeline --------------------------------------------------------------------------

    def start(self, pt: int = 96) -> None:
        description = "webrtcbin name=webrtc bundle-policy=max-bundle " + SEND.format(
            play=self.play, pt=pt
        )
        self.pipeline = Gst.parse_launch(description)
        self.webrtc = self.pipeline.get_by_name("webrtc")
        if self.role == "offerer":
            self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.webrtc.connect("on-ice-candidate", self.on_ice_candidate)
        self.webrtc.connect("pad-added", self.on_pad_added)
        for name in ("ice-connection-state", "connection-state", "ice-gathering-state"):
            self.webrtc.connect(f"notify::{name}", self.on_state)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)
        self.pipeline.set_state(Gst.State.PLAYING)

    def on_error(self, _bus: Gst.Bus, message: Gst.Message) -> None:
        error, debug = message.parse_error()
        say({"type": "error", "message": f"{error.message} ({debug})"})

    def on_state(self, webrtc: Gst.Element, _spec: Any) -> None:
        ice = webrtc.get_property("ice-connection-state").value_nick
        connection = webrtc.get_property("connection-state").value_nick
        gathering = webrtc.get_property("ice-gathering-state").value_nick
        say({"type": "state", "ice": ice, "connection": connection, "gathering": gathering})
        if connection == "connected" and not self.connected:
            self.connected = True
            say({"type": "connected"})

    def on_pad_added(self, _webrtc: Gst.Element, pad: Gst.Pad) -> None:
        if pad.get_direction() != Gst.PadDirection.SRC or self.recording is not None:
            return
        assert self.pipeline is not None
        branch = Gst.parse_bin_from_description(RECEIVE, True)
        filesink = branch.get_by_name("recording")
        filesink.set_property("location", self.record)
        filesink.get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, self.on_eos)
        self.pipeline.add(branch)
        branch.sync_state_with_parent()
        pad.link(branch.get_static_pad("sink"))
        self.recording = branch
        caps = pad.get_current_caps()
        say({"type": "receiving", "caps": caps.to_string() if caps else None})

    # --- negotiation -----------------------------------------------------------------------

    def on_negotiation_needed(self, webrtc: Gst.Element) -> None:
        promise = Gst.Promise.new_with_change_func(self.on_description_created, "offer")
        webrtc.emit("create-offer", None, promise)

    def on_description_created(self, promise: Gst.Promise, kind: str) -> None:
        reply = promise.get_reply()
        description = reply.get_value(kind) if reply is not None else None
        if description is None:
            say({"type": "error", "message": f"create-{kind} failed: {reply}"})
            return
        say({"type": kind, "sdp": description.sdp.as_text()})
        assert self.webrtc is not None
        self.webrtc.emit("set-local-description", description, Gst.Promise.new())

    def on_ice_candidate(self, _webrtc: Gst.Element, mline: int, candidate: str) -> None:
        if candidate:
            say({"type": "candidate", "candidate": candidate, "sdpMLineIndex": mline})

    def set_remote(self, kind: str, sdp: str) -> None:
        if self.webrtc is None:  # answerer: send with the payload type the offer gives Opus
            self.start(opus_payload_type(sdp))
        assert self.webrtc is not None
        _, message = GstSdp.SDPMessage.new_from_text(sdp)
        sdp_type = (
            GstWebRTC.WebRTCSDPType.OFFER if kind == "offer" else GstWebRTC.WebRTCSDPType.ANSWER
        )
        description = GstWebRTC.WebRTCSessionDescription.new(sdp_type, message)
        if kind == "offer":
            promise = Gst.Promise.new_with_change_func(self.on_remote_offer_set, None)
        else:
            promise = Gst.Promise.new()
        self.webrtc.emit("set-remote-description", description, promise)

    def on_remote_offer_set(self, _promise: Gst.Promise, _data: Any) -> None:
        assert self.webrtc is not None
        promise = Gst.Promise.new_with_change_func(self.on_description_created, "answer")
        self.webrtc.emit("create-answer", None, promise)

    # --- ending ----------------------------------------------------------------------------

    def stop(self) -> bool:
        """Finish the WAV (EOS through wavenc rewrites its header), then quit."""
        if self.stopping:
            return False
        self.stopping = True
        GLib.timeout_add(3000, self.quit)  # in case the EOS never gets through
        if self.recording is None:
            self.quit()
            return False
        self.recording.get_static_pad("sink").send_event(Gst.Event.new_eos())
        return False

    def on_eos(self, _pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        event = info.get_event()
        if event is not None and event.type == Gst.EventType.EOS:
            GLib.idle_add(self.quit)
        return Gst.PadProbeReturn.OK

    def quit(self) -> bool:
        if self.stopped:
            return False
        self.stopped = True
        if self.pipeline is not None:
            self.pipeline.set_state(Gst.State.NULL)
        say({"type": "stopped"})
        self.loop.quit()
        return False

    # --- stdin -----------------------------------------------------------------------------

    def handle(self, message: dict[str, Any]) -> bool:
        kind = message.get("type")
        if kind in ("offer", "answer"):
            self.set_remote(str(kind), str(message["sdp"]))
        elif kind == "candidate":
            assert self.webrtc is not None, "candidate before any description"
            self.webrtc.emit(
                "add-ice-candidate", int(message["sdpMLineIndex"]), str(message["candidate"])
            )
        elif kind == "stop":
            self.stop()
        else:
            say({"type": "error", "message": f"unknown message {message!r}"})
        return False

    def read_stdin(self) -> None:
        for line in sys.stdin:
            if line.strip():
                GLib.idle_add(self.handle, json.loads(line))
        GLib.idle_add(self.stop)  # the test went away


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("offerer", "answerer"), required=True)
    parser.add_argument("--play", required=True, help="WAV file to send")
    parser.add_argument("--record", required=True, help="WAV file to write what is received")
    args = parser.parse_args()
    Gst.init(None)
    missing = [
        name
        for name in ("webrtcbin", "nicesrc", "dtlsdec", "opusenc", "wavparse", "wavenc")
        if Gst.ElementFactory.find(name) is None
    ]
    if missing:
        say({"type": "error", "message": f"GStreamer elements missing: {', '.join(missing)}"})
        sys.exit(2)
    peer = Peer(args.role, args.play, args.record)
    if args.role == "offerer":
        peer.start()
    threading.Thread(target=peer.read_stdin, daemon=True).start()
    say({"type": "ready"})
    peer.loop.run()


if __name__ == "__main__":
    main()

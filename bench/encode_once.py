"""Does encode-once pay off? CPU of one process sending a sample into N calls, both ways.

    ./run bench encode_once [--calls 10 40] [--seconds 10] [--sample samples/hello-48k.wav]

This process plays one looped sample into N aiortc calls over loopback; a second process
answers them and consumes (decodes) what arrives, so only the sending side is measured here.
For each N it runs the per-frame path (aiortc encodes every frame of every call: the
baseline) and the encode-once path (every call replays the sample's Opus packets), and prints
the CPU (user + system, all threads, `resource.getrusage`) spent over a steady window: per
frame sent, and per call-second at 50 frames/s, with the frames each call actually sent per
second (50 = real time; less means this process did not get the CPU it needed).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import time
from multiprocessing.connection import Connection
from pathlib import Path

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from agent_bot.media.frames import Pcm
from agent_bot.media.sources import FileSource

HELLO = Path(__file__).resolve().parents[1] / "samples" / "hello-48k.wav"
WARMUP_SECONDS = 2.0
FRAMES_PER_SECOND = 50


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def answer_calls(pipe: Connection) -> None:
    """The far ends: answer every offer, then decode what arrives until told to stop."""
    offers: list[str] = pipe.recv()
    peers = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in offers]
    consumers: list[asyncio.Task[None]] = []

    async def consume(track: MediaStreamTrack) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return

    answers = []
    for peer, offer in zip(peers, offers, strict=True):
        peer.on("track", lambda track: consumers.append(asyncio.create_task(consume(track))))
        await peer.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await peer.setLocalDescription(await peer.createAnswer())
        answers.append(peer.localDescription.sdp)
    pipe.send(answers)
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    for task in consumers:
        task.cancel()
    for peer in peers:
        await peer.close()


def far_end(pipe: Connection) -> None:
    asyncio.run(answer_calls(pipe))


async def measure(
    sample: Path, calls: int, seconds: float, encode_once: bool
) -> tuple[float, float]:
    """(CPU seconds per frame sent, frames sent per call per second) for one run."""
    source = FileSource(sample, loop=True, encode_once=encode_once)
    peers = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(calls)]
    sent = [0]

    def count(_: Pcm) -> None:
        sent[0] += 1

    for peer in peers:
        track = source.create_track()
        track.add_sent_listener(count)
        peer.addTrack(track)
        await peer.setLocalDescription(await peer.createOffer())

    pipe, child_pipe = multiprocessing.get_context("spawn").Pipe()
    child = multiprocessing.get_context("spawn").Process(target=far_end, args=(child_pipe,))
    child.start()
    try:
        pipe.send([peer.localDescription.sdp for peer in peers])
        answers = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        for peer, answer in zip(peers, answers, strict=True):
            await peer.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await asyncio.sleep(WARMUP_SECONDS)
        cpu, frames, start = cpu_seconds(), sent[0], time.monotonic()
        await asyncio.sleep(seconds)
        cpu, frames = cpu_seconds() - cpu, sent[0] - frames
        elapsed = time.monotonic() - start
        connected = sum(peer.connectionState == "connected" for peer in peers)
        if connected != calls:
            raise SystemExit(f"only {connected} of {calls} calls connected")
    finally:
        pipe.send("stop")
        for peer in peers:
            await peer.close()
        source.close()
        child.join(30)
    return cpu / frames, frames / (calls * elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 40])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sample", type=Path, default=HELLO)
    args = parser.parse_args()

    print(f"sending process, {args.seconds:.0f} s per run after {WARMUP_SECONDS:.0f} s warm-up")
    print(f"{'calls':>5}  {'path':<12} {'CPU us/frame':>12} {'CPU s/call-s':>12} {'fps/call':>9}")
    for calls in args.calls:
        per_frame = {}
        for encode_once in (False, True):
            name = "encode-once" if encode_once else "per-frame"
            cpu, fps = asyncio.run(measure(args.sample, calls, args.seconds, encode_once))
            per_frame[name] = cpu
            print(
                f"{calls:>5}  {name:<12} {cpu * 1e6:>12.0f} {cpu * FRAMES_PER_SECOND:>12.4f} "
                f"{fps:>9.1f}",
                flush=True,
            )
        ratio = per_frame["per-frame"] / per_frame["encode-once"]
        print(f"{calls:>5}  per-frame / encode-once CPU: {ratio:.2f}x", flush=True)


if __name__ == "__main__":
    main()

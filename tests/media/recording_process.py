"""A process that records a paced two-way stream until it is killed (see test_recorder.py).

Frame n of the received side holds the value n, of the sent side -n (modulo 10 000), so
the test can check what the file kept. Prints "recording" once it has started.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from agent_bot.media.frames import FRAME_SAMPLES, FRAME_SECONDS
from agent_bot.media.recorder import Recorder


def main(path: str) -> None:
    recorder = Recorder(path)
    start = time.monotonic()
    print("recording", flush=True)
    for index in range(10**6):
        value = index % 10_000
        recorder.write(np.full(FRAME_SAMPLES, value, dtype=np.int16))
        recorder.write_sent(np.full(FRAME_SAMPLES, -value, dtype=np.int16))
        time.sleep(max(0.0, start + (index + 1) * FRAME_SECONDS - time.monotonic()))


if __name__ == "__main__":
    main(sys.argv[1])

"""How much faster the sender's clock runs than the sound device's, from arrivals and pulls.

Each arrival gives two readings against the arrival clock: the sender's (the packet's media
time minus its arrival time) and the device's (its position at the arrival minus the arrival
time). Per `POINT_PACKETS` arrivals, the sender's point is the earliest arrival (network and
event-loop delays only make packets later) and the device's point the mean (a device pulls in
bursts and pauses that average out). The drift is the slope of the sender's points minus that
of the device's, each fitted by least squares over its last `POINTS`.

Steps are not drift. Each side's points are cut into stretches at its steps, and the fit
gives every stretch its own offset and all of them one slope, so a step moves no slope:
- the sender's steps: its earliest arrival moving by over `SENDER_STEP_MS` off the line (its
  schedule restarted after a stall, the network path changed);
- the device's: a late pull (an underflow, after which the device's position against the
  clock can move for good). Its points are left out for `DEVICE_SETTLE_S` after it: the DAC
  times PortAudio reports through ALSA's PulseAudio plugin settle to their new offset over
  seconds (seen: 4 ms, decaying by e every ~5 s), which a stretch fitted from the jump on
  takes for a slope (23 ppm off in a real 150-s call after two underflows).
What remains of either side's jitter (a device pulling in a sawtooth on a loaded machine: a
little slow, then a block at once) averages out within a stretch. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from agent_bot.media.frames import SAMPLE_RATE

SAMPLES_PER_MS = SAMPLE_RATE // 1000

MAX_DRIFT_PPM = 1_500.0
"""Largest drift followed: sound cards are within ±300 ppm, cheap USB headsets ±1,000 ppm."""

POINT_PACKETS = 25
"""Arrivals (0.5 s of 20 ms packets) per point."""

POINTS = 240
"""Points (2 minutes) each side is fitted over."""

MIN_POINTS = 8
"""Points (4 s) in stretches of two or more before a side has a slope (0 until then)."""

DEVICE_SETTLE_S = 15.0
"""Seconds of the device's points left out after a late pull (three of those ~5-s decays)."""

SENDER_STEP_MS = 4.0
"""Four times what the event loop adds to an earliest arrival on a busy machine (~1 ms), five
times what `MAX_DRIFT_PPM` moves a point."""


class Stretches:
    """Points (x, y) over a window, in stretches fitted with one slope and an offset each."""

    def __init__(self) -> None:
        self._points: deque[tuple[int, float, float]] = deque(maxlen=POINTS)
        self._stretch = 0
        self._origin: float | None = None

    def cut(self) -> None:
        """The next point starts a stretch of its own."""
        self._stretch += 1

    def add(self, x: float, y: float) -> None:
        if self._origin is None:
            self._origin = y
        self._points.append((self._stretch, x, y - self._origin))

    def fit(self) -> tuple[float, float, float] | None:
        """(slope, the last stretch's mean x and mean y), once there are `MIN_POINTS`."""
        if not self._points:
            return None
        stretch, x, y = np.array(self._points).T
        _, which, counts = np.unique(stretch, return_inverse=True, return_counts=True)
        if np.sum(counts[counts > 1]) < MIN_POINTS:
            return None
        mean_x = np.bincount(which, x) / counts
        mean_y = np.bincount(which, y) / counts
        dx, dy = x - mean_x[which], y - mean_y[which]
        spread = float(np.dot(dx, dx))
        slope = float(np.dot(dx, dy)) / spread if spread > 0 else 0.0
        return slope, float(mean_x[-1]), float(mean_y[-1])

    def slope(self) -> float:
        fit = self.fit()
        return 0.0 if fit is None else fit[0]

    def distance(self, x: float, y: float) -> float:
        """How far a point is off the last stretch's line (off its last point without one)."""
        if not self._points or self._origin is None:
            return 0.0
        fit = self.fit()
        last_stretch, _, last_y = self._points[-1]
        if fit is None or last_stretch != self._stretch:
            return y - self._origin - last_y
        slope, mean_x, mean_y = fit
        return y - self._origin - (mean_y + slope * (x - mean_x))


class ClockDrift:
    """The drift estimate of one stream: `drift` (0.001 is 1,000 ppm, the sender faster), the
    sender's pace less the device's, each against the arrival clock (`device` is the latter)."""

    def __init__(self) -> None:
        self.drift = 0.0
        self.device = 0.0
        self._sender = Stretches()
        self._device = Stretches()
        self._origin: float | None = None
        self._media: list[float] = []
        self._positions: list[float] = []
        self._times: list[float] = []
        self._late = False
        self._settled_at = 0.0
        """When the device's points count again after its last late pull (arrival clock)."""

    def late(self) -> None:
        """The device pulled late (or skipped what it missed): its position may have jumped."""
        self._late = True

    def arrival(self, media: float, device: float, at: float) -> None:
        """A packet ending at `media` (samples) came `at` (seconds), the device at `device`."""
        if self._origin is None:
            self._origin = at
        at -= self._origin
        self._media.append(media - at * SAMPLE_RATE)
        self._positions.append(device - at * SAMPLE_RATE)
        self._times.append(at)
        if len(self._times) < POINT_PACKETS:
            return
        x = float(np.mean(self._times))
        sender, device = max(self._media), float(np.mean(self._positions))
        self._media.clear()
        self._positions.clear()
        self._times.clear()
        if abs(self._sender.distance(x, sender)) > SENDER_STEP_MS * SAMPLES_PER_MS:
            self._sender.cut()
        self._sender.add(x, sender)
        if self._late:
            self._late = False
            self._device.cut()
            self._settled_at = x + DEVICE_SETTLE_S
        if x >= self._settled_at:
            self._device.add(x, device)
        self.device = self._device.slope() / SAMPLE_RATE
        drift = self._sender.slope() / SAMPLE_RATE - self.device
        self.drift = float(np.clip(drift, -MAX_DRIFT_PPM / 1e6, MAX_DRIFT_PPM / 1e6))

"""Noticing sound devices that come and go (hot-plug), without PortAudio.

PortAudio lists devices once, when it starts; the sound engine restarts to see new ones. What
changes when a device is plugged or unplugged: ALSA's device nodes (`/dev/snd`) and, for
devices defined in ALSA's configuration, those files. Devices a sound server adds behind one
ALSA device (PulseAudio's sinks behind `pulse`) are the sound server's to follow.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PATHS = ("/dev/snd", "/etc/asound.conf", "~/.asoundrc")
INTERVAL_SECONDS = 2.0

Signature = tuple[object, ...]


class DeviceWatch:
    """Says when the set of sound devices may have changed (polled every `interval` s)."""

    def __init__(self, paths: tuple[str, ...] = PATHS, interval: float = INTERVAL_SECONDS) -> None:
        self._paths = paths
        self._interval = interval
        self._signature = self._read()
        self._next = time.monotonic() + interval

    def reset(self) -> None:
        """What is there now is what the next `changed()` compares against."""
        self._signature = self._read()
        self._next = time.monotonic() + self._interval

    def changed(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self._interval
        signature = self._read()
        if signature == self._signature:
            return False
        self._signature = signature
        return True

    def _read(self) -> Signature:
        return tuple(_entry(Path(os.path.expanduser(path))) for path in self._paths)


def _entry(path: Path) -> object:
    try:
        if path.is_dir():
            return tuple(sorted(os.listdir(path)))
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size)

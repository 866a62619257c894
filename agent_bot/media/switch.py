"""The track a call sends: its source's track, or for a while another one in its place.

Hold swaps in the hold sound, mute swaps in silence: what the call sends changes, the RTP
stream does not (media keeps flowing, so NAT bindings and ICE consent stay alive). Frames keep
their source's spacing; at each switch the timestamps are shifted to carry on where the last
frame left off, so the receiver sees one continuous stream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from aiortc import MediaStreamTrack
from av import AudioFrame, Packet
from av.frame import Frame

from agent_bot.media.frames import FRAME_SAMPLES, Source

logger = logging.getLogger(__name__)


class SwitchTrack(MediaStreamTrack):
    """Sends `main`'s frames, or `override`'s while one is set (see `switch`).

    `main` ending ends this track; an override is stopped when it is switched out.
    """

    kind = "audio"

    def __init__(self, main: MediaStreamTrack) -> None:
        super().__init__()
        self.main = main
        self._override: MediaStreamTrack | None = None
        self._switched = False
        self._offset = 0
        self._next_pts: int | None = None

    @property
    def override(self) -> MediaStreamTrack | None:
        return self._override

    def switch(self, override: MediaStreamTrack | None) -> None:
        """Send `override` from the next frame on (None: `main` again)."""
        if self._override is override:
            return
        if self._override is not None:
            self._override.stop()
        self._override = override
        self._switched = True

    async def recv(self) -> Frame | Packet[Any]:
        media = await (self._override or self.main).recv()
        pts = media.pts or 0
        if self._switched and self._next_pts is not None:
            self._offset = self._next_pts - pts
        self._switched = False
        media.pts = pts + self._offset
        samples = media.samples if isinstance(media, AudioFrame) else FRAME_SAMPLES
        self._next_pts = media.pts + samples
        return media

    def stop(self) -> None:
        super().stop()
        self.main.stop()
        if self._override is not None:
            self._override.stop()


class _Sources(Protocol):
    def __call__(self) -> Source: ...


class Outgoing:
    """What one call sends: its source's track; the hold sound while held; silence while
    muted. `on_track` is told each hold / mute track made (to count and record what is sent)."""

    def __init__(
        self,
        main: MediaStreamTrack,
        hold: _Sources,
        silence: _Sources,
        on_track: Callable[[MediaStreamTrack], None],
    ) -> None:
        self.track = SwitchTrack(main)
        self.held = False
        self.muted = False
        self._hold = hold
        self._silence = silence
        self._on_track = on_track

    def set(self, *, held: bool | None = None, muted: bool | None = None) -> None:
        self.held = self.held if held is None else held
        self.muted = self.muted if muted is None else muted
        source = self._hold() if self.held else self._silence() if self.muted else None
        override = None if source is None else source.create_track()
        if override is not None:
            self._on_track(override)
        self.track.switch(override)

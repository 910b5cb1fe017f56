"""The music pause: from a `music_pause` until the next `music_resume` every player fades its
volume down and then pauses; after the resume the music the layers below ask for comes back,
its volume rising from 0 at the safety's rise limit.

It is applied to the timeline's device states last, above every layer (the emergency
included), so clearing an emergency never brings paused music back: a pause is a decision
about the client's music that only a `music_resume` undoes.  While it fades down a player is
sent no source at all (only its volume falls), so a speaker that was not playing (a power cut)
is never sent Play; at the end it is paused.  Pure, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from roomctl.model.events import Event, MusicPause, MusicResume
from roomctl.model.scene import SILENCE
from roomctl.model.state import DeviceState, PlayerState

__all__ = [
    "PAUSE_FADE_S",
    "VOLUME_FALL_S_PER_STEP",
    "MusicPauseStatus",
    "MusicPauses",
    "pause_fade_s",
]

PAUSE_FADE_S = 8.0  # the volume falls over this long (at least the audio minimum), then Pause
# Volume comes down no faster than one step in 0.6 s: the engine steps a speaker at most twice
# a second, so each command is then one step (a faster fall would skip steps on the way).
VOLUME_FALL_S_PER_STEP = 0.6


def pause_fade_s(fade_s: float, volume: int | None) -> float:
    """How long a pause takes to bring `volume` down: `fade_s`, or longer for a loud one."""
    return max(fade_s, (volume or 0) * VOLUME_FALL_S_PER_STEP)


@dataclass(frozen=True, slots=True)
class MusicPauseStatus:
    """The music is paused: since when (wall time), why ("facilitator", "power cut"), by whom."""

    since: float
    reason: str
    by: str


@dataclass(frozen=True, slots=True)
class _Span:
    start: float
    end: float | None  # the resume's time; None: still paused
    reason: str
    by: str


class MusicPauses:
    """The session's music pauses, from its events (in log order)."""

    def __init__(self, events: Sequence[Event], fade_s: float, rise_per_10s: float) -> None:
        self.fade_s = fade_s
        self.rise_per_10s = rise_per_10s
        spans: list[_Span] = []
        opened: Event | None = None
        for ev in events:
            p = ev.payload
            if isinstance(p, MusicPause) and opened is None:
                opened = ev
            elif isinstance(p, MusicResume) and opened is not None:
                assert isinstance(opened.payload, MusicPause)
                spans.append(_Span(opened.at, ev.at, opened.payload.reason, opened.by))
                opened = None
        if opened is not None:
            assert isinstance(opened.payload, MusicPause)
            spans.append(_Span(opened.at, None, opened.payload.reason, opened.by))
        self._spans = spans

    def _span(self, t: float) -> tuple[_Span | None, float | None]:
        """(the pause holding at t, or None; the time of the latest resume before t)."""
        resumed: float | None = None
        for span in self._spans:
            if span.start > t:
                break
            if span.end is None or t < span.end:
                return span, resumed
            resumed = span.end
        return None, resumed

    def status(self, t: float) -> MusicPauseStatus | None:
        span, _ = self._span(t)
        return None if span is None else MusicPauseStatus(span.start, span.reason, span.by)

    def apply(self, devices: Mapping[str, DeviceState], t: float) -> dict[str, DeviceState]:
        """The device states at `t` with the pause (or a resume's rise) over the players."""
        out = dict(devices)
        if not self._spans:
            return out
        span, resumed = self._span(t)
        for dev_id, state in devices.items():
            if not isinstance(state, PlayerState):
                continue
            if span is not None:
                out[dev_id] = self._paused(state, t - span.start)
            elif resumed is not None:
                out[dev_id] = self._rising(state, t - resumed)
        return out

    def _paused(self, state: PlayerState, since_s: float) -> PlayerState:
        """Fading down (no source sent: a paused speaker stays paused; the engine never lets a
        volume without a source rise), then paused at 0."""
        fade_s = pause_fade_s(self.fade_s, state.volume)
        left = 1.0 - since_s / fade_s if fade_s > 0 else 0.0
        silent = state.source is not None and state.source.is_silence
        if left <= 0.0 or silent:
            return PlayerState(SILENCE, 0)
        volume = None if state.volume is None else math.floor(state.volume * left)
        return PlayerState(None, volume)

    def _rising(self, state: PlayerState, since_s: float) -> PlayerState:
        """The layers' music, no louder than a rise from 0 at the limit since the resume."""
        cap = math.floor(self.rise_per_10s * since_s / 10.0)
        if state.volume is None or state.volume <= cap:
            return state
        return PlayerState(state.source, cap)

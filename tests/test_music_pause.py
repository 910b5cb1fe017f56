"""The music pause on a virtual clock, through SessionControl and the store: a pause fades the
speakers down without sending a source, then pauses them; an emergency and its clear leave a
paused music paused; a resume brings the scene's source back with the volume rising from 0 at
the rise limit; the commands are checked, stored with their author and read well in the
session record."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from roomctl.clock import VirtualClock
from roomctl.control.room_state import room_state
from roomctl.control.session import SessionControl
from roomctl.errors import SessionError
from roomctl.model.events import EmergencyClear, EmergencyOn, EventKind, MusicPause, MusicResume
from roomctl.model.library import Library
from roomctl.model.scene import SILENCE
from roomctl.model.state import PlayerState
from roomctl.record import build_record
from roomctl.store.store import Store
from roomctl.timeline.music import PAUSE_FADE_S, pause_fade_s

T = 1_800_000_000.0
RISE = 6  # the example config's max_volume_rise_per_10s


def later(clock: VirtualClock, seconds: float) -> None:
    asyncio.run(clock.advance(seconds))


def speakers(c: SessionControl, t: float | None = None) -> PlayerState:
    state = c.desired(c.now() if t is None else t)["speakers"]
    assert isinstance(state, PlayerState)
    return state


@pytest.fixture
def playing(lib: Library, store: Store, clock: VirtualClock) -> SessionControl:
    """A psilocybin session 40 minutes in: the speakers play the phase's music."""
    c = SessionControl(lib, store, clock)
    c.start("psilocybin", by="alice")
    later(clock, 40 * 60)
    state = speakers(c)
    assert state.source is not None and not state.source.is_silence and (state.volume or 0) > 0
    return c


def test_a_pause_fades_down_without_a_source_then_pauses(
    playing: SessionControl, clock: VirtualClock
) -> None:
    c = playing
    before = speakers(c).volume or 0
    event = c.command(MusicPause(), by="alice")
    assert (event.kind, event.by) == (EventKind.MUSIC_PAUSE, "alice")
    t = c.now()
    fade_s = pause_fade_s(PAUSE_FADE_S, before)  # longer for a loud speaker: a step at a time
    assert fade_s >= PAUSE_FADE_S
    volumes = []
    for i in range(int(fade_s * 2)):
        state = speakers(c, t + i / 2)
        assert state.source is None  # nothing to play, nothing restarted
        volumes.append(state.volume or 0)
    assert volumes[0] == before and volumes[-1] < 5
    assert all(0 <= a - b <= 1 for a, b in itertools.pairwise(volumes))  # down, one step a time
    assert speakers(c, t + fade_s + 0.01) == PlayerState(SILENCE, 0)
    later(clock, 3600)  # a phase change later: still paused
    assert speakers(c) == PlayerState(SILENCE, 0)
    st = c.snapshot().status
    assert st is not None and st.music_paused is not None
    assert (st.music_paused.reason, st.music_paused.by, st.music_paused.since) == (
        "facilitator", "alice", t,
    )  # fmt: skip


def test_an_emergency_clear_does_not_resume_paused_music(
    playing: SessionControl, clock: VirtualClock
) -> None:
    c = playing
    c.command(MusicPause(reason="power cut"), by="system")
    later(clock, 30)
    c.command(EmergencyOn(), by="bob")
    later(clock, 30)
    with pytest.raises(SessionError, match="clear it first, then resume"):
        c.command(MusicResume(), by="bob")
    c.command(EmergencyClear(), by="bob")
    for _ in range(10):  # the lights fade back; the music stays paused all the way
        later(clock, 30)
        assert speakers(c) == PlayerState(SILENCE, 0)
    paused = room_state(c, {}).music_paused
    assert paused is not None and (paused.reason, paused.by) == ("power cut", "system")


def test_a_resume_plays_the_scene_again_rising_from_0_at_the_limit(
    playing: SessionControl, clock: VirtualClock
) -> None:
    c = playing
    c.command(MusicPause(), by="alice")
    later(clock, 60)
    c.command(MusicResume(), by="alice")
    t = c.now()
    want = speakers(c, t + 120)  # once risen: the arc's own music (same phase)
    assert (want.volume or 0) > RISE * 2
    assert speakers(c, t) == PlayerState(want.source, 0)  # Play at 0, then up
    for s in range(0, 40, 5):
        state = speakers(c, t + s)
        assert state.source is not None and not state.source.is_silence
        assert (state.volume or 0) <= RISE * s / 10
    assert room_state(c, {}).music_paused is None


def test_the_commands_are_checked_and_read_well_in_the_record(
    playing: SessionControl, lib: Library, store: Store, clock: VirtualClock
) -> None:
    c = playing
    with pytest.raises(SessionError, match="the music is not paused"):
        c.command(MusicResume(), by="alice")
    c.command(EventKind.MUSIC_PAUSE, {}, by="alice")
    with pytest.raises(SessionError, match="already paused"):
        c.command(MusicPause(), by="bob")
    with pytest.raises(SessionError, match="'reason'"):
        c.command(EventKind.MUSIC_PAUSE, {"reason": "bored"}, by="bob")
    later(clock, 60)
    c.command(MusicResume(), by="bob")
    assert c.session is not None
    record = build_record(store, lib, c.session.id)
    lines = {(e.kind, e.by): e.what for e in record.log}
    assert lines[("music_pause", "alice")] == "music paused (faded down, until resumed)"
    assert lines[("music_resume", "bob")].startswith("music resumed")
    assert record.people["bob"] == {"music_resume": 1}

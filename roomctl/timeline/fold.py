"""The timeline: what every device channel should show at wall time t.

A pure function of (room, arc, scenes, preferences, session events, t).  It folds the session's
events in order, together with the phase boundaries the arc clock passes, and keeps per channel:

- the arc layer: a fade (in arc time, which stops while held) from what the arc showed when the
  phase began to the phase's scene;
- the layers above it: manual overrides, a cue (talk, break, ...), the emergency;
- over all of them the music pause (timeline/music.py), which only a music_resume lifts;
- the output: a fade (in wall time) from what the room showed when the channel's top layer last
  changed, toward that layer's value.

So every fade starts from what the room shows at that moment: an advance or a cue mid-fade never
jumps.  Preferences adapt every scene; the safety clamp is applied last.  Only the emergency
changes without fading.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence

from roomctl.model.arc import Arc
from roomctl.model.config import RoomConfig
from roomctl.model.events import (
    Advance,
    CueOff,
    CueOn,
    Dose,
    EmergencyClear,
    EmergencyOn,
    End,
    Event,
    Extend,
    HeatAlert,
    HeatClear,
    Hold,
    Jump,
    Mark,
    Override,
    OverrideClear,
    Resume,
    Start,
    StepBack,
)
from roomctl.model.prefs import NO_PREFERENCES, Preferences, resolve
from roomctl.model.scene import Scene
from roomctl.timeline.channels import (
    Channel,
    ChannelKey,
    Value,
    device_states,
    safety_limits,
    scene_targets,
)
from roomctl.timeline.layers import emergency_targets
from roomctl.timeline.music import PAUSE_FADE_S, MusicPauses
from roomctl.timeline.output import Output
from roomctl.timeline.state import (
    Fold,
    Layer,
    MarkerStatus,
    OutSeg,
    Seg,
    SessionStatus,
    Snapshot,
    status_of,
)
from roomctl.timeline.state import Override as OverrideLayer
from roomctl.timeline.values import initial_values, override_values

__all__ = [
    "Layer",
    "MarkerStatus",
    "SessionStatus",
    "Snapshot",
    "Timeline",
    "emergency_targets",
]


class Timeline:
    """Desired room state from a session's events.  Build once per event log; call `at(t)`."""

    def __init__(
        self,
        room: RoomConfig,
        arc: Arc,
        scenes: Mapping[str, Scene],
        events: Sequence[Event],
        prefs: Preferences = NO_PREFERENCES,
    ) -> None:
        self.room = room
        self.arc = arc
        self.scenes = scenes
        self.events = sorted(events, key=lambda e: (e.at, e.seq))
        self.prefs = prefs
        self.limits = safety_limits(room, prefs, arc.temperature_c)
        self._out = Output(room, scenes, self.limits)
        self._resolved: dict[tuple[str, int], dict[ChannelKey, Value]] = {}
        self._start = next((e for e in self.events if isinstance(e.payload, Start)), None)
        self._times = [e.at for e in self.events]
        self._checkpoints: dict[int, Fold] = {}
        safety = room.safety  # the music pause: over every layer, the emergency's too
        pause_fade = max(PAUSE_FADE_S, safety.min_fade.audio_s)
        self._music = MusicPauses(self.events, pause_fade, safety.max_volume_rise_per_10s)

    # ----------------------------------------------------------------- public

    def extended(self, events: Sequence[Event]) -> Timeline:
        """The timeline of `events`, which are this one's and more after them (a command just
        stored): the folds already made and the resolved scenes are kept, so the first moment
        asked for after a command folds only the new events, not the whole session again."""
        new = Timeline(self.room, self.arc, self.scenes, events, self.prefs)
        n = len(self.events)
        key = [(e.seq, e.at) for e in self.events]
        if [(e.seq, e.at) for e in new.events[:n]] == key:
            new._resolved = self._resolved
            new._checkpoints = {k: f for k, f in self._checkpoints.items() if k <= n}
        return new

    def at(self, t: float) -> Snapshot:
        start = self._start
        if start is None or start.at > t:
            return Snapshot(t=t, devices={}, status=None)
        f = self._folded(bisect.bisect_right(self._times, t))
        self._advance(f, t)
        values = f.frozen if f.frozen is not None else self._out.values(f)
        devices = device_states(self.room, values)
        if not f.ended:
            devices = self._music.apply(devices, t)
        status = status_of(self.arc, f, self._music.status(t))
        return Snapshot(t=t, devices=devices, status=status)

    def _folded(self, n: int) -> Fold:
        """A fresh copy of the fold after the first `n` events (cached: the engine asks about
        many moments after the same events, and refolding a 12-hour log each time is slow)."""
        cached = self._checkpoints.get(n)
        if cached is None:
            assert self._start is not None
            base = max((k for k in self._checkpoints if k < n), default=None)
            if base is None:  # fold from the start
                cached, first = self._begin(self._start), 0
            else:  # go on from the latest fold before: the events up to it are the same
                cached, first = self._checkpoints[base].branch(), base
            for ev in self.events[first:n]:
                if ev is self._start or ev.at < self._start.at:
                    continue
                self._advance(cached, ev.at)
                self._apply(cached, ev)
            if len(self._checkpoints) >= 8:
                self._checkpoints.pop(next(iter(self._checkpoints)))
            self._checkpoints[n] = cached
        return cached.copy()

    def scene_channels(self, name: str, phase: int = 0) -> dict[ChannelKey, Value]:
        """Channel targets of a scene, shown in the arc's phase number `phase` (from 0), after
        the client's preferences and the safety limits."""
        key = (name, phase)
        if key not in self._resolved:
            scene = resolve(
                self.scenes[name],
                self.prefs,
                self.room.safety,
                self.arc.temperature_c,
                phase=phase,
                music=self.room.music,
            )
            self._resolved[key] = scene_targets(self.room, scene)
        return self._resolved[key]

    # ------------------------------------------------------------ the fold

    def _begin(self, start: Event) -> Fold:
        data = start.payload
        assert isinstance(data, Start)
        if data.t0 is not None:
            t0 = data.t0
            arc_now = max(start.at - t0, self.arc.starts_at)
            dosed = start.at >= t0
        else:
            arc_now = self.arc.starts_at
            t0 = start.at - self.arc.starts_at
            dosed = False
        f = Fold(wall=start.at, arc=arc_now, started_at=start.at, t0=t0, dosed=dosed)
        f.durations = [p.duration for p in self.arc.phases]
        f.initial = initial_values(self.room, data.room)
        idx, phase_start = self._phase_containing(f, arc_now)
        self._enter(f, idx, phase_start)
        return f

    def _phase_containing(self, f: Fold, arc_time: float) -> tuple[int, float]:
        starts = self.arc.nominal_starts()
        idx = 0
        for i, s in enumerate(starts):
            if s <= arc_time:
                idx = i
        return idx, min(starts[idx], arc_time) if idx == 0 else starts[idx]

    def _advance(self, f: Fold, t: float) -> None:
        until = f.cue_until
        if until is not None and until <= t and not f.ended:  # a timed cue ends by itself
            self._advance_arc(f, until)
            self._cue_off(f)
        self._advance_arc(f, t)

    def _advance_arc(self, f: Fold, t: float) -> None:
        while t > f.wall:
            if f.paused:
                f.wall = t
                return
            dur = f.durations[f.idx]
            if f.idx < len(self.arc.phases) - 1 and dur is not None:
                boundary = f.phase_start + dur
                if f.arc + (t - f.wall) >= boundary:
                    f.wall += max(0.0, boundary - f.arc)
                    f.arc = max(f.arc, boundary)
                    self._enter(f, f.idx + 1, f.arc)
                    continue
            f.arc += t - f.wall
            f.wall = t

    def _enter(self, f: Fold, idx: int, phase_start: float) -> None:
        phase = self.arc.phases[idx]
        scene = self.scenes[phase.scene]
        f.idx, f.phase_start, f.phase_started_at = idx, phase_start, f.wall
        light_fade = phase.fade_s if phase.fade_s is not None else scene.fade_s
        before = self._out.shown(f)
        targets = self.scene_channels(phase.scene, idx)
        for key, to in targets.items():
            frm = self._out.arc_value(f, key)
            fade = self._out.fade(key[1], light_fade, scene.audio_fade_s, frm, to)
            if key[1] == "source":
                volume = (before.get((key[0], "volume")), targets.get((key[0], "volume")))
                fade = max(fade, self._out.dip_fade(*volume))
            curve = "linear" if key[1] in ("volume", "setpoint", "source") else phase.curve
            f.arc_segs[key] = Seg(f.arc, frm, to, fade, curve)
        cleared = [k for k, o in f.overrides.items() if o.until == "phase"]
        for key in cleared:
            del f.overrides[key]
        self._out.reown(
            f, lambda ch: self._out.fade(ch, light_fade, scene.audio_fade_s), before, arc_time=True
        )

    def _apply(self, f: Fold, ev: Event) -> None:  # noqa: PLR0912 - one branch per kind
        if f.ended:
            return
        p = ev.payload
        last = len(self.arc.phases) - 1
        before = self._out.shown(f)  # what the room shows as the event arrives
        if isinstance(p, Hold):
            f.holding = True
        elif isinstance(p, Resume):
            f.holding = False
        elif isinstance(p, Extend):
            dur = f.durations[f.idx]
            if dur is not None:
                f.durations[f.idx] = dur + p.minutes * 60.0
        elif isinstance(p, Advance) and f.idx < last:
            self._enter(f, f.idx + 1, f.arc)
        elif isinstance(p, StepBack) and f.idx > 0:
            self._enter(f, f.idx - 1, f.arc)
        elif isinstance(p, Jump) and p.phase in {ph.name for ph in self.arc.phases}:
            self._enter(f, self.arc.phase_index(p.phase), f.arc)
        elif isinstance(p, Dose):
            self._dose(f)
        elif isinstance(p, CueOn) and p.cue in self.scenes:
            self._cue_on(f, p.cue, None, before)
        elif isinstance(p, Mark) and p.cue is not None and p.cue in self.scenes and p.cue_s:
            self._cue_on(f, p.cue, ev.at + p.cue_s, before)
        elif isinstance(p, CueOff) and f.cue is not None:
            self._cue_off(f, before)
        elif isinstance(p, Override):
            self._override(f, p, ev.by, before)
        elif isinstance(p, OverrideClear):
            for key in [k for k in f.overrides if p.device is None or p.device == k[0]]:
                del f.overrides[key]
            self._out.reown(f, self._out.requested_fade(p.fade_s), before)
        elif isinstance(p, HeatAlert) and not f.cooling:
            f.cooling = True
            f.cooled_from = {k: self._out.value(f, k) for k in self._out.cooling if k[1] == "on"}
            self._out.reown(
                f, lambda ch: self._out.fade(ch, 0.0, None), before, force=set(self._out.cooling)
            )
        elif isinstance(p, HeatClear) and f.cooling:
            f.cooling = False
            self._out.reown(f, lambda ch: self._out.fade(ch, 0.0, None), before)
            for key, was in f.cooled_from.items():  # a fan no scene sets goes back as it was
                if self._out.owner(f, key) is None:
                    f.out[key] = OutSeg(f.wall, was is True, Layer.KEEP, 0.0, "linear")
        elif isinstance(p, EmergencyOn):
            f.emergency = True
            self._out.reown(f, lambda ch: 0.0, before, force=set(self._out.emergency))
        elif isinstance(p, EmergencyClear) and f.emergency:
            f.emergency = False
            clear_s = self.room.safety.emergency.clear_fade_s
            self._out.reown(f, lambda ch: self._out.fade(ch, clear_s, None), before)
        elif isinstance(p, End):
            f.frozen = self._out.values(f)
            f.ended = True

    def _cue_on(
        self, f: Fold, cue: str, until: float | None, before: dict[ChannelKey, Value | None]
    ) -> None:
        """A cue scene over the arc; a timed one (`until`, wall time) ends by itself."""
        f.cue, f.cue_until = cue, until
        f.cue_targets = dict(self.scene_channels(cue, f.idx))
        self._out.reown(f, self._out.cue_fade(cue), before, force=set(f.cue_targets))

    def _cue_off(self, f: Fold, before: dict[ChannelKey, Value | None] | None = None) -> None:
        """Back to the arc, fading over the cue's own fade."""
        if f.cue is None:
            return
        before = self._out.shown(f) if before is None else before
        fade = self._out.cue_fade(f.cue)
        f.cue, f.cue_until, f.cue_targets = None, None, {}
        self._out.reown(f, fade, before)

    def _dose(self, f: Fold) -> None:
        """T0 is now: the arc clock becomes 0:00 and the phase around 0:00 takes over."""
        delta = -f.arc
        for seg in f.arc_segs.values():
            seg.start += delta
        for out in f.out.values():
            out.start_arc += delta
        f.arc, f.t0, f.dosed = 0.0, f.wall, True
        f.durations = [p.duration for p in self.arc.phases]
        idx, phase_start = self._phase_containing(f, 0.0)
        if idx != f.idx:
            self._enter(f, idx, phase_start)
        else:
            f.phase_start = phase_start

    def _override(
        self, f: Fold, p: Override, by: str, before: dict[ChannelKey, Value | None]
    ) -> None:
        try:
            dev = self.room.device(p.device)
        except KeyError:
            return
        below: dict[Channel, Value | None] = {
            "level": self._out.value(f, (p.device, "level")),
            "color": self._out.value(f, (p.device, "color")),
        }
        values = override_values(dev, p.channel, p.value, below)
        for ch, value in values.items():
            f.overrides[(p.device, ch)] = OverrideLayer(value, p.until, by)
        force = {(p.device, ch) for ch in values}
        self._out.reown(f, self._out.requested_fade(p.fade_s), before, force=force)

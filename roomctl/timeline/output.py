"""The output side of the fold: which layer owns each channel, what each channel shows at the
fold's time (before and after the clamp), and how long each new fade takes.  `Timeline` keeps
one `Output` per timeline and hands it the fold."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from roomctl.model.config import RoomConfig
from roomctl.model.scene import Scene
from roomctl.timeline.channels import Channel, ChannelKey, Limits, Value, blend, clamp
from roomctl.timeline.layers import cooling_targets, emergency_targets
from roomctl.timeline.music import VOLUME_FALL_S_PER_STEP
from roomctl.timeline.state import Fold, Layer, OutSeg

__all__ = ["DEFAULT_SOURCE_FADE_S", "Output"]

DEFAULT_SOURCE_FADE_S = 16.0  # fade out, switch, fade in: at least 8 s each way


class Output:
    """Layers, values and fades over a fold, for one room, scene library and set of limits."""

    def __init__(self, room: RoomConfig, scenes: Mapping[str, Scene], limits: Limits) -> None:
        self.room = room
        self.scenes = scenes
        self.limits = limits
        self.relaxed = replace(limits, brightness_max_pct=100.0)  # coming down from emergency
        self.emergency = emergency_targets(room, scenes)
        self.cooling = cooling_targets(room, limits.setpoint_c[0])

    # ------------------------------------------------------------- layers

    def owner(self, f: Fold, key: ChannelKey) -> Layer | None:
        if f.emergency and key in self.emergency:
            return Layer.EMERGENCY
        if f.cooling and key in self.cooling:
            return Layer.COOLING
        if key in f.cue_targets:
            return Layer.CUE
        if key in f.overrides:
            return Layer.OVERRIDE
        if key in f.arc_segs:
            return Layer.ARC
        return None

    def shown(self, f: Fold) -> dict[ChannelKey, Value | None]:
        return {key: self.value(f, key) for key in f.out}

    def reown(
        self,
        f: Fold,
        fade_for: Callable[[Channel], float],
        before: dict[ChannelKey, Value | None],
        force: set[ChannelKey] | None = None,
        *,
        arc_time: bool = False,
    ) -> None:
        """Give each channel to its top layer; a channel whose top layer (or that layer's target)
        changed starts a new output fade from what it showed (`before`) when the change came."""
        keys = set(f.out) | set(f.arc_segs) | set(f.overrides) | set(f.cue_targets)
        for key in keys | set(self.emergency) | set(self.cooling):
            owner = self.owner(f, key)
            seg = f.out.get(key)
            if owner is None:
                if seg is not None and seg.owner is not Layer.KEEP:
                    f.out[key] = OutSeg(f.wall, before.get(key), Layer.KEEP, 0.0, "linear")
                continue
            if seg is not None and seg.owner == owner and key not in (force or ()):
                continue
            frm = before.get(key) if seg is not None else f.initial.get(key)
            if key in f.arc_segs and seg is None and owner is Layer.ARC:
                frm = None  # the arc's own fade already starts from the room's initial state
            fade = fade_for(key[1])
            to = self.layer_value(f, owner, key)
            if key[1] == "volume" and isinstance(frm, float):
                fade = self.fade("volume", fade, None, frm, to)
            if key[1] == "source" and frm != to and fade > 0:
                volume = (before.get((key[0], "volume")), self.top_value(f, (key[0], "volume")))
                fade = max(fade, self.dip_fade(*volume))
            curve = "linear" if key[1] in ("volume", "setpoint", "source") else "ease"
            # Coming down from the emergency (or taking over while it still comes down): the
            # fade starts from the emergency's level and lands within the comfort caps.
            relaxed = (
                seg is not None
                and (seg.owner is Layer.EMERGENCY or seg.relaxed)
                and owner is not Layer.EMERGENCY
            )
            f.out[key] = OutSeg(f.wall, frm, owner, fade, curve, f.arc, arc_time, relaxed)

    def arc_value(self, f: Fold, key: ChannelKey) -> Value | None:
        seg = f.arc_segs.get(key)
        if seg is None:
            return f.initial.get(key)
        return blend(key[1], seg.frm, seg.to, seg.progress(f.arc), self.limits.avoid)

    def top_value(self, f: Fold, key: ChannelKey) -> Value | None:
        owner = self.owner(f, key)
        return None if owner is None else self.layer_value(f, owner, key)

    def layer_value(self, f: Fold, layer: Layer, key: ChannelKey) -> Value | None:
        if layer is Layer.KEEP:
            return None
        if layer is Layer.EMERGENCY:
            return self.emergency[key]
        if layer is Layer.COOLING:
            return self.cooling[key]
        if layer is Layer.CUE:
            return f.cue_targets[key]
        if layer is Layer.OVERRIDE:
            return f.overrides[key].value
        return self.arc_value(f, key)

    def value(self, f: Fold, key: ChannelKey) -> Value | None:
        """What channel `key` shows at the fold's current time (before the clamp)."""
        seg = f.out.get(key)
        if seg is None:
            return f.initial.get(key)
        target = self.layer_value(f, seg.owner, key)
        if target is None:
            return seg.frm
        if seg.relaxed:  # land on what the limits allow, coming down from the emergency
            target = clamp(key, target, self.limits)
        return blend(key[1], seg.frm, target, seg.progress(f), self.limits.avoid)

    def values(self, f: Fold) -> dict[ChannelKey, Value]:
        out: dict[ChannelKey, Value] = {}
        for key, seg in f.out.items():
            value = self.value(f, key)
            if value is None:
                continue
            if seg.owner is Layer.EMERGENCY and key[1] in ("level", "color", "on"):
                out[key] = value  # the emergency has its own fixed limits
            else:
                out[key] = clamp(key, value, self.relaxed if seg.relaxed else self.limits)
        return out

    # ---------------------------------------------------------------- fades

    def fade(
        self,
        ch: Channel,
        requested: float,
        audio_fade_s: float | None,
        frm: Value | None = None,
        to: Value | None = None,
    ) -> float:
        """The fade a channel gets: at least the safety minimum; volume rises no faster than
        the safety limit allows, and comes down one step at a time."""
        mins = self.room.safety.min_fade
        if ch == "source":
            return max(audio_fade_s or DEFAULT_SOURCE_FADE_S, mins.audio_s)
        if ch == "volume":
            fade = max(requested if audio_fade_s is None else audio_fade_s, mins.audio_s)
            if isinstance(frm, float) and isinstance(to, float) and to > frm:
                fade = max(fade, (to - frm) * 10.0 / self.room.safety.max_volume_rise_per_10s)
            elif isinstance(frm, float) and isinstance(to, float):
                fade = max(fade, (frm - to) * VOLUME_FALL_S_PER_STEP)
            return fade
        if ch == "setpoint":
            return requested
        return max(requested, mins.light_s)

    def dip_fade(self, *volumes: Value | None) -> float:
        """A change of source fades the music out and in again; the way back up must respect
        the safety limit on how fast volume rises."""
        known = [v for v in volumes if isinstance(v, float)]
        volume = min(max(known) if known else self.limits.volume_max, self.limits.volume_max)
        return 2.0 * volume * 10.0 / self.room.safety.max_volume_rise_per_10s

    def cue_fade(self, cue: str) -> Callable[[Channel], float]:
        scene = self.scenes[cue]
        return lambda ch: self.fade(ch, scene.fade_s, scene.audio_fade_s)

    def requested_fade(self, fade_s: float | None) -> Callable[[Channel], float]:
        req = 0.0 if fade_s is None else fade_s
        return lambda ch: self.fade(ch, req, None)

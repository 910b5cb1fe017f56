""" "Try it": a colour and brightness shown on the room's lights for a few seconds, then faded
back to what they showed, for a client choosing their preferences.

The preview goes through the same clamp as a session (`scene_states`: the client's unsaved
preferences, then the room's safety limits) and is refused while a session runs in the room or
an emergency is on.  It sits under the session in the engine's desired state: a session that
starts or an emergency that is called takes over at once.  The music sample (`web/sample.py`)
is a layer beside it, on the speakers: both can run together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from roomctl.control.apply import scene_states
from roomctl.control.emergency import RoomEmergency
from roomctl.control.session import SessionControl
from roomctl.errors import SessionError
from roomctl.model.config import DeviceKind, RoomConfig
from roomctl.model.prefs import Preferences
from roomctl.model.scene import LightTarget, Scene
from roomctl.model.state import DeviceState, LightState
from roomctl.web.sample import MusicSample

__all__ = ["PREVIEW_FADE_S", "PREVIEW_HOLD_S", "RoomPreview"]

PREVIEW_HOLD_S = 8.0  # the colour stays this long (session time)
PREVIEW_FADE_S = 10.0  # then fades back over this long


class RoomPreview:
    def __init__(
        self,
        control: SessionControl,
        hold_s: float = PREVIEW_HOLD_S,
        fade_s: float = PREVIEW_FADE_S,
        sample: MusicSample | None = None,
    ) -> None:
        self.control = control
        self.sample = sample  # the music sample on the speakers, when the room has any
        self.hold_s = hold_s
        self.fade_s = fade_s
        self._layer: RoomEmergency | None = None  # the same fade-back as the room's emergency
        self._until = 0.0
        self.listeners: list[Callable[[], None]] = []

    @property
    def room(self) -> RoomConfig:
        return self.control.lib.room

    def desired(self, t: float) -> Mapping[str, DeviceState]:
        """The engine's desired state: the session's, or the preview and the music sample
        over the room at rest while they run."""
        sample = self.sample
        if self.control.session is not None or self.control.room_emergency.active(t):
            if sample is not None:
                sample.stop()
            return self.control.desired(t)
        layer = self._layer
        lights = layer is not None and layer.active(t)
        music = sample is not None and sample.active(t)
        if not (lights or music):
            return self.control.desired(t)
        out: Mapping[str, DeviceState]
        if layer is not None and lights:
            if layer.cleared_at is None and t >= self._until:
                layer.clear(self._until)
            out = layer.desired(t)
        else:
            out = self.control.desired(t)
        return sample.over(out, t) if sample is not None and music else out

    def active(self, t: float) -> bool:
        return self._layer is not None and self._layer.active(t)

    def show(
        self, hue: float | None, saturation: float, brightness_pct: float, prefs: Preferences
    ) -> dict[str, DeviceState]:
        """Show a colour (or warm white when `hue` is None) on every light for `hold_s`, through
        the client's (unsaved) preferences and the safety clamp.  Returns what each light will
        show.  SessionError while a session runs or an emergency is on."""
        control = self.control
        control.refresh()
        now = control.now()
        if control.session is not None:
            raise SessionError("a session is running in this room: previews wait until it ends")
        if control.room_emergency.active(now):
            raise SessionError("an emergency is on in this room: no previews now")
        target = (
            LightTarget(on=True, brightness_pct=brightness_pct, color_temp_k=2700)
            if hue is None
            else LightTarget(on=True, brightness_pct=brightness_pct, hue=hue, saturation=saturation)
        )
        zones = {d.zone for d in self.room.devices if d.kind is DeviceKind.LIGHT}
        scene = Scene(name="preview", lights=dict.fromkeys(sorted(zones), target), fade_s=5)
        states: dict[str, DeviceState] = {
            k: v
            for k, v in scene_states(self.room, scene, prefs).items()
            if isinstance(v, LightState)
        }
        # the lights fade from, and back to, what they showed before the first preview
        before = self._layer.before if self._layer is not None and self._layer.active(now) else None
        layer = RoomEmergency(states, self.fade_s)
        layer.on(now, control.shown() if before is None else before)
        self._layer, self._until = layer, now + self.hold_s
        for listener in self.listeners:
            listener()
        return dict(states)

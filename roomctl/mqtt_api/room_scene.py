"""A scene asked for over MQTT when no session runs: the room's own scene layer.

Without a session nothing drives the room, so a scene chosen from Home Assistant or a wall
button is shown by this layer: the scene's states (the same preference-free safety clamp as
`roomctl apply`, `control.apply.scene_states`), faded from what the lights showed over the
scene's fade (never shorter than the safety minimum).  A session starting or an emergency
ends it; while either runs, the session (or the emergency) decides.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from roomctl.control.session import SessionControl
from roomctl.model.color import lerp_brightness, lerp_mired
from roomctl.model.state import DeviceState, LightState

__all__ = ["RoomScene"]


@dataclass
class RoomScene:
    name: str | None = None
    states: dict[str, DeviceState] = field(default_factory=dict)
    before: dict[str, DeviceState] = field(default_factory=dict)
    at: float = 0.0
    fade_s: float = 0.0

    def show(
        self,
        name: str,
        states: Mapping[str, DeviceState],
        t: float,
        fade_s: float,
        shown: Mapping[str, DeviceState | None],
    ) -> None:
        """Show `states` from `t`, fading over `fade_s` from the newest of what this layer
        wanted and what the devices showed."""
        now = self.desired(t)
        self.before = {k: v for k, v in shown.items() if v is not None} | now
        self.name, self.states, self.at, self.fade_s = name, dict(states), t, fade_s

    def clear(self) -> None:
        self.name, self.states, self.before = None, {}, {}

    def desired(self, t: float) -> dict[str, DeviceState]:
        if self.name is None:
            return {}
        p = 1.0 if self.fade_s <= 0 else min(max((t - self.at) / self.fade_s, 0.0), 1.0)
        out: dict[str, DeviceState] = {}
        for dev_id, state in self.states.items():
            frm = self.before.get(dev_id)
            if isinstance(state, LightState) and isinstance(frm, LightState):
                out[dev_id] = _toward(frm, state, p)
            else:
                out[dev_id] = state  # switches, volume (rise-limited by the engine), setpoints
        return out

    def layered(self, control: SessionControl) -> Callable[[float], Mapping[str, DeviceState]]:
        """The engine's desired state: the session's (or the room emergency's) when there is
        one (which also ends this layer), else this layer's."""

        def desired(t: float) -> Mapping[str, DeviceState]:
            if control.session is not None or control.room_emergency.on_now:
                self.clear()
            wanted = control.desired(t)
            return wanted if wanted or self.name is None else self.desired(t)

        return desired


def _toward(a: LightState, b: LightState, p: float) -> LightState:
    """A light fading from `a` to `b`: brightness on CIE L*, colour temperature in mireds;
    a hue is taken at the start of the fade (lights turned on fade up from dark in it)."""
    if p >= 1.0:
        return b
    a_pct = a.brightness_pct if a.on and a.brightness_pct is not None else 0.0
    b_pct = (b.brightness_pct if b.brightness_pct is not None else 100.0) if b.on else 0.0
    pct = round(lerp_brightness(a_pct, b_pct, p), 2)
    if pct < 0.5:
        return LightState(on=False)
    if a.color_temp_k is not None and b.color_temp_k is not None:
        kelvin = round(lerp_mired(a.color_temp_k, b.color_temp_k, p))
        return LightState(on=True, brightness_pct=pct, color_temp_k=kelvin)
    colour = b if b.on else a
    return LightState(
        on=True,
        brightness_pct=pct,
        color_temp_k=colour.color_temp_k,
        hue=colour.hue,
        saturation=colour.saturation,
    )

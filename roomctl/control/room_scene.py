"""A scene asked for when no session runs (over MQTT, from the tablet): the room's own scene
layer.

Without a session nothing drives the room, so a scene chosen from Home Assistant, a wall button
or the tablet is shown by this layer: the scene's states (the same preference-free safety clamp
as `roomctl apply`, `control.apply.scene_states`), faded from what the lights showed over the
scene's fade (never shorter than the safety minimum).  A session starting or an emergency ends
it; while either runs, the session (or the emergency) decides.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from roomctl.control.fade import fade_light
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
                out[dev_id] = fade_light(frm, state, p)
            else:
                out[dev_id] = state  # switches, volume (rise-limited by the engine), setpoints
        return out

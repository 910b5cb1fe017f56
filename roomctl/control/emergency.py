"""The emergency outside a session: the room's own emergency layer.

With a session, the emergency is an event the session's timeline folds (acted on in memory at
once, stored as soon as the disk lets it).  Without one there is no timeline, so this layer does
the same job: every light at the emergency level (config `safety.emergency`), switches on, music
paused, at once; cleared, the lights fade back over `clear_fade_s` to what they showed before,
and then roomctl leaves the room alone again.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from roomctl.control.fade import fade_light
from roomctl.model.config import RoomConfig
from roomctl.model.scene import Scene
from roomctl.model.state import DeviceState, LightState, PlayerState, SwitchState
from roomctl.timeline.channels import device_states
from roomctl.timeline.fold import emergency_targets

__all__ = ["RoomEmergency", "emergency_states"]

# After the fade back, the room is asked for what it showed before this long, so every device
# gets there (the engine sends only what is desired); then roomctl leaves it alone.
SETTLE_S = 10.0


def emergency_states(room: RoomConfig, scenes: Mapping[str, Scene]) -> dict[str, DeviceState]:
    """What every device shows in an emergency (the same targets as a session's timeline)."""
    return device_states(room, emergency_targets(room, scenes))


@dataclass
class RoomEmergency:
    states: dict[str, DeviceState]
    clear_fade_s: float
    on_at: float | None = None
    cleared_at: float | None = None
    before: dict[str, DeviceState] = field(default_factory=dict)

    def on(self, t: float, shown: Mapping[str, DeviceState | None]) -> None:
        """The emergency is on from `t`; `shown` is what the devices showed (to return to)."""
        if self.on_at is None or self.cleared_at is not None:
            self.before = {k: v for k, v in shown.items() if v is not None}
        self.on_at, self.cleared_at = t, None

    def clear(self, t: float) -> None:
        self.cleared_at = t

    @property
    def on_now(self) -> bool:
        """On and not cleared."""
        return self.on_at is not None and self.cleared_at is None

    def active(self, t: float) -> bool:
        """On, or still fading back after the clear."""
        if self.on_at is None:
            return False
        return self.cleared_at is None or t < self.cleared_at + self.clear_fade_s + SETTLE_S

    def desired(self, t: float) -> dict[str, DeviceState]:
        if not self.active(t):
            return {}
        if self.cleared_at is None:
            return dict(self.states)
        p = 1.0 if self.clear_fade_s <= 0 else (t - self.cleared_at) / self.clear_fade_s
        p = min(max(p, 0.0), 1.0)
        out: dict[str, DeviceState] = {}
        for dev_id, state in self.states.items():
            back = self.before.get(dev_id)
            if isinstance(state, PlayerState):
                out[dev_id] = state  # the music stays paused: nothing starts by itself
            elif isinstance(state, LightState) and isinstance(back, LightState):
                out[dev_id] = fade_light(state, back, p)
            elif isinstance(state, SwitchState) and isinstance(back, SwitchState):
                out[dev_id] = back if p >= 1.0 else state
        return out

"""What a reading of a device means: was it changed by hand, or does it show something roomctl
sent (or was sending) itself?

A change counts as manual only when the device shows a value that differs from what roomctl
last had acknowledged *and* from every command roomctl sent or was sending since the device
was last seen to agree (a command whose answer was lost may still have landed; a timed-out
Sonos call can land after its timeout).  A refused command never lands, so it is not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roomctl.engine.steps import step_size
from roomctl.model.state import DeviceState, LightState, PlayerState

__all__ = ["SentLog", "differs", "merged"]

_KEEP = 256  # a bound for a device that is never read back


def differs(a: DeviceState, b: DeviceState) -> bool:
    """True when `b` is more than a rounding or a native fade's last step away from `a`."""
    if isinstance(a, PlayerState) and isinstance(b, PlayerState):
        return a.volume is not None and b.volume is not None and abs(a.volume - b.volume) >= 2
    if isinstance(a, LightState) and isinstance(b, LightState):
        if a.on != b.on:
            return True
        if not a.on:
            return False
        return abs((a.brightness_pct or 0.0) - (b.brightness_pct or 0.0)) >= 3.0
    return step_size(a, b) >= 1.0


def merged(landed: DeviceState | None, shown: DeviceState) -> DeviceState:
    """`shown` as the new acknowledged state.  A speaker's source cannot be read back, so what
    roomctl last had playing is kept."""
    if isinstance(shown, PlayerState) and isinstance(landed, PlayerState):
        return PlayerState(source=landed.source, volume=shown.volume)
    return shown


@dataclass
class SentLog:
    """Commands sent to one device since it was last seen to agree with roomctl."""

    states: list[DeviceState] = field(default_factory=list)

    def add(self, state: DeviceState) -> None:
        self.states.append(state)
        del self.states[:-_KEEP]

    def explains(self, shown: DeviceState) -> bool:
        """True when `shown` is (within a step) something roomctl sent or was sending."""
        return any(not differs(sent, shown) for sent in self.states)

    def clear(self) -> None:
        self.states.clear()

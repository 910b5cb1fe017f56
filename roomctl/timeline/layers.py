"""The layers over the arc that do not come from a scene of the arc: the emergency and the
room's cooling while a heat alert is on."""

from __future__ import annotations

from collections.abc import Mapping

from roomctl.model.config import DeviceKind, RoomConfig
from roomctl.model.scene import SILENCE, Scene
from roomctl.timeline.channels import ChannelKey, Color, Sound, Value, scene_targets

__all__ = ["EMERGENCY_MIN_PCT", "cooling_targets", "emergency_targets"]

EMERGENCY_MIN_PCT = 50.0  # an emergency scene may choose its light, never dimmer than this


def cooling_targets(room: RoomConfig, min_setpoint_c: float) -> dict[ChannelKey, Value]:
    """While a heat alert is on: the room's cooling switches (`heat.cooling`) on, and every
    thermostat at the band's minimum (`min_setpoint_c`, within the clamp)."""
    out: dict[ChannelKey, Value] = {(fan, "on"): True for fan in room.heat.cooling}
    for dev in room.devices:
        if dev.kind is DeviceKind.THERMOSTAT:
            out[(dev.id, "setpoint")] = float(min_setpoint_c)
    return out


def emergency_targets(room: RoomConfig, scenes: Mapping[str, Scene]) -> dict[ChannelKey, Value]:
    """Bright neutral light on every light and music paused.  A scene named "emergency"
    may choose the light, never dimmer than half; preferences do not apply."""
    em = room.safety.emergency
    out: dict[ChannelKey, Value] = {}
    scene = scenes.get("emergency")
    chosen = scene_targets(room, scene) if scene is not None else {}
    for dev in room.devices:
        if dev.kind is DeviceKind.LIGHT:
            out[(dev.id, "level")] = float(em.brightness_pct)
            if dev.has_color_temp:
                out[(dev.id, "color")] = Color(kelvin=float(em.color_temp_k))
            elif dev.has_hue:
                out[(dev.id, "color")] = Color(hue=0.0, saturation=0.0)
        elif dev.kind is DeviceKind.SWITCH:
            out[(dev.id, "on")] = True
        elif dev.kind is DeviceKind.PLAYER:
            out[(dev.id, "source")] = Sound(SILENCE, 0.0)
    for key, value in chosen.items():
        if key[1] == "level" and isinstance(value, float):
            out[key] = max(value, EMERGENCY_MIN_PCT)
        elif key[1] == "color":
            out[key] = value
    return out

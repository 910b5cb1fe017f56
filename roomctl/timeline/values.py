"""Turning plain values from events (a manual override, the room as read at session start) into
channel values.  Pure; raises SessionError with a clear message for values that do not fit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomctl.errors import SessionError
from roomctl.model.config import DeviceConfig, DeviceKind, RoomConfig
from roomctl.model.events import DeviceReading
from roomctl.model.scene import SILENCE, Source
from roomctl.timeline.channels import Channel, ChannelKey, Color, Sound, Value

__all__ = ["initial_values", "override_values"]

_RANGES: dict[str, tuple[float, float]] = {
    "brightness_pct": (0.0, 100.0),
    "color_temp_k": (1500.0, 9000.0),
    "hue": (0.0, 360.0),
    "saturation": (0.0, 100.0),
    "volume": (0.0, 100.0),
    "setpoint_c": (5.0, 35.0),
}

_KIND_CHANNELS: dict[DeviceKind, tuple[str, ...]] = {
    DeviceKind.LIGHT: ("on", "brightness_pct", "color_temp_k", "hue", "saturation"),
    DeviceKind.SWITCH: ("on",),
    DeviceKind.PLAYER: ("volume",),
    DeviceKind.THERMOSTAT: ("setpoint_c",),
}


def _number(device: str, channel: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SessionError(f"{device}: {channel} must be a number, got {value!r}")
    lo, hi = _RANGES[channel]
    if not lo <= value <= hi:
        raise SessionError(f"{device}: {channel} must be between {lo:g} and {hi:g}, got {value}")
    return float(value)


def override_values(
    dev: DeviceConfig, channel: str, value: Any, below: Mapping[Channel, Value | None]
) -> dict[Channel, Value]:
    """Channel values for a manual override of one of `dev`'s channels.

    `below` holds what the device shows now (for partial colour changes and "on" without level).
    """
    allowed = _KIND_CHANNELS[dev.kind]
    if channel not in allowed:
        raise SessionError(
            f"{dev.id}: a {dev.kind.value} has no channel {channel!r}; it has {', '.join(allowed)}"
        )
    if channel == "on":
        if not isinstance(value, bool):
            raise SessionError(f"{dev.id}: on must be true or false, got {value!r}")
        if dev.kind is DeviceKind.SWITCH:
            return {"on": value}
        level = below.get("level")
        return {
            "level": (level if isinstance(level, float) and level >= 1 else 30.0) if value else 0.0
        }
    number = _number(dev.id, channel, value)
    if channel == "brightness_pct":
        return {"level": number}
    if channel == "volume":
        return {"volume": number}
    if channel == "setpoint_c":
        return {"setpoint": number}
    if channel == "color_temp_k":
        if not dev.has_color_temp:
            raise SessionError(f"{dev.id}: this light has no colour temperature")
        return {"color": Color(kelvin=number)}
    if not dev.has_hue:
        raise SessionError(f"{dev.id}: this light has no colour (hue/saturation)")
    current = below.get("color")
    hue, sat = current.as_hs() if isinstance(current, Color) else (0.0, 100.0)
    if channel == "hue":
        return {"color": Color(hue=number, saturation=sat if sat >= 1 else 100.0)}
    return {"color": Color(hue=hue, saturation=number)}


def initial_values(
    room: RoomConfig, readings: Mapping[str, DeviceReading] | None
) -> dict[ChannelKey, Value]:
    """Channel values from the room as read when the session started.  Unknown devices and
    readings a device cannot show are skipped: the arc then starts from its own scene."""
    out: dict[ChannelKey, Value] = {}
    if not readings:
        return out
    for dev in room.devices:
        entry = readings.get(dev.id)
        if entry is not None:
            out.update(_initial(dev, entry))
    return out


def _initial(dev: DeviceConfig, entry: DeviceReading) -> dict[ChannelKey, Value]:
    out: dict[ChannelKey, Value] = {}
    on = entry.on
    if dev.kind is DeviceKind.LIGHT and on is not None:
        bri = entry.brightness_pct
        out[(dev.id, "level")] = (bri if bri is not None else 100.0) if on else 0.0
        ct, hue, sat = entry.color_temp_k, entry.hue, entry.saturation
        if ct is not None and dev.has_color_temp:
            out[(dev.id, "color")] = Color(kelvin=ct)
        elif hue is not None and dev.has_hue:
            out[(dev.id, "color")] = Color(hue=hue, saturation=sat or 0.0)
    elif dev.kind is DeviceKind.SWITCH and on is not None:
        out[(dev.id, "on")] = on
    elif dev.kind is DeviceKind.PLAYER:
        if entry.volume is not None:
            out[(dev.id, "volume")] = entry.volume
        source = entry.source
        if entry.playing is False:
            out[(dev.id, "source")] = Sound(SILENCE)
        elif source is not None and ":" in source:
            kind, _, name = source.partition(":")
            if kind in ("favorite", "playlist", "uri"):
                out[(dev.id, "source")] = Sound(Source(kind=kind, name=name))
    elif dev.kind is DeviceKind.THERMOSTAT and entry.setpoint_c is not None:
        out[(dev.id, "setpoint")] = entry.setpoint_c
    return out

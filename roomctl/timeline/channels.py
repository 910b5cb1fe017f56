"""Channels: the smallest things the timeline fades (a light's level, its colour, a speaker's
source and volume, a setpoint), how each one blends, and how channels become device states.

Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from roomctl.model.color import (
    SAT_MARGIN_PCT,
    HueRange,
    allowed_kelvin,
    ct_to_hs,
    hue_in_ranges,
    lerp,
    lerp_brightness,
    lerp_hue,
    lerp_mired,
    nearest_allowed_hue,
    shows_avoided,
    white_as_hs,
)
from roomctl.model.config import DeviceConfig, DeviceKind, RoomConfig, TemperatureBand
from roomctl.model.prefs import NO_PREFERENCES, Preferences, band
from roomctl.model.scene import LightTarget, MusicTarget, Scene, Source
from roomctl.model.state import DeviceState, LightState, PlayerState, SwitchState, ThermostatState

__all__ = [
    "Channel",
    "ChannelKey",
    "Color",
    "Sound",
    "Value",
    "blend",
    "channels_of",
    "device_states",
    "safety_limits",
    "scene_targets",
]

Channel = Literal["level", "color", "on", "source", "volume", "setpoint"]
ChannelKey = tuple[str, Channel]  # (device id, channel)
AUDIO_CHANNELS: frozenset[Channel] = frozenset({"source", "volume"})


@dataclass(frozen=True, slots=True)
class Color:
    """A light's colour: colour temperature (kelvin) or hue (degrees) and saturation (percent)."""

    kelvin: float | None = None
    hue: float = 0.0
    saturation: float = 0.0

    def as_hs(self) -> tuple[float, float]:
        if self.kelvin is not None:
            return ct_to_hs(self.kelvin)
        return self.hue, self.saturation


@dataclass(frozen=True, slots=True)
class Sound:
    """What a speaker plays and how much of its volume it lets through (0..1).

    A change of source dips the gain to zero at the moment of the switch, so music never cuts.
    """

    source: Source
    gain: float = 1.0


Value = float | bool | Color | Sound


def blend(ch: Channel, a: Value | None, b: Value, p: float, avoid: tuple[HueRange, ...]) -> Value:
    """The value a fraction `p` (0..1, already eased) of the way from `a` to `b`."""
    if a is None or p >= 1.0:
        return b
    if p <= 0.0:
        return a
    if ch == "level" and isinstance(a, float) and isinstance(b, float):
        return lerp_brightness(a, b, p)
    if ch in ("volume", "setpoint") and isinstance(a, float) and isinstance(b, float):
        return lerp(a, b, p)
    if isinstance(a, Color) and isinstance(b, Color):
        return _blend_color(a, b, p, avoid)
    if isinstance(a, Sound) and isinstance(b, Sound):
        if a.source == b.source:
            return Sound(b.source, lerp(a.gain, b.gain, p))
        if p < 0.5:
            return Sound(a.source, a.gain * (1.0 - 2.0 * p))
        return Sound(b.source, b.gain * (2.0 * p - 1.0))
    return a if p < 0.5 else b  # discrete channels (on/off) switch half way


def _blend_color(a: Color, b: Color, p: float, avoid: tuple[HueRange, ...]) -> Color:
    if a.kelvin is not None and b.kelvin is not None:
        return Color(kelvin=lerp_mired(a.kelvin, b.kelvin, p))
    ha, sa = a.as_hs()
    hb, sb = b.as_hs()
    if sa < 1.0:  # from white: keep the target hue, raise saturation
        ha = hb
    if sb < 1.0:
        hb = ha
    return Color(hue=lerp_hue(ha, hb, p, avoid), saturation=lerp(sa, sb, p))


def channels_of(dev: DeviceConfig) -> tuple[Channel, ...]:
    kind = dev.kind
    if kind is DeviceKind.LIGHT:
        return ("level", "color") if dev.has_color_temp or dev.has_hue else ("level",)
    if kind is DeviceKind.SWITCH:
        return ("on",)
    if kind is DeviceKind.PLAYER:
        return ("source", "volume")
    return ("setpoint",)


def _light_targets(dev: DeviceConfig, t: LightTarget) -> dict[Channel, Value]:
    out: dict[Channel, Value] = {}
    if dev.kind is DeviceKind.SWITCH:
        out["on"] = t.on and (t.brightness_pct is None or t.brightness_pct > 0)
        return out
    level = 0.0 if not t.on else (100.0 if t.brightness_pct is None else float(t.brightness_pct))
    out["level"] = level
    if level <= 0:
        return out
    if t.color_temp_k is not None:
        if dev.has_color_temp:
            out["color"] = Color(kelvin=float(t.color_temp_k))
        elif dev.has_hue:  # a white on a hue-only light: its hue, no more than a tint
            h, s = white_as_hs(t.color_temp_k)
            out["color"] = Color(hue=h, saturation=s)
    elif (t.hue is not None or t.saturation is not None) and dev.has_hue:
        hue = t.hue if isinstance(t.hue, float | int) else 0.0
        sat = 100.0 if t.saturation is None else float(t.saturation)
        out["color"] = Color(hue=float(hue), saturation=sat)
    return out


def _music_targets(t: MusicTarget) -> dict[Channel, Value]:
    out: dict[Channel, Value] = {}
    if t.source is not None:
        out["source"] = Sound(t.source)
    if t.volume is not None:
        out["volume"] = float(t.volume)
    return out


def scene_targets(room: RoomConfig, scene: Scene) -> dict[ChannelKey, Value]:
    """Channel targets of an already resolved scene, for every device in the zones it names."""
    out: dict[ChannelKey, Value] = {}
    for dev in room.devices:
        found: dict[Channel, Value] = {}
        if dev.kind in (DeviceKind.LIGHT, DeviceKind.SWITCH) and dev.zone in scene.lights:
            found = _light_targets(dev, scene.lights[dev.zone])
        elif dev.kind is DeviceKind.PLAYER and dev.zone in scene.music:
            found = _music_targets(scene.music[dev.zone])
        elif dev.kind is DeviceKind.THERMOSTAT and dev.zone in scene.climate:
            found = {"setpoint": float(scene.climate[dev.zone].setpoint_c)}
        for ch, value in found.items():
            out[(dev.id, ch)] = value
    return out


@dataclass(frozen=True, slots=True)
class Limits:
    """The clamp applied last to every value the room shows (emergency values excepted)."""

    floor_lights: frozenset[str]
    floor_pct: float
    brightness_max_pct: float
    volume_max: float
    setpoint_c: tuple[float, float]
    avoid: tuple[HueRange, ...]


def safety_limits(
    room: RoomConfig,
    prefs: Preferences = NO_PREFERENCES,
    temperature_c: TemperatureBand | None = None,
) -> Limits:
    """The one place the clamp's limits are built, for the timeline and for `roomctl apply`:
    the room's safety limits, narrowed by a client's preferences and an arc's temperature band."""
    safety = room.safety
    return Limits(
        floor_lights=frozenset(room.floor_light_ids),
        floor_pct=max(safety.min_brightness_pct, prefs.darkness_limit_pct),
        brightness_max_pct=max(prefs.brightness_max_pct, safety.min_brightness_pct),
        volume_max=float(min(safety.max_volume, prefs.volume_limit)),
        setpoint_c=band(safety, temperature_c),
        avoid=prefs.avoided_ranges,
    )


def clamp(key: ChannelKey, value: Value, limits: Limits) -> Value:
    device, ch = key
    if ch == "level" and isinstance(value, float):
        value = min(value, float(limits.brightness_max_pct))
        if device in limits.floor_lights:
            value = max(value, float(limits.floor_pct))
        return value
    if ch == "on" and device in limits.floor_lights:
        return True
    if ch == "volume" and isinstance(value, float):
        return min(max(value, 0.0), limits.volume_max)
    if ch == "setpoint" and isinstance(value, float):
        return min(max(value, limits.setpoint_c[0]), limits.setpoint_c[1])
    if ch == "color" and isinstance(value, Color) and limits.avoid:
        return _allowed_color(value, limits.avoid)
    return value


def _allowed_color(value: Color, avoid: tuple[HueRange, ...]) -> Color:
    """`value` unless it reads as an avoided colour: a warm white becomes the nearest white
    that does not, a hue the nearest allowed hue (white light when every hue is avoided)."""
    if value.kelvin is not None:
        kelvin = allowed_kelvin(value.kelvin, avoid)
        return value if kelvin == value.kelvin else Color(kelvin=kelvin)
    if not shows_avoided(value.hue, value.saturation, avoid, SAT_MARGIN_PCT):
        return value
    hue = nearest_allowed_hue(value.hue, avoid)
    if hue_in_ranges(hue, avoid):
        return Color(hue=hue, saturation=0.0)
    return Color(hue=hue, saturation=value.saturation)


def device_states(room: RoomConfig, values: dict[ChannelKey, Value]) -> dict[str, DeviceState]:
    """Turn channel values into what each device should show.  Devices with nothing known yet
    are left out (roomctl does not touch them)."""
    out: dict[str, DeviceState] = {}
    for dev in room.devices:
        state = _device_state(dev, values)
        if state is not None:
            out[dev.id] = state
    return out


def _device_state(dev: DeviceConfig, values: dict[ChannelKey, Value]) -> DeviceState | None:
    kind = dev.kind
    if kind is DeviceKind.LIGHT:
        level = values.get((dev.id, "level"))
        if not isinstance(level, float):
            return None
        if level < 0.5:
            return LightState(on=False)
        color = values.get((dev.id, "color"))
        bri = round(min(100.0, level), 2)  # ≥ 0.5: drivers round to their own scale
        if isinstance(color, Color) and color.kelvin is not None:
            return LightState(on=True, brightness_pct=bri, color_temp_k=round(color.kelvin))
        if isinstance(color, Color):
            return LightState(
                on=True,
                brightness_pct=bri,
                hue=round(color.hue, 1) % 360.0,
                saturation=round(color.saturation, 1),
            )
        return LightState(on=True, brightness_pct=bri)
    if kind is DeviceKind.SWITCH:
        on = values.get((dev.id, "on"))
        return SwitchState(on=on) if isinstance(on, bool) else None
    if kind is DeviceKind.PLAYER:
        sound = values.get((dev.id, "source"))
        volume = values.get((dev.id, "volume"))
        if not isinstance(sound, Sound) and not isinstance(volume, float):
            return None
        gain = sound.gain if isinstance(sound, Sound) else 1.0
        vol = round(volume * gain) if isinstance(volume, float) else None
        return PlayerState(source=sound.source if isinstance(sound, Sound) else None, volume=vol)
    setpoint = values.get((dev.id, "setpoint"))
    if isinstance(setpoint, float):
        return ThermostatState(setpoint_c=round(setpoint * 10) / 10)
    return None

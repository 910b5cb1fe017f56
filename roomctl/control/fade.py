"""How a light fades when the room, not a session, moves it (the emergency's clear, a scene
asked for without a session): brightness on CIE L*, colour temperature in mireds."""

from __future__ import annotations

from roomctl.model.color import lerp_brightness, lerp_mired
from roomctl.model.state import LightState

__all__ = ["fade_light"]


def fade_light(a: LightState, b: LightState, p: float) -> LightState:
    """A light `p` (0..1) of the way from `a` to `b`; a hue changes half way (a light turned
    on fades up from dark in its new colour)."""
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
    if b.on and (b.hue is not None or b.color_temp_k is not None) and p >= 0.5:
        return LightState(
            on=True,
            brightness_pct=pct,
            color_temp_k=b.color_temp_k,
            hue=b.hue,
            saturation=b.saturation,
        )
    return LightState(
        on=True,
        brightness_pct=pct,
        color_temp_k=a.color_temp_k,
        hue=a.hue,
        saturation=a.saturation,
    )

"""How far apart two device states are, in visible steps, what a device can show, and how a
command is carried out on each capability.

The one rule for values: :func:`quantize` is the only place that rounds and clamps a value to
what a device can show (brightness levels, colour-temperature range, whole hue and saturation,
volume 0..100, setpoint resolution).  Every command goes through it (`apply_state` quantizes
too, for `roomctl apply`); drivers only translate units and never round or clamp again.
"""

from __future__ import annotations

from dataclasses import dataclass

from roomctl.devices.base import Device, Light, Player, Switch, Thermostat
from roomctl.errors import DeviceRejected
from roomctl.model.state import DeviceState, LightState, PlayerState, SwitchState, ThermostatState

__all__ = ["Caps", "apply_state", "quantize", "read_state", "step_size"]

# One visible step: 1 % of brightness, 5 mireds, 2° of hue, 2 % saturation, 1 volume step, 0.1 °C.
BRIGHTNESS_STEP = 1.0
MIRED_STEP = 5.0
HUE_STEP = 2.0
SAT_STEP = 2.0


@dataclass(frozen=True)
class Caps:
    """What a device can show, read once from its driver (after it connected): the engine
    plans with this snapshot, so a driver's property is never called in the planning loop."""

    light: bool = False
    native_transitions: bool = False
    brightness_levels: int = 100
    color_temp_range_k: tuple[int, int] | None = None
    setpoint_step_c: float | None = None

    @classmethod
    def of(cls, device: Device) -> Caps:
        if isinstance(device, Light):
            return cls(
                light=True,
                native_transitions=device.native_transitions,
                brightness_levels=device.brightness_levels,
                color_temp_range_k=device.color_temp_range_k,
            )
        if isinstance(device, Thermostat):
            return cls(setpoint_step_c=device.setpoint_step_c)
        return cls()


def quantize(device: Device | Caps, state: DeviceState) -> DeviceState:
    """`state` as the device can show it: brightness on its own scale, colour temperature in
    its range in whole kelvin, whole hue and saturation, volume 0..100, setpoints at the
    device's resolution.  Idempotent.  Comparing quantized states avoids commands that change
    nothing on the wire, and steps that rounding makes larger than one."""
    caps = device if isinstance(device, Caps) else Caps.of(device)
    if caps.light and isinstance(state, LightState) and state.on:
        levels = caps.brightness_levels
        bri = state.brightness_pct
        if bri is not None:
            bri = min(levels, max(1, round(bri * levels / 100.0))) * 100.0 / levels
        kelvin, limits = state.color_temp_k, caps.color_temp_range_k
        if kelvin is not None:
            kelvin = round(kelvin)
            if limits is not None:
                kelvin = max(limits[0], min(limits[1], kelvin))
        return LightState(
            on=True,
            brightness_pct=bri,
            color_temp_k=kelvin,
            hue=None if state.hue is None else round(state.hue) % 360.0,
            saturation=(
                None
                if state.saturation is None
                else float(max(0, min(100, round(state.saturation))))
            ),
        )
    if isinstance(state, PlayerState) and state.volume is not None:
        volume = max(0, min(100, round(state.volume)))
        return state if volume == state.volume else PlayerState(state.source, volume)
    if caps.setpoint_step_c is not None and isinstance(state, ThermostatState):
        step = caps.setpoint_step_c
        return ThermostatState(setpoint_c=round(round(state.setpoint_c / step) * step, 2))
    return state


def step_size(a: DeviceState | None, b: DeviceState) -> float:
    """Distance from a to b in visible steps (≥ 1000 for a change of kind, on/off or source)."""
    if a is None or type(a) is not type(b):
        return 1000.0
    if isinstance(a, LightState) and isinstance(b, LightState):
        return _light_steps(a, b)
    if isinstance(a, SwitchState) and isinstance(b, SwitchState):
        return 0.0 if a.on == b.on else 1000.0
    if isinstance(a, PlayerState) and isinstance(b, PlayerState):
        if b.source is not None and a.source != b.source:
            return 1000.0
        if b.volume is None or a.volume is None:
            return 0.0 if b.volume is None else 1000.0
        return float(abs(a.volume - b.volume))
    if isinstance(a, ThermostatState) and isinstance(b, ThermostatState):
        return abs(a.setpoint_c - b.setpoint_c) / 0.1
    return 1000.0


def _light_steps(a: LightState, b: LightState) -> float:
    if a.on != b.on:  # switching on or off: the step is the brightness of the lit one
        lit = a if a.on else b
        return max(1e-3, (lit.brightness_pct or 100.0) / BRIGHTNESS_STEP)
    if not b.on:
        return 0.0
    steps = abs((a.brightness_pct or 0.0) - (b.brightness_pct or 0.0)) / BRIGHTNESS_STEP
    if a.color_temp_k is not None and b.color_temp_k is not None:
        steps = max(steps, abs(1e6 / a.color_temp_k - 1e6 / b.color_temp_k) / MIRED_STEP)
    elif (a.color_temp_k is None) != (b.color_temp_k is None):
        steps = max(steps, 10.0)
    if a.hue is not None and b.hue is not None:
        dh = abs((a.hue - b.hue + 180.0) % 360.0 - 180.0)
        steps = max(steps, dh / HUE_STEP, abs((a.saturation or 0) - (b.saturation or 0)) / SAT_STEP)
    return steps


async def apply_state(
    device: Device, state: DeviceState, transition_s: float, landed: DeviceState | None
) -> None:
    """Carry out `state` (quantized first) on `device`; `landed` is what the device last
    acknowledged."""
    state = quantize(device, state)
    if isinstance(device, Light) and isinstance(state, LightState):
        await device.set_light(state, transition_s)
    elif isinstance(device, Switch) and isinstance(state, SwitchState | LightState):
        await device.set_on(state.on)
    elif isinstance(device, Player) and isinstance(state, PlayerState):
        before = landed if isinstance(landed, PlayerState) else None
        if state.volume is not None and (before is None or before.volume != state.volume):
            await device.set_volume(state.volume)  # first, so new music starts at its level
        if state.source is not None and (before is None or before.source != state.source):
            await (device.pause() if state.source.is_silence else device.play(state.source))
    elif isinstance(device, Thermostat) and isinstance(state, ThermostatState):
        await device.set_setpoint(state.setpoint_c)
    else:
        raise DeviceRejected(
            device.device_id, "apply", f"a {device.kind.value} cannot show {state}"
        )


async def read_state(device: Device) -> DeviceState | None:
    """What the device shows now, as a DeviceState (None for players' source: not readable)."""
    if isinstance(device, Light):
        return await device.read_light()
    if isinstance(device, Switch):
        return SwitchState(on=await device.read_on())
    if isinstance(device, Player):
        reading = await device.read_player()
        return PlayerState(source=None, volume=reading.volume)
    if isinstance(device, Thermostat):
        reading2 = await device.read_thermostat()
        if reading2.setpoint_c is None:
            return None
        return ThermostatState(setpoint_c=reading2.setpoint_c)
    return None

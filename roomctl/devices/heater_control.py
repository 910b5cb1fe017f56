"""The relay thermostat's control law: heater on or off, as a pure function of one instant
(`ControlInput`) and the thermostat's configuration.  No I/O and no clock of its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from roomctl.model.config import RelayThermostatConfig

__all__ = ["ControlInput", "Decision", "decide_heater"]


@dataclass(frozen=True, slots=True)
class ControlInput:
    """Everything the heater decision depends on, at one instant (monotonic seconds)."""

    now_s: float
    mode: Literal["off", "heat"]
    setpoint_c: float | None
    temperature_c: float | None
    temperature_at_s: float | None
    heater_on: bool | None  # last state the relay acknowledged; None: unknown
    heater_since_s: float | None  # when it took that state


@dataclass(frozen=True, slots=True)
class Decision:
    on: bool
    reason: str


def decide_heater(x: ControlInput, cfg: RelayThermostatConfig) -> Decision:
    """Heater on or off.  Safety first (mode, sensor silence, maximum temperature, always
    immediate), then hysteresis: on at or below setpoint - h/2, off at or above setpoint + h/2,
    unchanged in between; a switch that would cut a minimum on/off time short waits."""
    if x.mode == "off" or x.setpoint_c is None:
        return Decision(False, "heating off" if x.mode == "off" else "no setpoint")
    if x.temperature_c is None or x.temperature_at_s is None:
        return Decision(False, "no temperature reading yet")
    if x.now_s - x.temperature_at_s > cfg.sensor_timeout_s:
        return Decision(False, f"sensor silent for {x.now_s - x.temperature_at_s:.0f} s")
    if x.temperature_c >= cfg.max_temp_c:
        return Decision(False, f"{x.temperature_c:.1f} °C at or above maximum {cfg.max_temp_c:g}")
    half = cfg.hysteresis_c / 2
    if x.temperature_c <= x.setpoint_c - half:
        want, why = True, f"{x.temperature_c:.1f} °C below {x.setpoint_c:g} °C"
    elif x.temperature_c >= x.setpoint_c + half:
        want, why = False, f"{x.temperature_c:.1f} °C above {x.setpoint_c:g} °C"
    else:
        want, why = bool(x.heater_on), "within hysteresis band"
    if x.heater_on is None or x.heater_since_s is None or want == x.heater_on:
        return Decision(want, why)
    held = x.now_s - x.heater_since_s
    minimum = cfg.min_on_s if x.heater_on else cfg.min_off_s
    if held < minimum:
        state = "on" if x.heater_on else "off"
        return Decision(x.heater_on, f"minimum {state} time ({held:.0f}/{minimum:g} s)")
    return Decision(want, why)

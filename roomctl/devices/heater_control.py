"""The relay thermostat's control law: heater on or off, as a pure function.

This is safety logic, so it has no I/O and no clock of its own: `decide_heater` sees one instant
(`ControlInput`) and the thermostat's configuration, and property tests check its promises:

- never on at or above `max_temp_c`, with the mode "off", without a setpoint, or without a
  fresh, plausible temperature (none yet, silent longer than `sensor_timeout_s`, not a finite
  number): these *safety-off* cases act at once, whatever the minimum times say;
- otherwise hysteresis: on at or below setpoint - h/2, off at or above setpoint + h/2, unchanged
  in between, so a steady temperature switches the heater at most once;
- a switch that would cut `min_on_s` / `min_off_s` short waits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from roomctl.model.config import RelayThermostatConfig

__all__ = ["ControlInput", "Decision", "decide_heater", "safety_off"]


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


def safety_off(x: ControlInput, cfg: RelayThermostatConfig) -> str | None:
    """Why the heater must be off now, at once (None: no safety reason)."""
    if x.mode == "off":
        return "heating off"
    if x.setpoint_c is None:
        return "no setpoint"
    if x.temperature_c is None or x.temperature_at_s is None:
        return "no temperature reading yet"
    if not math.isfinite(x.temperature_c):
        return f"implausible temperature {x.temperature_c}"
    if x.now_s - x.temperature_at_s > cfg.sensor_timeout_s:
        return f"sensor silent for {x.now_s - x.temperature_at_s:.0f} s"
    if x.temperature_c >= cfg.max_temp_c:
        return f"{x.temperature_c:.1f} °C at or above maximum {cfg.max_temp_c:g}"
    return None


def decide_heater(x: ControlInput, cfg: RelayThermostatConfig) -> Decision:
    """Heater on or off: safety first (always immediate), then hysteresis within the minimum
    on/off times."""
    unsafe = safety_off(x, cfg)
    if unsafe is not None:
        return Decision(False, unsafe)
    assert x.setpoint_c is not None and x.temperature_c is not None  # checked by safety_off
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

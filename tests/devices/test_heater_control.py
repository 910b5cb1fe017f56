"""The relay thermostat's control law (devices/heater_control.py): examples, and properties
checked by hypothesis over any configuration, temperature, clock and relay state."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roomctl.devices.heater_control import ControlInput, decide_heater, safety_off
from roomctl.model.config import RelayThermostatConfig


def thermostat_config(**extra: object) -> RelayThermostatConfig:
    return RelayThermostatConfig.model_validate(
        {
            "id": "radiator",
            "zone": "main",
            "driver": "relay_thermostat",
            "sensor": {"type": "z2m", "topic": "sensor"},
            "heater": {"type": "tasmota", "topic": "heater"},
            **extra,
        }
    )


CFG = thermostat_config(
    hysteresis_c=0.5, min_on_s=120, min_off_s=60, max_temp_c=26, sensor_timeout_s=600
)
BASE = ControlInput(
    now_s=1000.0,
    mode="heat",
    setpoint_c=21.0,
    temperature_c=21.0,
    temperature_at_s=990.0,
    heater_on=False,
    heater_since_s=0.0,
)


# -- examples ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature", "heater_on", "expected"),
    [
        (20.75, False, True),  # at the lower edge of the band: on
        (20.8, False, False),  # inside the band: stays off
        (20.8, True, True),  # inside the band: stays on
        (21.25, True, False),  # at the upper edge: off
        (19.0, None, True),  # unknown relay state: straight to what is wanted
    ],
)
def test_hysteresis(temperature: float, heater_on: bool | None, expected: bool) -> None:
    x = replace(BASE, temperature_c=temperature, heater_on=heater_on)
    assert decide_heater(x, CFG).on is expected


def test_minimum_on_time_holds_the_heater_on() -> None:
    warm = replace(BASE, temperature_c=22.0, heater_on=True, heater_since_s=950.0)
    held = decide_heater(warm, CFG)
    assert held.on and "minimum on time" in held.reason
    assert not decide_heater(replace(warm, now_s=1070.0), CFG).on  # 120 s reached


def test_minimum_off_time_holds_the_heater_off() -> None:
    cold = replace(BASE, temperature_c=18.0, heater_on=False, heater_since_s=970.0)
    held = decide_heater(cold, CFG)
    assert not held.on and "minimum off time" in held.reason
    assert decide_heater(replace(cold, now_s=1030.0), CFG).on  # 60 s reached


def test_maximum_temperature_overrides_everything() -> None:
    hot = replace(BASE, setpoint_c=30.0, temperature_c=26.0, heater_on=True, heater_since_s=999.0)
    decision = decide_heater(hot, CFG)
    assert not decision.on and "maximum" in decision.reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"temperature_at_s": 399.0}, "sensor silent for 601 s"),
        ({"temperature_c": None, "temperature_at_s": None}, "no temperature reading"),
        ({"temperature_c": math.nan}, "implausible temperature nan"),
        ({"temperature_c": -math.inf}, "implausible temperature -inf"),
        ({"mode": "off"}, "heating off"),
        ({"setpoint_c": None}, "no setpoint"),
    ],
)
def test_safety_turns_off_at_once(change: dict[str, object], reason: str) -> None:
    cold_and_just_on = replace(BASE, temperature_c=15.0, heater_on=True, heater_since_s=999.0)
    decision = decide_heater(replace(cold_and_just_on, **change), CFG)  # type: ignore[arg-type]
    assert not decision.on and reason in decision.reason


def test_sensor_silence_boundary() -> None:
    cold = replace(BASE, temperature_c=15.0, heater_on=None, temperature_at_s=400.0)
    assert decide_heater(cold, CFG).on  # exactly 600 s old: still trusted


# -- properties --------------------------------------------------------------------------------

configs = st.builds(
    thermostat_config,
    hysteresis_c=st.floats(0.05, 5),
    min_on_s=st.floats(0, 900),
    min_off_s=st.floats(0, 900),
    max_temp_c=st.floats(15, 35),
    sensor_timeout_s=st.floats(1, 3600),
)
room_c = st.floats(-10, 45)
broken_c = st.sampled_from([math.nan, math.inf, -math.inf])
any_c = room_c | broken_c | st.floats(allow_nan=True, allow_infinity=True)
seconds = st.floats(0, 10_000)


def mostly(values: st.SearchStrategy[float]) -> st.SearchStrategy[float | None]:
    """`values`, and None one time in four."""
    return st.one_of(values, values, values, st.none())


@st.composite
def inputs(draw: st.DrawFn, temperature: st.SearchStrategy[float] = any_c) -> ControlInput:
    now = draw(seconds)
    reading_age = draw(mostly(st.floats(0, 5000)))
    return ControlInput(
        now_s=now,
        mode=draw(st.sampled_from(["heat", "heat", "off"])),
        setpoint_c=draw(mostly(st.floats(5, 30))),
        temperature_c=None if reading_age is None else draw(temperature),
        temperature_at_s=None if reading_age is None else now - reading_age,
        heater_on=draw(st.none() | st.booleans()),
        heater_since_s=draw(st.none() | st.floats(0, now) if now > 0 else st.none()),
    )


@given(inputs(), configs)
def test_never_on_at_or_above_the_maximum(x: ControlInput, cfg: RelayThermostatConfig) -> None:
    if decide_heater(x, cfg).on:
        assert x.temperature_c is not None and x.temperature_c < cfg.max_temp_c


@given(inputs(), configs)
def test_off_without_a_fresh_plausible_reading(x: ControlInput, cfg: RelayThermostatConfig) -> None:
    missing = x.temperature_c is None or x.temperature_at_s is None
    silent = not missing and x.now_s - x.temperature_at_s > cfg.sensor_timeout_s  # type: ignore[operator]
    implausible = not missing and not math.isfinite(x.temperature_c)  # type: ignore[arg-type]
    if missing or silent or implausible:
        assert not decide_heater(x, cfg).on


@given(inputs(broken_c), configs)
def test_off_when_the_reading_is_not_a_number(x: ControlInput, cfg: RelayThermostatConfig) -> None:
    assert not decide_heater(x, cfg).on  # NaN or ±infinity: a broken sensor, not a cold room


@given(inputs(), configs)
def test_off_in_mode_off_or_without_setpoint(x: ControlInput, cfg: RelayThermostatConfig) -> None:
    if x.mode == "off" or x.setpoint_c is None:
        assert not decide_heater(x, cfg).on


@given(inputs(), configs)
def test_minimum_times_hold_except_to_switch_off_for_safety(
    x: ControlInput, cfg: RelayThermostatConfig
) -> None:
    decision = decide_heater(x, cfg)
    if x.heater_on is None or x.heater_since_s is None or decision.on == x.heater_on:
        return
    minimum = cfg.min_on_s if x.heater_on else cfg.min_off_s
    if x.now_s - x.heater_since_s < minimum:  # cut short: only a safety-off may do that
        assert not decision.on and safety_off(x, cfg) is not None


@given(inputs(room_c), configs)
def test_hysteresis_holds_inside_the_band(x: ControlInput, cfg: RelayThermostatConfig) -> None:
    decision = decide_heater(x, cfg)
    if safety_off(x, cfg) is not None or x.heater_on is None:
        return
    assert x.setpoint_c is not None and x.temperature_c is not None
    half = cfg.hysteresis_c / 2
    if x.setpoint_c - half < x.temperature_c < x.setpoint_c + half:
        assert decision.on == x.heater_on  # inside the band nothing changes
    if decision.on and not x.heater_on:
        assert x.temperature_c <= x.setpoint_c - half  # switched on only at the lower edge
    if not decision.on and x.heater_on:
        assert x.temperature_c >= x.setpoint_c + half  # switched off only at the upper edge


@given(
    configs,
    st.floats(5, 30),
    room_c,
    st.none() | st.booleans(),
    st.lists(st.floats(0.1, 600), min_size=1, max_size=40),
)
def test_a_steady_temperature_switches_at_most_once(
    cfg: RelayThermostatConfig,
    setpoint: float,
    temperature: float,
    heater_on: bool | None,
    steps: list[float],
) -> None:
    """No chatter: fed back its own decisions, the law settles whatever the tick pattern."""
    now, since, switches = 0.0, 0.0, 0
    for step in steps:
        now += step
        x = ControlInput(now, "heat", setpoint, temperature, now, heater_on, since)
        on = decide_heater(x, cfg).on
        if heater_on is not None and on != heater_on:
            switches += 1
            since = now
        heater_on = on
    assert switches <= 1

"""Value types for what a device should show (desired) and what it reports (read back).

These are the only types that cross between the timeline, the engine and the drivers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from roomctl.model.scene import Source

__all__ = [
    "DeviceState",
    "LightState",
    "PlayerReading",
    "PlayerState",
    "SwitchState",
    "ThermostatReading",
    "ThermostatState",
    "TrackInfo",
]


@dataclass(frozen=True, slots=True)
class LightState:
    """A light.  Colour is either colour temperature or hue/saturation (or neither: white-only).

    brightness_pct is 0.5..100 when on (drivers round it to the device's own scale, never below
    its lowest level); an off light keeps brightness_pct None.
    """

    on: bool
    brightness_pct: float | None = None
    color_temp_k: int | None = None
    hue: float | None = None
    saturation: float | None = None


@dataclass(frozen=True, slots=True)
class SwitchState:
    on: bool


@dataclass(frozen=True, slots=True)
class PlayerState:
    """Music: the source to play (silence = paused) and the volume (0..100)."""

    source: Source | None
    volume: int | None


@dataclass(frozen=True, slots=True)
class ThermostatState:
    setpoint_c: float


DeviceState = LightState | SwitchState | PlayerState | ThermostatState


@dataclass(frozen=True, slots=True)
class TrackInfo:
    title: str
    artist: str
    album: str
    uri: str
    position_s: float | None = None
    duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class PlayerReading:
    """What a speaker reports: volume, whether it plays, and the current track."""

    volume: int  # of a group: its quietest member
    transport: Literal["playing", "paused", "stopped", "transitioning"]
    track: TrackInfo | None = None
    loudest: int | None = None  # of a group whose members differ: its loudest member


@dataclass(frozen=True, slots=True)
class ThermostatReading:
    """What a thermostat reports.  `current_c` is None when no fresh temperature is known;
    `sensor_silent` says its sensor has not reported within its timeout (or never has), and
    `sensor_age_s` how long ago it last did (None: never, or unknown)."""

    setpoint_c: float | None
    current_c: float | None
    mode: Literal["off", "heat", "cool", "auto"] | None = None
    heating: bool | None = None
    sensor_silent: bool = False
    sensor_age_s: float | None = None

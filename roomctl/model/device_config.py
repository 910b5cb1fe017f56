"""The devices of the room's configuration, one model per driver (`driver:` tells them apart),
and the frozen, strict base every configuration model shares."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from roomctl.model.address import HostPortField

__all__ = [
    "BaseDevice",
    "DeviceConfig",
    "DeviceKind",
    "Frozen",
    "Ident",
    "KasaCredentials",
    "KasaDeviceConfig",
    "KasaModel",
    "RelayConfig",
    "RelayThermostatConfig",
    "SensorConfig",
    "SonosDeviceConfig",
    "Z2MLightConfig",
    "Z2MThermostatConfig",
]

Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeviceKind(enum.StrEnum):
    """What the timeline can ask of a device."""

    LIGHT = "light"  # on, brightness, and optionally colour temperature and hue/saturation
    SWITCH = "switch"  # on/off only (a plug with a lamp on it)
    PLAYER = "player"  # music source and volume
    THERMOSTAT = "thermostat"  # heating setpoint


class KasaCredentials(Frozen):
    username: str
    password: SecretStr


class BaseDevice(Frozen):
    id: Ident
    zone: Ident
    name: str | None = None

    @property
    def has_color_temp(self) -> bool:
        return False

    @property
    def has_hue(self) -> bool:
        return False


KasaModel = Literal["color_bulb", "white_bulb", "dimmable_bulb", "strip", "dimmer", "plug"]


class KasaDeviceConfig(BaseDevice):
    """A TP-Link Kasa bulb, light strip, dimmer or plug (python-kasa)."""

    driver: Literal["kasa"]
    host: HostPortField  # without a port: the one the device's protocol uses
    # Optional.  Without it the timeline plans every channel a Kasa light can have and the
    # driver shows what the device reports it can do (a plug: on/off); `plug` makes the device
    # a switch (e.g. a fan in heat.cooling).  A given model is checked against the device when
    # it connects.
    model: KasaModel | None = None
    credentials: KasaCredentials | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=60)

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.SWITCH if self.model == "plug" else DeviceKind.LIGHT

    @property
    def has_color_temp(self) -> bool:
        return self.model in (None, "color_bulb", "white_bulb", "strip")

    @property
    def has_hue(self) -> bool:
        return self.model in (None, "color_bulb", "strip")


class SonosDeviceConfig(BaseDevice):
    """A Sonos speaker or group coordinator (SoCo)."""

    driver: Literal["sonos"]
    host: HostPortField  # port: 1400 unless given
    timeout_s: float = Field(default=5.0, gt=0, le=60)

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.PLAYER


class Z2MLightConfig(BaseDevice):
    """A Zigbee2MQTT light: JSON state on `topic`, commands on `topic/set`."""

    driver: Literal["z2m_light"]
    topic: str = Field(min_length=1)
    color: bool = True
    color_temp: bool = True
    color_temp_range_k: tuple[int, int] = (2000, 6500)

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.LIGHT

    @property
    def has_color_temp(self) -> bool:
        return self.color_temp

    @property
    def has_hue(self) -> bool:
        return self.color


class Z2MThermostatConfig(BaseDevice):
    """A Zigbee2MQTT radiator valve (TRV)."""

    driver: Literal["z2m_thermostat"]
    topic: str = Field(min_length=1)
    setpoint_key: Literal["occupied_heating_setpoint", "current_heating_setpoint"] = (
        "occupied_heating_setpoint"
    )

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.THERMOSTAT


class SensorConfig(Frozen):
    """A temperature sensor: Zigbee2MQTT JSON (`temperature`) or Tasmota telemetry."""

    type: Literal["z2m", "tasmota"]
    topic: str = Field(min_length=1)


class RelayConfig(Frozen):
    """A switchable heater or fan: a Kasa plug, or a Tasmota or Shelly relay over MQTT."""

    type: Literal["kasa", "tasmota", "shelly"]
    host: HostPortField | None = None
    topic: str | None = None

    @model_validator(mode="after")
    def _address(self) -> RelayConfig:
        if self.type == "kasa" and not self.host:
            raise ValueError("a kasa relay needs host")
        if self.type != "kasa" and not self.topic:
            raise ValueError(f"a {self.type} relay needs topic")
        return self


class RelayThermostatConfig(BaseDevice):
    """A room thermostat made of a temperature sensor and a heater (or fan) relay."""

    driver: Literal["relay_thermostat"]
    sensor: SensorConfig
    heater: RelayConfig
    hysteresis_c: float = Field(default=0.5, gt=0, le=5)
    min_on_s: float = Field(default=120, ge=0)
    min_off_s: float = Field(default=120, ge=0)
    max_temp_c: float = Field(default=26, ge=15, le=35)
    sensor_timeout_s: float = Field(default=600, gt=0)

    @property
    def kind(self) -> DeviceKind:
        return DeviceKind.THERMOSTAT


DeviceConfig = Annotated[
    KasaDeviceConfig
    | SonosDeviceConfig
    | Z2MLightConfig
    | Z2MThermostatConfig
    | RelayThermostatConfig,
    Field(discriminator="driver"),
]

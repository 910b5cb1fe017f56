"""Build one driver per configured device.  The only place that knows every driver class.

A driver's module (and its library: python-kasa, SoCo) is imported when the first device that
needs it is built, so a room without Kasa devices never loads python-kasa (about 22 MiB and
0.2-0.4 s) and one without a Sonos never loads SoCo (about 11 MiB).
"""

from __future__ import annotations

from roomctl.clock import Clock
from roomctl.devices.base import Device, Switch
from roomctl.errors import ConfigError, Problem
from roomctl.model.config import RoomConfig
from roomctl.model.device_config import (
    DeviceConfig,
    KasaDeviceConfig,
    RelayConfig,
    RelayThermostatConfig,
    SonosDeviceConfig,
    Z2MLightConfig,
    Z2MThermostatConfig,
)
from roomctl.mqtt.bus import MqttBus

__all__ = ["build_devices"]


def build_devices(room: RoomConfig, bus: MqttBus | None, clock: Clock) -> dict[str, Device]:
    return {dev.id: build_device(dev, bus, clock) for dev in room.devices}


def _need_bus(dev: DeviceConfig, bus: MqttBus | None) -> MqttBus:
    if bus is None:
        raise ConfigError(
            [
                Problem(
                    "config",
                    None,
                    f"devices.{dev.id}",
                    "this device talks MQTT: add an mqtt section to the config",
                )
            ]
        )
    return bus


def build_device(dev: DeviceConfig, bus: MqttBus | None, clock: Clock) -> Device:
    if isinstance(dev, KasaDeviceConfig):
        from roomctl.devices.kasa import KasaLight, KasaSwitch

        return KasaSwitch(dev) if dev.model == "plug" else KasaLight(dev)
    if isinstance(dev, SonosDeviceConfig):
        from roomctl.devices.sonos import SonosPlayer

        return SonosPlayer(dev, clock=clock)
    if isinstance(dev, Z2MLightConfig | Z2MThermostatConfig):
        from roomctl.devices.z2m import Z2MLight, Z2MThermostat

        if isinstance(dev, Z2MLightConfig):
            return Z2MLight(dev, _need_bus(dev, bus))
        return Z2MThermostat(dev, _need_bus(dev, bus))
    if isinstance(dev, RelayThermostatConfig):
        from roomctl.devices.relay_thermostat import RelayThermostat

        mqtt = _need_bus(dev, bus)
        return RelayThermostat(dev, mqtt, _heater(dev, dev.heater, mqtt), clock)
    raise ConfigError([Problem("config", None, "devices", f"unknown driver for {dev!r}")])


def _heater(dev: RelayThermostatConfig, relay: RelayConfig, bus: MqttBus) -> Switch:
    heater_id = f"{dev.id}-heater"
    if relay.type == "kasa":
        from roomctl.devices.kasa import KasaSwitch

        return KasaSwitch.for_relay(heater_id, dev.zone, relay)
    from roomctl.devices.relay import mqtt_relay

    return mqtt_relay(heater_id, relay, bus)

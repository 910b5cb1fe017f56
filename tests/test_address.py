"""`host` / `host:port` in the configuration: one parser (HostPort) for Kasa, Sonos, the relay
thermostat's Kasa plug and the MQTT broker, with one-line errors naming the file, line and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from roomctl.devices.kasa import KasaLight
from roomctl.devices.sonos import SonosPlayer
from roomctl.errors import Problem
from roomctl.model.address import HostPort
from roomctl.model.config import (
    KasaDeviceConfig,
    MqttConfig,
    RelayThermostatConfig,
    RoomConfig,
    SonosDeviceConfig,
)
from roomctl.model.loader import load_model, read_yaml


@pytest.mark.parametrize(
    ("text", "host", "port", "shown"),
    [
        ("1.2.3.4", "1.2.3.4", None, "1.2.3.4"),
        ("1.2.3.4:9999", "1.2.3.4", 9999, "1.2.3.4:9999"),
        ("[::1]:1400", "::1", 1400, "[::1]:1400"),
        ("::1", "::1", None, "[::1]"),
        ("[fe80::0001]", "fe80::1", None, "[fe80::1]"),
        ("fe80::1:1400", "fe80::1:1400", None, "[fe80::1:1400]"),  # a bare IPv6 has no port
        ("name.local", "name.local", None, "name.local"),
        ("sonos-living.local:1443", "sonos-living.local", 1443, "sonos-living.local:1443"),
        (" 10.0.0.5 ", "10.0.0.5", None, "10.0.0.5"),
    ],
)
def test_each_form_is_parsed_once(text: str, host: str, port: int | None, shown: str) -> None:
    address = HostPort.parse(text)
    assert (address.host, address.port, str(address)) == (host, port, shown)
    assert HostPort.parse(str(address)) == address  # the shown form reads back the same


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("1.2.3.4:", "port must be a number from 1 to 65535"),
        ("1.2.3.4:0", "port must be a number from 1 to 65535"),
        ("1.2.3.4:65536", "port must be a number from 1 to 65535"),
        ("1.2.3.4:http", "port must be a number from 1 to 65535"),
        (":1400", "host is missing"),
        ("1.2.3.256", "not an IPv4 address"),
        ("[::1", "without ']'"),
        ("[::1]1400", "expected ':port' after ']'"),
        ("[lamp.local]:99", "not an IPv6 address"),
        ("fe80::zz", "with a port: '[addr]:port'"),
        ("my lamp", "no scheme, path, space"),
        ("http://10.0.0.5", "no scheme, path, space"),
        ("lamp_1..local", "not a host name"),
    ],
)
def test_bad_forms_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)) as info:
        HostPort.parse(text)
    assert "\n" not in str(info.value)


def test_drivers_take_host_and_port_from_the_one_field() -> None:
    kasa = KasaDeviceConfig(id="lamp", zone="z", driver="kasa", host="[fe80::1]:9999")
    assert kasa.host == HostPort("fe80::1", 9999)
    assert KasaLight(kasa).describe() == "lamp: Kasa light at [fe80::1]:9999"
    sonos = SonosDeviceConfig(id="music", zone="z", driver="sonos", host="10.0.0.9")
    assert SonosPlayer(sonos).describe() == "music: Sonos at 10.0.0.9:1400"  # Sonos's port
    thermostat = RelayThermostatConfig.model_validate(
        {
            "id": "radiator",
            "zone": "z",
            "driver": "relay_thermostat",
            "sensor": {"type": "z2m", "topic": "s"},
            "heater": {"type": "kasa", "host": "10.0.0.7:9999"},
        }
    )
    assert thermostat.heater.host == HostPort("10.0.0.7", 9999)


def test_mqtt_broker_port_in_host_or_port_but_not_both_different() -> None:
    assert MqttConfig().address == HostPort("127.0.0.1", 1883)
    assert MqttConfig(host="broker.local", port=1884).address == HostPort("broker.local", 1884)
    assert MqttConfig(host="[::1]:1885").address == HostPort("::1", 1885)
    assert MqttConfig(host="::1", port=1885).address == HostPort("::1", 1885)
    assert MqttConfig(host="b.local:1885", port=1885).address.port == 1885  # the same twice
    both = re.escape("two ports: host b.local:1885 and port 1884")
    with pytest.raises(ValidationError, match=both):
        MqttConfig(host="b.local:1885", port=1884)


def test_a_config_serialises_addresses_as_text() -> None:
    kasa = KasaDeviceConfig(id="lamp", zone="z", driver="kasa", host="[::1]:9999")
    assert kasa.model_dump(mode="json")["host"] == "[::1]:9999"


CONFIG = """\
room: {id: r, name: R}
devices:
  - {id: lamp, driver: kasa, host: "192.168.1.40", zone: lamp}
  - {id: music, driver: sonos, host: "192.168.1.50", zone: speakers}
mqtt: {host: 127.0.0.1, port: 1883}
"""


def problems(tmp_path: Path, old: str, new: str) -> list[Problem]:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace(old, new), encoding="utf-8")
    source = read_yaml(path)
    assert not isinstance(source, Problem)
    result = load_model(RoomConfig, source)
    assert isinstance(result, list), "the config should not validate"
    return result


@pytest.mark.parametrize(
    ("old", "new", "where", "reason"),
    [
        ('"192.168.1.40"', '"192.168.1.40:99999"', (3, "devices[0].host"), "port must be"),
        ('"192.168.1.50"', '"fe80::1::2"', (4, "devices[1].host"), "not an IPv6 address"),
        ("host: 127.0.0.1,", 'host: "broker:1884",', (5, "mqtt"), "two ports"),
        ("host: 127.0.0.1,", "host: 1883,", (5, "mqtt.host"), "expected an address as text"),
    ],
)
def test_bad_addresses_are_config_errors_with_file_line_and_field(
    tmp_path: Path, old: str, new: str, where: tuple[int, str], reason: str
) -> None:
    line, field = where
    [problem] = problems(tmp_path, old, new)
    assert (problem.line, problem.path) == (line, field)
    assert reason in problem.message
    assert str(problem).startswith(f"{tmp_path / 'config.yaml'}:{line}: {field}: ")
    assert "\n" not in str(problem)


def test_an_ipv6_sonos_is_addressed_without_brackets_in_the_host() -> None:
    sonos = SonosDeviceConfig(id="music", zone="z", driver="sonos", host="[fe80::9]:1401")
    assert SonosPlayer(sonos).describe() == "music: Sonos at [fe80::9]:1401"

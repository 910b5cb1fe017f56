"""The Kasa emulator on its own: wire format, answers per model, fades, faults.

Raw tests talk the wire protocol with a few lines of asyncio; the rest run the real python-kasa
client against the emulator on loopback.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from kasa import Device, DeviceConfig, Discover
from kasa.transports import XorEncryption

from roomctl.clock import VirtualClock
from roomctl.sim.kasa import KasaEmulator
from roomctl.sim.kasa_device import EmulatedKasaDevice
from roomctl.sim.kasa_profiles import Model
from roomctl.sim.kasa_protocol import (
    FrameError,
    decode_frame,
    decrypt,
    encode_frame,
    encrypt,
)

HOST = "127.0.0.21"
BULB = "smartlife.iot.smartbulb.lightingservice"
Start = Callable[..., Awaitable[KasaEmulator]]
Json = dict[str, Any]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start emulators on 127.0.0.21 (ephemeral ports); all are stopped afterwards."""
    running: list[KasaEmulator] = []

    async def _start(model: Model, **kwargs: Any) -> KasaEmulator:
        emulator = KasaEmulator(model, host=HOST, **kwargs)
        await emulator.start()
        running.append(emulator)
        return emulator

    yield _start
    for emulator in running:
        await emulator.stop()


class RawClient:
    """A minimal Kasa client: one connection, one request/response at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, emulator: KasaEmulator) -> RawClient:
        return cls(*await asyncio.open_connection(emulator.host, emulator.port))

    async def query(self, request: Json) -> Json:
        self.writer.write(encode_frame(request))
        await self.writer.drain()
        header = await self.reader.readexactly(4)
        (length,) = struct.unpack(">I", header)
        return decode_frame(header + await self.reader.readexactly(length))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _light_state(brightness: int, transition_ms: int, **more: int) -> Json:
    params = {"on_off": 1, "brightness": brightness, "transition_period": transition_ms, **more}
    return {BULB: {"transition_light_state": params}}


# -- wire format ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["{}", '{"system":{"get_sysinfo":{}}}', '{"alias":"Lämpchen"}'])
def test_cipher_matches_python_kasa(text: str) -> None:
    theirs = XorEncryption.encrypt(text)
    assert theirs[4:] == encrypt(text.encode())
    assert struct.unpack(">I", theirs[:4])[0] == len(text.encode())
    assert decrypt(encrypt(text.encode())) == text.encode()
    assert XorEncryption.decrypt(encrypt(text.encode())) == text


def test_cipher_known_vector() -> None:
    # key 171 ^ '{' (0x7b) = 0xd0; 0xd0 ^ '}' (0x7d) = 0xad
    assert encrypt(b"{}") == b"\xd0\xad"


def test_frame_round_trip_and_errors() -> None:
    message: Json = {"system": {"get_sysinfo": {}}}
    assert decode_frame(encode_frame(message)) == message
    with pytest.raises(FrameError):
        decode_frame(encode_frame(message)[:-1])
    with pytest.raises(FrameError):
        decode_frame(struct.pack(">I", 2) + encrypt(b"[]"))


async def test_one_connection_carries_many_requests(start: Start) -> None:
    bulb = await start("color_bulb")
    client = await RawClient.connect(bulb)
    for _ in range(5):
        reply = await client.query({"system": {"get_sysinfo": {}}})
        assert reply["system"]["get_sysinfo"]["err_code"] == 0
    await client.close()
    assert (bulb.connections_accepted, bulb.requests) == (1, 5)


async def test_non_kasa_traffic_is_hung_up_on(start: Start) -> None:
    bulb = await start("color_bulb")
    reader, writer = await asyncio.open_connection(bulb.host, bulb.port)
    writer.write(b"POST /app/handshake1 HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    await writer.wait_closed()


# -- answers per model ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "request_", "answer"),
    [
        ("color_bulb", {"smartlife.iot.common.anti_theft": {"get_rules": {}}}, -1),
        ("color_bulb", {"countdown": {"get_rules": {}}}, -1),
        ("color_bulb", {"smartlife.iot.common.emeter": {"get_realtime": {}}}, 0),
        ("plug", {"emeter": {"get_realtime": {}}}, -1),
        ("plug_energy", {"emeter": {"get_realtime": {}}}, 0),
        ("dimmer", {"smartlife.iot.PIR": {"get_config": {}}}, -1),
        ("dimmer", {"smartlife.iot.dimmer": {"get_dimmer_parameters": {}}}, 0),
    ],
)
async def test_modules_a_model_lacks_are_not_supported(
    start: Start, model: Model, request_: Json, answer: int
) -> None:
    device = await start(model)
    client = await RawClient.connect(device)
    reply = await client.query(request_)
    await client.close()
    (target,) = request_
    if answer == 0:
        (command,) = request_[target]
        assert reply[target][command]["err_code"] == 0
    else:
        assert reply[target] == {"err_code": -1, "err_msg": "module not support"}


async def test_unknown_command_and_bad_values(start: Start) -> None:
    bulb = await start("white_bulb")
    client = await RawClient.connect(bulb)
    reply = await client.query({"system": {"no_such_thing": {}}})
    assert reply["system"]["no_such_thing"]["err_code"] == -2
    for params in ({"brightness": 150}, {"color_temp": 2000}, {"hue": 120, "saturation": 100}):
        reply = await client.query({BULB: {"transition_light_state": params}})
        assert reply[BULB]["transition_light_state"]["err_code"] == -3, params
    timezone = await client.query({"smartlife.iot.common.timesetting": {"get_timezone": {}}})
    assert "index" in timezone["smartlife.iot.common.timesetting"]["get_timezone"]
    await client.close()
    assert [c.err_code for c in bulb.commands] == [-2, -3, -3, -3]


@pytest.mark.parametrize(
    ("model", "cls", "name"),
    [
        ("color_bulb", "IotBulb", "KL130"),
        ("white_bulb", "IotBulb", "KL120"),
        ("dimmable_bulb", "IotBulb", "KL110"),
        ("strip", "IotLightStrip", "KL430"),
        ("dimmer", "IotDimmer", "HS220"),
        ("plug", "IotPlug", "HS103"),
        ("plug_energy", "IotPlug", "KP115"),
    ],
)
async def test_python_kasa_connects_to_every_model(
    start: Start, model: Model, cls: str, name: str
) -> None:
    emulator = await start(model)
    config = DeviceConfig(host=emulator.host, port_override=emulator.port, timeout=2)
    dev = await Device.connect(config=config)
    try:
        assert (type(dev).__name__, dev.model, dev.alias) == (cls, name, emulator.alias)
        for feature in dev.features.values():  # every feature python-kasa offers is readable
            assert feature.value is not None or feature.type.name in ("Action", "Unknown")
        await dev.update()  # later updates skip the modules found unsupported
    finally:
        await dev.disconnect()
    assert emulator.connections_accepted == 1


async def test_udp_discovery_on_the_same_port(start: Start) -> None:
    plug = await start("plug", alias="Heater")
    dev = await Discover.discover_single(plug.host, port=plug.port, discovery_timeout=2)
    assert dev is not None
    try:
        assert dev.alias == "Heater"
    finally:
        await dev.disconnect()


# -- fades against an injected clock ----------------------------------------------------------


def _device(model: Model, clock: VirtualClock) -> EmulatedKasaDevice:
    return EmulatedKasaDevice(model, alias="test", time_fn=clock.monotonic)


async def test_brightness_fades_linearly() -> None:
    clock = VirtualClock()
    bulb = _device("color_bulb", clock)
    bulb.handle(_light_state(brightness=80, transition_ms=10_000))  # from 50
    assert bulb.state["brightness"] == 50
    await clock.advance(5)
    assert (bulb.state["brightness"], bulb.state["fading"]) == (65, True)
    sysinfo = bulb.handle({"system": {"get_sysinfo": {}}})["system"]["get_sysinfo"]
    assert sysinfo["light_state"]["brightness"] == 65
    await clock.advance(5)
    assert (bulb.state["brightness"], bulb.state["fading"]) == (80, False)
    assert bulb.commands[0].t == pytest.approx(clock.monotonic() - 10)


async def test_a_new_command_continues_from_the_current_value() -> None:
    clock = VirtualClock()
    bulb = _device("color_bulb", clock)
    bulb.handle(_light_state(brightness=90, transition_ms=4000))
    await clock.advance(2)  # at 70
    bulb.handle(_light_state(brightness=10, transition_ms=6000))
    await clock.advance(3)
    assert bulb.state["brightness"] == 40


async def test_hue_fades_the_short_way_and_modes_jump() -> None:
    clock = VirtualClock()
    bulb = _device("strip", clock)
    hsv = {"hue": 350, "saturation": 100, "color_temp": 0}
    bulb.handle({"smartlife.iot.lightStrip": {"set_light_state": {"on_off": 1, **hsv}}})
    assert bulb.state["color_temp"] == 0
    to_10 = {"on_off": 1, "hue": 10, "saturation": 100, "color_temp": 0, "transition_period": 2000}
    bulb.handle({"smartlife.iot.lightStrip": {"set_light_state": to_10}})
    await clock.advance(1)
    assert bulb.state["hue"] in (0, 360)
    white = {"on_off": 1, "color_temp": 4000, "transition_period": 2000}
    bulb.handle({"smartlife.iot.lightStrip": {"set_light_state": white}})
    assert bulb.state["color_temp"] == 4000  # colour -> white is a jump, not a fade from 0 K


async def test_fade_out_stays_lit_then_remembers_brightness() -> None:
    clock = VirtualClock()
    bulb = _device("color_bulb", clock)
    bulb.handle({BULB: {"transition_light_state": {"on_off": 0, "transition_period": 4000}}})
    await clock.advance(2)
    assert (bulb.state["on"], bulb.state["brightness"]) == (True, 25)
    await clock.advance(2)
    sysinfo = bulb.handle({"system": {"get_sysinfo": {}}})["system"]["get_sysinfo"]
    light_state = sysinfo["light_state"]
    assert (set(light_state), light_state["on_off"]) == ({"on_off", "dft_on_state"}, 0)
    assert light_state["dft_on_state"]["brightness"] == 50
    on = {"on_off": 1, "transition_period": 1000, "ignore_default": 0}
    bulb.handle({BULB: {"transition_light_state": on}})
    await clock.advance(0.5)
    assert (bulb.state["on"], bulb.state["brightness"]) == (True, 25)  # fading in from dark


async def test_dimmer_transition_and_fade_to_off() -> None:
    clock = VirtualClock()
    dimmer = _device("dimmer", clock)
    set_90 = {"set_dimmer_transition": {"brightness": 90, "duration": 2000}}
    dimmer.handle({"smartlife.iot.dimmer": set_90})
    await clock.advance(1)
    assert dimmer.state["brightness"] == 70
    off = {"set_dimmer_transition": {"brightness": 0, "duration": 1000}}
    dimmer.handle({"smartlife.iot.dimmer": off})
    await clock.advance(1)
    sysinfo = dimmer.handle({"system": {"get_sysinfo": {}}})["system"]["get_sysinfo"]
    assert (sysinfo["relay_state"], sysinfo["brightness"]) == (0, 90)


# -- faults ------------------------------------------------------------------------------------


async def test_latency_delays_each_reply(start: Start) -> None:
    bulb = await start("color_bulb")
    client = await RawClient.connect(bulb)
    bulb.faults.latency_s = 0.2
    began = time.monotonic()
    await client.query({"system": {"get_sysinfo": {}}})
    assert time.monotonic() - began >= 0.2
    await client.close()


@pytest.mark.parametrize("applied", [False, True])
async def test_drop_closes_the_connection(start: Start, applied: bool) -> None:
    bulb = await start("color_bulb")
    bulb.faults.drop_next = 1
    bulb.faults.drop_after_apply = applied
    client = await RawClient.connect(bulb)
    with pytest.raises(asyncio.IncompleteReadError):
        await client.query(_light_state(brightness=10, transition_ms=0))
    await client.close()
    assert bulb.state["brightness"] == (10 if applied else 50)
    client = await RawClient.connect(bulb)
    assert (await client.query({"system": {"get_sysinfo": {}}}))["system"]["get_sysinfo"]
    await client.close()


async def test_error_code_rejects_setters_only(start: Start) -> None:
    plug = await start("plug")
    plug.faults.error_code = -7
    client = await RawClient.connect(plug)
    reply = await client.query({"system": {"set_relay_state": {"state": 0}}})
    assert reply["system"]["set_relay_state"]["err_code"] == -7
    reply = await client.query({"system": {"get_sysinfo": {}}})
    assert reply["system"]["get_sysinfo"]["relay_state"] == 1
    await client.close()
    assert [(c.command, c.err_code) for c in plug.commands] == [("set_relay_state", -7)]


async def test_silent_device_never_answers(start: Start) -> None:
    plug = await start("plug")
    plug.faults.silent = True
    client = await RawClient.connect(plug)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.query({"system": {"get_sysinfo": {}}}), 0.3)
    await client.close()
    plug.faults.clear()
    client = await RawClient.connect(plug)
    assert await client.query({"system": {"get_sysinfo": {}}})
    await client.close()


async def test_refuse_then_accept_connections(start: Start) -> None:
    plug = await start("plug")
    client = await RawClient.connect(plug)
    port = plug.port
    await plug.refuse_connections()
    assert await asyncio.wait_for(client.reader.read(), 2) == b""  # open connection dropped
    await client.close()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(plug.host, port)
    await plug.accept_connections()
    assert plug.port == port
    client = await RawClient.connect(plug)
    assert await client.query({"system": {"get_sysinfo": {}}})
    await client.close()

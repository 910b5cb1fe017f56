"""The demo room: a whole session room made of emulators on 127.0.0.x, and `roomctl demo`.

Devices: three Kasa lights (colour bulb, light strip, dimmer), a Zigbee2MQTT ceiling light and
radiator valve, a Sonos pair, and a room thermostat made of a Zigbee2MQTT temperature sensor and
a Kasa plug heater warming a simulated room.  MQTT devices talk through a Mosquitto broker that
the demo starts as an ordinary user on a free loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from roomctl.clock import Clock, ScaledClock
from roomctl.control.daemon import Daemon
from roomctl.engine.reconciler import EngineSettings
from roomctl.model.arc import format_hmm
from roomctl.model.library import PACKAGE_SCENES, Library, load_library
from roomctl.mqtt_api.service import run as mqtt_api
from roomctl.sim.broker import Broker
from roomctl.sim.kasa import KasaEmulator
from roomctl.sim.sonos import SimFavorite, SimTrack, SonosEmulator, SonosGroup
from roomctl.sim.thermal import RoomModel, TemperatureSensorEmulator
from roomctl.sim.z2m import Z2MLightEmulator, Z2MThermostatEmulator

__all__ = ["DemoRoom", "demo_favorites", "run_demo"]

log = logging.getLogger(__name__)

FAVORITES = (
    "Settling In",
    "Onset",
    "Ascent",
    "Peak",
    "Re-entry",
    "Return",
    "Integration",
    "Inner Focus",
    "Calm Waters",
)


def demo_favorites() -> tuple[SimFavorite, ...]:
    """Sonos favourites named as the shipped scenes ask, each with a few tracks."""
    out = []
    for i, title in enumerate(FAVORITES):
        tracks = tuple(
            SimTrack(
                title=f"{title} {n}",
                artist="Demo Ensemble",
                album=title,
                duration_s=240 + 30 * n + 7 * i,
            )
            for n in range(1, 4)
        )
        out.append(SimFavorite(title, tracks))
    return tuple(out)


@dataclass
class DemoRoom:
    """Every emulator of the demo room, started; `config_path` describes the room to roomctl."""

    folder: Path
    clock: Clock
    broker: Broker
    kasa: dict[str, KasaEmulator] = field(default_factory=dict)
    sonos: SonosGroup | None = None
    ceiling: Z2MLightEmulator | None = None
    radiator: Z2MThermostatEmulator | None = None
    sensor: TemperatureSensorEmulator | None = None
    room_model: RoomModel = field(default_factory=RoomModel)
    # The emulators' own clock (fades, the room's warming): the system clock for the demo, the
    # benchmark's virtual clock to play an arc faster than real time.
    emulator_clock: Clock | None = None
    thermostat: bool = True  # the heater plug, the room sensor and the relay thermostat
    config_path: Path = field(init=False)

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        clock: Clock,
        folder: Path | None = None,
        *,
        emulator_clock: Clock | None = None,
        thermostat: bool = True,
    ) -> AsyncIterator[DemoRoom]:
        own = folder is None
        base = Path(tempfile.mkdtemp(prefix="roomctl-demo-")) if folder is None else folder
        async with Broker.start() as broker, contextlib.AsyncExitStack() as stack:
            room = cls(
                folder=base,
                clock=clock,
                broker=broker,
                emulator_clock=emulator_clock,
                thermostat=thermostat,
            )
            await room._start(stack)
            room.config_path = room._write_config()
            try:
                yield room
            finally:
                if own:
                    log.debug("demo files left in %s", base)

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        emu_clock = self.emulator_clock
        time_fn = {} if emu_clock is None else {"time_fn": emu_clock.monotonic}
        lamps = [
            ("lamp", "color_bulb", "127.0.0.11"),
            ("strip", "strip", "127.0.0.12"),
            ("reading", "dimmer", "127.0.0.13"),
        ]
        if self.thermostat:
            lamps.append(("heater", "plug", "127.0.0.14"))
        for dev_id, model, host in lamps:
            emu = KasaEmulator(model, host, 0, alias=f"Demo {dev_id}", **time_fn)  # type: ignore[arg-type]
            await emu.start()
            stack.push_async_callback(emu.stop)
            self.kasa[dev_id] = emu
        coordinator = SonosEmulator(
            "127.0.0.21",
            room_name="Session Room",
            favorites=demo_favorites(),
            volume=0,
            clock=emu_clock,
        )
        member = SonosEmulator(
            "127.0.0.22",
            room_name="Session Room (right)",
            favorites=demo_favorites(),
            volume=0,
            clock=emu_clock,
        )
        self.sonos = SonosGroup(coordinator, member)
        await self.sonos.start()
        stack.push_async_callback(self.sonos.stop)
        host, port = self.broker.host, self.broker.port
        self.ceiling = Z2MLightEmulator(host, port, "zigbee2mqtt/ceiling", clock=emu_clock)
        self.radiator = Z2MThermostatEmulator(
            host, port, "zigbee2mqtt/radiator", local_temperature=19.5, clock=emu_clock
        )
        for mqtt_emu in (self.ceiling, self.radiator):
            await mqtt_emu.start()
            stack.push_async_callback(mqtt_emu.stop)
        if not self.thermostat:
            return
        heater = self.kasa["heater"]
        self.room_model = RoomModel(temperature_c=19.5, heater=lambda: bool(heater.state["on"]))
        self.sensor = TemperatureSensorEmulator(
            host,
            port,
            "zigbee2mqtt/room_sensor",
            interval_s=60,
            room=self.room_model,
            clock=self.clock,
        )
        await self.sensor.start()
        stack.push_async_callback(self.sensor.stop)

    def config(self) -> dict[str, Any]:
        k = self.kasa
        assert self.sonos is not None
        return {
            "room": {"id": "demo", "name": "Demo Session Room"},
            "devices": [
                {
                    "id": "lamp",
                    "driver": "kasa",
                    "host": k["lamp"].address,
                    "zone": "lamp",
                    "model": "color_bulb",
                },
                {
                    "id": "reading",
                    "driver": "kasa",
                    "host": k["reading"].address,
                    "zone": "lamp",
                    "model": "dimmer",
                },
                {
                    "id": "strip",
                    "driver": "kasa",
                    "host": k["strip"].address,
                    "zone": "accent",
                    "model": "strip",
                },
                {
                    "id": "ceiling",
                    "driver": "z2m_light",
                    "topic": "zigbee2mqtt/ceiling",
                    "zone": "ceiling",
                },
                {
                    "id": "speakers",
                    "driver": "sonos",
                    "host": self.sonos.coordinator.address,
                    "zone": "speakers",
                },
                {
                    "id": "radiator",
                    "driver": "z2m_thermostat",
                    "topic": "zigbee2mqtt/radiator",
                    "zone": "climate",
                },
                *self._thermostat_config(),
            ],
            "safety": {"floor_lights": ["lamp"]},
            "storage": {"path": str(self.folder / "roomctl.db")},
            "mqtt": {"host": self.broker.host, "port": self.broker.port},
            "scenes_dir": str(PACKAGE_SCENES),
            **self._clock_config(),
        }

    def _thermostat_config(self) -> list[dict[str, Any]]:
        if not self.thermostat:
            return []
        return [
            {
                "id": "room-heat",
                "driver": "relay_thermostat",
                "zone": "climate",
                "sensor": {"type": "z2m", "topic": "zigbee2mqtt/room_sensor"},
                "heater": {"type": "kasa", "host": self.kasa["heater"].address},
                "min_on_s": 120,
                "min_off_s": 120,
                "max_temp_c": 25,
            }
        ]

    def _clock_config(self) -> dict[str, Any]:
        """A scaled clock is written into the config, so `roomctl session ...` from another
        terminal shares the demo's session time."""
        clock = self.clock
        if not isinstance(clock, ScaledClock):
            return {}
        return {"clock": {"speed": clock.speed, "start": clock.start, "anchor": clock.anchor}}

    def _write_config(self) -> Path:
        path = self.folder / "config.yaml"
        path.write_text(yaml.safe_dump(self.config(), sort_keys=False), encoding="utf-8")
        return path

    def initial_state(self) -> dict[str, dict[str, Any]]:
        """The lights as they are before the session, so the first scene fades in from them."""
        out: dict[str, dict[str, Any]] = {}
        for dev_id in ("lamp", "reading", "strip"):
            s = self.kasa[dev_id].state
            entry: dict[str, Any] = {"on": bool(s["on"]), "brightness_pct": s["brightness"]}
            if dev_id == "strip":
                entry |= {"hue": s["hue"], "saturation": s["saturation"]}
            elif dev_id == "lamp":
                entry["color_temp_k"] = s["color_temp"]
            out[dev_id] = entry
        if self.ceiling is not None:
            level = self.ceiling.output()["level"] / 254 * 100
            out["ceiling"] = {"on": level >= 0.5, "brightness_pct": level}
        return out

    def shown(self) -> dict[str, str]:
        """What the emulated devices show right now, read from the emulators themselves."""
        out: dict[str, str] = {}
        for dev_id in ("lamp", "reading", "strip"):
            s = self.kasa[dev_id].state
            if not s["on"]:
                out[dev_id] = "off"
            elif dev_id == "strip":
                out[dev_id] = f"{s['brightness']:.0f}% hue {s['hue']:.0f}"
            elif dev_id == "reading":
                out[dev_id] = f"{s['brightness']:.0f}%"
            else:
                out[dev_id] = f"{s['brightness']:.0f}% {s['color_temp']:.0f}K"
        if self.ceiling is not None:
            o = self.ceiling.output()
            level = o["level"] / 254 * 100
            out["ceiling"] = "off" if level < 0.5 else f"{level:.0f}% {1e6 / o['color_temp']:.0f}K"
        if self.sonos is not None:
            c = self.sonos.coordinator
            title = c.current_title or "-"
            out["speakers"] = (
                f"{title} vol {c.volume}"
                if c.transport_state == "PLAYING"
                else f"paused vol {c.volume}"
            )
        if self.radiator is not None:
            out["radiator"] = f"{self.radiator.setpoint_c:.1f}°C"
        if self.thermostat:
            heater = "on" if self.kasa["heater"].state["on"] else "off"
            out["room"] = f"{self.room_model.temperature_c:.1f}°C heater {heater}"
        return out


async def _report(daemon: Daemon, room: DemoRoom, every_s: float, until: float | None) -> None:
    """Print where the session is and what the emulated room shows, every few seconds."""
    assert daemon.session is not None
    while True:
        snap = daemon.session.snapshot()
        st = snap.status
        where = "no session" if st is None else f"{format_hmm(st.arc_clock_s):>5} {st.phase:<11}"
        shown = "  ".join(f"{k} {v}" for k, v in room.shown().items())
        print(f"{where} | {shown}", flush=True)
        if until is not None and room.clock.now() >= until:
            return
        await asyncio.sleep(every_s)


async def run_demo(
    arc: str = "psilocybin",
    speed: float = 60.0,
    minutes: float | None = None,
    setup: Callable[[Daemon], None] | None = None,
) -> None:
    """Run the demo room; `setup` may add services (the web app) to its daemon."""
    clock = ScaledClock(speed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with DemoRoom.start(clock) as room:
        lib: Library = load_library(room.config_path)
        chosen = lib.arc(arc)
        settings = EngineSettings(
            transition_scale=1.0 / speed,
            readback_s=300,
            max_volume_rise_per_10s=lib.room.safety.max_volume_rise_per_10s,
        )
        daemon = Daemon(lib, clock, settings=settings)
        daemon.services.append(("mqtt-api", mqtt_api))
        if setup is not None:
            setup(daemon)
        end = chosen.nominal_end
        length = (end - chosen.starts_at) if end is not None else 3 * 3600.0
        real_s = minutes * 60 if minutes is not None else length / speed + 5

        async def follow(d: Daemon) -> None:
            assert d.session is not None
            d.session.start(arc, by="demo", room=room.initial_state())
            if d.engine is not None:
                d.engine.wake()
            print(
                f"roomctl demo: room of emulators, config {room.config_path}\n"
                f"Session of arc {arc!r} at {speed:g}x speed; steer it from another terminal, "
                f"e.g.  roomctl session hold --config {room.config_path}\n",
                flush=True,
            )
            await _report(
                d,
                room,
                every_s=max(1.0, min(10.0, 600 / speed)),
                until=clock.now() + real_s * speed,
            )
            stop.set()

        await daemon.run(stop, on_ready=follow)

"""The daemon: lock → store → MQTT → drivers → engine → command socket, stopped in reverse.

`Daemon.run()` runs until `stop` is set (SIGTERM/SIGINT in `roomctl run`).  Only a bad config or
a second daemon on the same database stop it from starting; everything else it can run without:

- unreachable devices are retried by the engine;
- a broker that is down at start: Kasa and Sonos run, MQTT devices are unavailable until the
  bus (which keeps retrying) connects;
- a database it cannot write: the room runs read-only (the session as stored, the emergency
  working), and says why;
- a clock behind the session's last event: the room holds at its last known point until the
  clock is plausible.  Session time is the wall time at start plus monotonic time since, so a
  clock step while it runs neither skips nor repeats a phase.

An emergency acts at once in memory; `_record()` keeps trying to store what could not be.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from roomctl.clock import Clock, SessionClock
from roomctl.control.heat import HeatResponse
from roomctl.control.lock import DaemonLock
from roomctl.control.paths import socket_paths, store_path
from roomctl.control.room_state import RoomState, StateHub, room_state
from roomctl.control.safe_state import (
    BOOT_ID_FILE,
    SafeLight,
    after_power_cut,
    current_boot_id,
    rebooted_since,
)
from roomctl.control.server import CommandServer
from roomctl.control.session import SessionControl
from roomctl.control.storage import open_store
from roomctl.control.tracks import TRACK_POLL_S, remember_tracks, watch_tracks
from roomctl.devices.base import Device, Player, Thermostat
from roomctl.devices.climate import ClimateAlert, ClimateWatch
from roomctl.devices.factory import build_devices
from roomctl.engine.reconciler import Engine, EngineSettings
from roomctl.model.library import Library
from roomctl.model.state import DeviceState
from roomctl.mqtt.bus import MqttBus
from roomctl.retry import Backoff
from roomctl.store.store import Store

__all__ = ["Daemon"]

log = logging.getLogger(__name__)
Hook = Callable[["Daemon"], Coroutine[Any, Any, None]]
STATE_TICK_S = 1.0  # the faces are told at least this often while a session runs
CLIMATE_CHECK_S = 60.0
SAFE_STOP_S = 5.0  # at most this long (real time) to send the safe light when stopping
SAFE_POLL_S = 0.05


class Daemon:
    def __init__(
        self,
        lib: Library,
        clock: Clock,
        *,
        settings: EngineSettings | None = None,
        poll_s: float = 1.0,
        record_retry_s: float = 1.0,
        climate_check_s: float = CLIMATE_CHECK_S,
        track_poll_s: float = TRACK_POLL_S,
        boot_id_file: Path = BOOT_ID_FILE,
    ) -> None:
        self.lib = lib
        self.clock = clock if isinstance(clock, SessionClock) else SessionClock(clock)
        safety, engine = lib.room.safety, lib.room.engine
        self.settings = settings or EngineSettings(
            max_volume_rise_per_10s=safety.max_volume_rise_per_10s,
            readback_s=engine.readback_s,
            adopt_manual_changes=engine.adopt_manual_changes,
            catch_up_s=engine.catch_up_s,
        )
        self.poll_s = poll_s
        self.record_retry_s = record_retry_s
        self.climate_check_s = climate_check_s
        self.track_poll_s = track_poll_s  # how often the speakers' tracks are read in a session
        self.store: Store | None = None
        self.read_only: str | None = None  # why the database is open read-only
        self.bus: MqttBus | None = None
        self.session: SessionControl | None = None
        self.engine: Engine | None = None
        self.server: CommandServer | None = None
        self.climate: ClimateWatch | None = None
        self.heat: HeatResponse | None = None  # heat alerts into the session: cooling
        self.devices: dict[str, Device] = {}  # the drivers, once built
        # Told of every change a face shows (a command, a device's health, an alert).
        self.hub = StateHub()
        # Faces and helpers that run beside the engine for the daemon's life (the web app,
        # MQTT): (name, coroutine function given the daemon), started once the room runs.
        self.services: list[tuple[str, Hook]] = [("tracks", watch_tracks)]
        self.ready = asyncio.Event()
        # Faces that must be serving before the daemon counts as ready (systemd's READY=1):
        # a face adds its event when it is registered and sets it once it listens.
        self.serving: dict[str, asyncio.Event] = {}
        # The safe light with no session; this boot's id (a different one: a power cut).
        self.safe = SafeLight(lib.room)
        self.boot_id = current_boot_id(boot_id_file)
        self._recorded = asyncio.Event()

    @property
    def store_path(self) -> Path:
        return store_path(Path(self.lib.config_file), self.lib.room.storage.path)

    async def run(self, stop: asyncio.Event, on_ready: Hook | None = None) -> None:
        room = self.lib.room
        with DaemonLock(self.store_path):
            self.store, self.read_only = open_store(self.store_path, self.clock)
            try:
                await self._start_bus()
                self.devices = devices = build_devices(room, self.bus, self.clock)
                self.session = session = SessionControl(self.lib, self.store, self.clock)
                session.refresh()
                if session.events:  # never before the session's own past
                    self.clock.not_before(max(e.at for e in session.events))
                players = {k: d for k, d in devices.items() if isinstance(d, Player)}
                remember_tracks(session, players)  # what already plays is left alone
                self._safe_start(session)
                self.engine = Engine(
                    devices,
                    session.desired,
                    self.clock,
                    self.settings,
                    on_external_change=session.adopt_manual_change,
                    urgent=session.urgent,
                )
                session.shown = self._shown
                session.listeners += [self.engine.wake, self._recorded.set, self.hub.changed]
                # a relay thermostat's room sensor first: it tells the room's temperature
                relay = {d.id for d in room.devices if d.driver == "relay_thermostat"}
                thermostats = sorted(
                    (d for d in devices.values() if isinstance(d, Thermostat)),
                    key=lambda d: d.device_id not in relay,
                )
                if thermostats:
                    band, every = room.safety.temperature_c, self.climate_check_s
                    self.climate = ClimateWatch(
                        thermostats,
                        band,
                        self.clock,
                        interval_s=every,
                        clear_after_s=room.heat.clear_after_s,
                    )
                    self.climate.listeners.append(self._climate_changed)
                    self.heat = HeatResponse(session, self.climate)
                    self.climate.heat_alert_c = self.heat.heat_alert_c
                self.server = CommandServer(session, socket_paths(self.store_path), self._changed)
                await self.server.start()
                log.info(
                    "room %s: %d devices, %s",
                    room.room.id,
                    len(devices),
                    f"following session {session.session.id}"
                    if session.session
                    else "no session running",
                )
                await self._serve(stop, on_ready)
            finally:
                if self.server is not None:
                    await self.server.close()
                if self.bus is not None:
                    await self.bus.close()
                self.store.close()
                log.info("room %s: stopped", room.room.id)

    async def _start_bus(self) -> None:
        room = self.lib.room
        if room.mqtt is None:
            return
        topic = f"{room.mqtt.base_topic}/{room.room.id}/availability"
        self.bus = MqttBus(
            room.mqtt,
            f"roomctl-{room.room.id}",
            (topic, "offline"),
            birth=(topic, "online"),
            clock=self.clock,
        )
        await self.bus.start(required=False)

    def state(self) -> RoomState:
        """The room as the faces show it, now."""
        assert self.session is not None and self.engine is not None
        climate = self.climate
        alerts = climate.alerts if climate is not None else ()
        temperature = climate.temperature_c if climate is not None else None
        return room_state(self.session, self.engine.health(), alerts, self.read_only, temperature)

    def _climate_changed(self, raised: list[ClimateAlert], cleared: list[ClimateAlert]) -> None:
        del raised, cleared
        if self.session is not None and self.climate is not None:
            self.session.alerts = [f"{a.device_id}: {a.message()}" for a in self.climate.alerts]
        self.hub.changed()

    def _shown(self) -> dict[str, DeviceState | None]:
        if self.engine is None:
            return {}
        return {dev_id: h.landed for dev_id, h in self.engine.health().items()}

    def _changed(self) -> None:
        if self.engine is not None:
            self.engine.wake()
        self.hub.changed()

    async def _serve(self, stop: asyncio.Event, on_ready: Hook | None) -> None:
        assert self.engine is not None
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(self.engine.run(), name="engine"),
                tg.create_task(self._follow_store(), name="store-poll"),
                tg.create_task(self._record(), name="record"),
                tg.create_task(self._tick(), name="state-tick"),
            ]
            if self.climate is not None:
                tasks.append(tg.create_task(self.climate.run(), name="climate-watch"))
            if self.heat is not None:
                tasks.append(tg.create_task(self.heat.run(self.hub), name="heat-response"))
            tasks += [tg.create_task(run(self), name=name) for name, run in self.services]
            if on_ready is not None:
                tasks.append(tg.create_task(on_ready(self), name="on-ready"))
            # Everything built so far (libraries, config, app) lives as long as the daemon:
            # kept out of the collector's full passes, which otherwise stall the loop for
            # tens of milliseconds each time they scan it.  The command line starts with the
            # collector off (roomctl.cli.handoff): from here on it runs.
            gc.freeze()
            gc.enable()
            self.ready.set()
            try:
                await stop.wait()
                await self._safe_stop()
            finally:
                gc.unfreeze()
            for task in tasks:
                task.cancel()

    def _safe_start(self, session: SessionControl) -> None:
        """No session: the lights go to the safe level.  A session after a reboot: its music
        is paused until a facilitator resumes it."""
        session.at_rest = self.safe.desired
        marker = Path(f"{self.store_path}.boot")
        rebooted = rebooted_since(marker, self.boot_id) if not self.read_only else False
        if session.session is None:
            if self.lib.room.safety.idle.on_start:
                self.safe.begin(self.clock.now())
        elif rebooted:
            after_power_cut(session)

    async def _safe_stop(self) -> None:
        """Stopping with no session (and no emergency): send the safe light before the engine
        stops; each light then fades there by itself."""
        session, engine = self.session, self.engine
        if session is None or engine is None or not self.lib.room.safety.idle.on_stop:
            return
        now = self.clock.now()
        if session.session is not None or session.room_emergency.active(now):
            return  # a session's room is never dark; an emergency (or its fade back) stays
        self.safe.begin(now)
        engine.wake()
        for _ in range(round(SAFE_STOP_S / SAFE_POLL_S)):  # real time: the stop is real
            if self.safe.reached(self._connected_shown()):
                return
            await asyncio.sleep(SAFE_POLL_S)
        log.warning("stopping: not every light confirmed the safe level")

    def _connected_shown(self) -> dict[str, DeviceState | None]:
        """What the reachable devices show (unreachable ones cannot be waited for)."""
        assert self.engine is not None
        health = self.engine.health()
        return {k: h.landed for k, h in health.items() if h.connected}

    async def _tick(self) -> None:
        """While a session runs the room moves every second (fades, the clock, device health):
        tell the faces."""
        assert self.session is not None
        while True:
            await self.clock.sleep(STATE_TICK_S)
            if self.session.session is not None or self.session.emergency_on:
                self.hub.changed()

    async def _follow_store(self) -> None:
        """Pick up commands written by other processes (the CLI) and wake the engine.  The
        CLI also tells the daemon over the command socket, so this is the fallback."""
        assert self.session is not None and self.engine is not None
        while True:
            await self.clock.sleep(self.poll_s)
            try:
                changed = self.session.refresh()
            except Exception:  # a failing poll is logged; the session keeps running
                log.exception("reading the session store failed")
                continue
            if changed:
                self.engine.wake()
                self.hub.changed()

    async def _record(self) -> None:
        """Store what was acted on but could not be recorded (a full or read-only disk), until
        it is stored: retried with backoff, at least every `record_retry_s` × 30."""
        assert self.session is not None
        backoff = Backoff(self.record_retry_s, self.record_retry_s * 30)
        while True:
            if not self.session.pending:
                backoff.reset()
                self._recorded.clear()
                await self._recorded.wait()
                continue
            await self.clock.sleep(backoff.next_delay())
            try:
                self.session.flush()
            except Exception:  # never let recording take the room down
                log.exception("recording the emergency failed")

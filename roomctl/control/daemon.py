"""The daemon: store → MQTT → drivers → engine, stopped in reverse.

`Daemon.run()` runs until `stop` is set (SIGTERM/SIGINT in `roomctl run`).  Unreachable devices
are not fatal (the engine retries them); a bad config or an unreachable broker is one readable
error raised before anything else starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from roomctl.clock import Clock
from roomctl.control.session import SessionControl
from roomctl.devices.factory import build_devices
from roomctl.engine.reconciler import Engine, EngineSettings
from roomctl.model.library import Library
from roomctl.mqtt.bus import MqttBus
from roomctl.store.store import Store

__all__ = ["Daemon"]

log = logging.getLogger("roomctl.control.daemon")
Hook = Callable[["Daemon"], Coroutine[Any, Any, None]]


class Daemon:
    def __init__(
        self,
        lib: Library,
        clock: Clock,
        *,
        settings: EngineSettings | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.lib = lib
        self.clock = clock
        safety, engine = lib.room.safety, lib.room.engine
        self.settings = settings or EngineSettings(
            max_volume_rise_per_10s=safety.max_volume_rise_per_10s,
            readback_s=engine.readback_s,
            adopt_manual_changes=engine.adopt_manual_changes,
            catch_up_s=engine.catch_up_s,
        )
        self.poll_s = poll_s
        self.store: Store | None = None
        self.bus: MqttBus | None = None
        self.session: SessionControl | None = None
        self.engine: Engine | None = None
        self.ready = asyncio.Event()

    def _store_path(self) -> Path:
        path = Path(self.lib.room.storage.path)
        if not path.is_absolute():
            path = Path(self.lib.config_file).resolve().parent / path
        return path

    async def run(self, stop: asyncio.Event, on_ready: Hook | None = None) -> None:
        room = self.lib.room
        self.store = Store.open(self._store_path(), self.clock)
        try:
            if room.mqtt is not None:
                topic = f"{room.mqtt.base_topic}/{room.room.id}/availability"
                self.bus = MqttBus(
                    room.mqtt,
                    f"roomctl-{room.room.id}",
                    (topic, "offline"),
                    birth=(topic, "online"),
                    clock=self.clock,
                )
                await self.bus.start()
            devices = build_devices(room, self.bus, self.clock)
            self.session = SessionControl(self.lib, self.store, self.clock)
            self.session.refresh()
            self.engine = Engine(
                devices,
                self.session.desired,
                self.clock,
                self.settings,
                on_external_change=self.session.adopt_manual_change,
                urgent=self.session.urgent,
            )
            self.session.listeners.append(self.engine.wake)
            log.info(
                "room %s: %d devices, %s",
                room.room.id,
                len(devices),
                f"following session {self.session.session.id}"
                if self.session.session
                else "no session running",
            )
            await self._serve(stop, on_ready)
        finally:
            if self.bus is not None:
                await self.bus.close()
            self.store.close()
            log.info("room %s: stopped", room.room.id)

    async def _serve(self, stop: asyncio.Event, on_ready: Hook | None) -> None:
        assert self.engine is not None
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(self.engine.run(), name="engine"),
                tg.create_task(self._follow_store(), name="store-poll"),
            ]
            if on_ready is not None:
                tasks.append(tg.create_task(on_ready(self), name="on-ready"))
            self.ready.set()
            await stop.wait()
            for task in tasks:
                task.cancel()

    async def _follow_store(self) -> None:
        """Pick up commands written by other processes (the CLI) and wake the engine."""
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

"""An engine over real drivers and emulators on a ParkedClock, its desired state steered by the
test (the engine tests that go through SoCo and python-kasa use it)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from roomctl.devices.base import Device
from roomctl.engine.reconciler import Engine, EngineSettings
from roomctl.model.state import DeviceState
from tests.doubles import ParkedClock


class Room:
    """An engine over some devices, its desired state steered by the test."""

    def __init__(
        self, clock: ParkedClock, devices: Mapping[str, Device], **settings: float
    ) -> None:
        self.clock = clock
        self.target: dict[str, DeviceState] = {}
        self.manual: list[tuple[str, DeviceState]] = []
        self.engine = Engine(
            devices,
            lambda t: dict(self.target),
            clock,
            EngineSettings(**settings),  # type: ignore[arg-type]
            on_external_change=lambda dev, before, shown: self.manual.append((dev, shown)),
        )
        self.workers = len(devices)
        self._task: asyncio.Task[None] | None = None

    def want(self, dev_id: str, state: DeviceState) -> None:
        self.target[dev_id] = state
        self.engine.wake()

    async def run(self, seconds: float) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.engine.run())
        await self.clock.run(seconds, self.workers)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self._task


def new_room(
    rooms: list[Room], clock: ParkedClock, devices: Mapping[str, Device], **s: float
) -> Room:
    room = Room(clock, devices, **s)
    rooms.append(room)
    return room

"""Small working devices for engine tests: they keep state, count commands and check that the
engine used them correctly (started before use, never two commands at once)."""

from __future__ import annotations

import asyncio

from roomctl.clock import Clock
from roomctl.devices.base import Light, Player
from roomctl.errors import DeviceRejected, DeviceUnreachable
from roomctl.model.scene import Source
from roomctl.model.state import LightState, PlayerReading


class MemoryLight(Light):
    def __init__(self, device_id: str, clock: Clock, *, latency_s: float = 0.0) -> None:
        super().__init__(device_id)
        self.clock = clock
        self.latency_s = latency_s
        self.started = False
        self.state = LightState(on=False)
        self.commands: list[tuple[float, LightState, float]] = []
        self.down = False  # unreachable: commands fail before landing
        self.lose_answers = False  # the command lands but the answer is lost
        self.reject = False
        self._busy = False

    @property
    def supports_color_temp(self) -> bool:
        return True

    @property
    def supports_hue(self) -> bool:
        return True

    async def start(self) -> None:
        if self.down:
            raise DeviceUnreachable(self.device_id, "connect", "no answer")
        self.started = True

    async def close(self) -> None:
        self.started = False

    async def set_light(self, state: LightState, transition_s: float) -> None:
        assert self.started, "set_light before start"
        assert not self._busy, "two commands at once on one device"
        self._busy = True
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            if self.down:
                raise DeviceUnreachable(self.device_id, "set_light", "timed out")
            if self.reject:
                raise DeviceRejected(self.device_id, "set_light", "error code -3")
            self.state = state
            self.commands.append((self.clock.now(), state, transition_s))
            if self.lose_answers:
                raise DeviceUnreachable(self.device_id, "set_light", "connection dropped")
        finally:
            self._busy = False

    async def read_light(self) -> LightState:
        assert self.started, "read_light before start"
        if self.down:
            raise DeviceUnreachable(self.device_id, "read", "no answer")
        return self.state


class MemoryPlayer(Player):
    def __init__(self, device_id: str, clock: Clock) -> None:
        super().__init__(device_id)
        self.clock = clock
        self.started = False
        self.volume = 0
        self.source: Source | None = None
        self.playing = False
        self.volumes: list[tuple[float, int]] = []

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.started = False

    async def play(self, source: Source) -> None:
        assert self.started
        self.source, self.playing = source, True

    async def pause(self) -> None:
        assert self.started
        self.playing = False

    async def set_volume(self, volume: int) -> None:
        assert self.started
        assert 0 <= volume <= 100
        self.volume = volume
        self.volumes.append((self.clock.now(), volume))

    async def read_player(self) -> PlayerReading:
        return PlayerReading(volume=self.volume, transport="playing" if self.playing else "paused")

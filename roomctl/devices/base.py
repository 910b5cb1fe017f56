"""Capability interfaces the engine talks to.  Drivers are thin adapters behind them.

Rules every driver keeps:
- library types and exceptions never leave the driver: failures are raised as
  ``DeviceUnreachable`` (no answer: timeout, refused, dropped, broker offline; the engine retries)
  or ``DeviceRejected`` (the device answered with an error), naming the device and the operation;
- nothing blocks the event loop (SoCo runs in a thread);
- ``start()`` connects once and keeps one long-lived connection/object per physical device;
  ``close()`` never raises.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Literal

from roomctl.model.config import DeviceKind
from roomctl.model.scene import Source
from roomctl.model.state import LightState, PlayerReading, ThermostatReading, TrackInfo

__all__ = ["Device", "Light", "Player", "Switch", "Thermostat"]


def _nothing() -> None:
    return None


class Device(ABC):
    """Lifecycle shared by every driver."""

    kind: DeviceKind

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        # Set by the engine; a driver calls it when it hears unasked that the device is online
        # (a Zigbee2MQTT availability message, also the retained one after the bus reconnects),
        # so a device that had failed is looked at now, not when its backoff or health check
        # comes round.
        self.back_online: Callable[[], None] = _nothing

    @abstractmethod
    async def start(self) -> None:
        """Connect.  Raises DeviceUnreachable when the device cannot be reached (retried later)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections.  Never raises."""

    def describe(self) -> str:
        """One line for logs and `roomctl apply`: driver and address."""
        return self.device_id


class Light(Device):
    kind = DeviceKind.LIGHT

    @property
    @abstractmethod
    def supports_color_temp(self) -> bool: ...

    @property
    @abstractmethod
    def supports_hue(self) -> bool: ...

    @property
    def native_transitions(self) -> bool:
        """True when the device fades by itself over `transition_s`."""
        return True

    @property
    def color_temp_range_k(self) -> tuple[int, int] | None:
        """The colour temperatures the light can show (None: unknown or none)."""
        return None

    @property
    def brightness_levels(self) -> int:
        """How many brightness levels the device has between off and full (Kasa: 100)."""
        return 100

    @abstractmethod
    async def set_light(self, state: LightState, transition_s: float) -> None:
        """Show `state`, fading natively over `transition_s` seconds where the device can."""

    @abstractmethod
    async def read_light(self) -> LightState:
        """What the light shows now (read from the device, not a cache)."""


class Switch(Device):
    kind = DeviceKind.SWITCH

    @abstractmethod
    async def set_on(self, on: bool) -> None: ...

    @abstractmethod
    async def read_on(self) -> bool: ...


class Player(Device):
    kind = DeviceKind.PLAYER

    @abstractmethod
    async def play(self, source: Source) -> None:
        """Start `source` on the group coordinator.  `silence` pauses."""

    @abstractmethod
    async def pause(self) -> None: ...

    @abstractmethod
    async def set_volume(self, volume: int) -> None:
        """Set the volume at once (0..100); roomctl steps fades itself."""

    @abstractmethod
    async def read_player(self) -> PlayerReading: ...

    async def read_volume(self) -> tuple[int, int | None]:
        """(the volume, the loudest member's when a group's members differ).  A driver may read
        less than `read_player` does (no transport, no track)."""
        reading = await self.read_player()
        return reading.volume, reading.loudest

    async def change_volume(self, steps: int) -> tuple[int, int | None]:
        """Move the volume by `steps` from what the speaker shows *now* (every member of a
        group); returns what it shows after, as `read_volume` does.  A rise made this way is
        counted from the speaker's own volume, however it was changed meanwhile.  The default
        reads first (two round trips); a driver may do it in one."""
        volume, _ = await self.read_volume()
        level = max(0, min(100, volume + steps))
        await self.set_volume(level)
        return level, None

    def remember(self, source: Source, track_uris: Iterable[str]) -> None:
        """These tracks were heard playing `source` here (the session's record, after a
        restart): a driver may use it to leave that source alone when it already plays."""
        del source, track_uris

    async def now_playing(self) -> TrackInfo | None:
        """The track the speaker plays now; None when it is paused, stopped or plays nothing.
        A driver may read less than `read_player` does (no volumes)."""
        reading = await self.read_player()
        return reading.track if reading.transport == "playing" else None


class Thermostat(Device):
    kind = DeviceKind.THERMOSTAT

    @property
    def setpoint_step_c(self) -> float:
        """The resolution of the device's setpoint."""
        return 0.1

    @abstractmethod
    async def set_setpoint(self, setpoint_c: float) -> None: ...

    async def set_mode(self, mode: Literal["off", "heat"]) -> None:
        """Turn heating off or on; devices without modes ignore it."""
        del mode

    @abstractmethod
    async def read_thermostat(self) -> ThermostatReading: ...

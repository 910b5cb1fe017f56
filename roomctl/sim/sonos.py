"""A loopback emulator of Sonos speakers that unmodified SoCo talks to over HTTP/UPnP SOAP.

    speaker = SonosEmulator("127.0.0.2", room_name="Session Room")
    await speaker.start()            # speaker.address == "127.0.0.2:<port>"
    ...                              # SoCo("127.0.0.2", port=speaker.port) works against it
    await speaker.stop()

Two speakers on different addresses make a group with ``SonosGroup(coordinator, member)``;
the topology gives each member's real ip:port, so SoCo finds the coordinator.  Tests read the
state (`volume`, `transport_state`, `current_track`, `queue`, ...), count the actions received
(`log`, `count`) and inject faults at run time (`latency_s`, `fail_next`, `fail_action`,
`silent`, `go_offline`/`come_online`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from roomctl.clock import Clock, SystemClock
from roomctl.sim.service import Emulated
from roomctl.sim.sonos_didl import (
    DEFAULT_FAVORITES,
    DEFAULT_PLAYLISTS,
    MediaLibrary,
    SimFavorite,
    SimPlaylist,
    SimTrack,
)
from roomctl.sim.sonos_server import ActionRecord, UpnpServer
from roomctl.sim.sonos_speaker import Speaker, new_identity
from roomctl.sim.sonos_state import TransportState

__all__ = [
    "DEFAULT_FAVORITES",
    "DEFAULT_PLAYLISTS",
    "ActionRecord",
    "SimFavorite",
    "SimPlaylist",
    "SimTrack",
    "SonosEmulator",
    "SonosGroup",
]

_LOG = logging.getLogger(__name__)


class SonosEmulator(Emulated):
    """One emulated speaker.  Its state is readable and its faults settable while it runs.

    `clock` drives playback position, volume ramps and injected latency (default: the system
    clock; with a VirtualClock, `advance` it to move music on, and leave latency at 0).
    `transition_s` keeps the transport TRANSITIONING that long after Play.  `speaker` is the
    device model behind the network (identity, library, transport).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        room_name: str = "Session Room",
        favorites: Sequence[SimFavorite] = DEFAULT_FAVORITES,
        playlists: Sequence[SimPlaylist] = DEFAULT_PLAYLISTS,
        volume: int = 20,
        clock: Clock | None = None,
        transition_s: float = 0.0,
    ) -> None:
        clock = clock or SystemClock()
        library = MediaLibrary(tuple(favorites), tuple(playlists))
        self.speaker = Speaker(
            new_identity(room_name),
            host,
            library=library,
            clock=clock,
            volume=volume,
            transition_s=transition_s,
        )
        self.speaker.port = port
        self._server = UpnpServer(room_name, host, port, clock, self.speaker)

    # --- lifecycle and address -----------------------------------------------------------

    async def start(self) -> None:
        await self._server.start()
        self.speaker.port = self._server.port
        _LOG.info("Sonos emulator %r (%s) at %s", self.room_name, self.uid, self.address)

    async def stop(self) -> None:
        await self._server.stop()

    async def go_offline(self) -> None:
        """Vanish: refuse connections and drop open ones.  State is kept."""
        await self._server.stop()
        _LOG.info("Sonos emulator %r: offline", self.room_name)

    async def come_online(self) -> None:
        """Come back on the same address and port."""
        await self._server.start()
        _LOG.info("Sonos emulator %r: back online at %s", self.room_name, self.address)

    @property
    def host(self) -> str:
        return self.speaker.host

    @property
    def port(self) -> int:
        """The TCP port (the real one once started with port=0)."""
        return self._server.port

    @property
    def address(self) -> str:
        """``host:port``, as a SonosDeviceConfig's host."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server.running

    @property
    def uid(self) -> str:
        return self.speaker.uid

    @property
    def room_name(self) -> str:
        return self.speaker.room_name

    @property
    def household_id(self) -> str:
        return self.speaker.household.id

    # --- group ---------------------------------------------------------------------------

    @property
    def is_coordinator(self) -> bool:
        return self.speaker.is_coordinator

    @property
    def coordinator_uid(self) -> str:
        return self.speaker.coordinator.uid

    def join(self, coordinator: SonosEmulator) -> None:
        """Join `coordinator`'s household and group (what SoCo's join() asks a speaker)."""
        self.speaker.join(coordinator.speaker)

    def leave(self) -> None:
        """Become a standalone group again."""
        self.speaker.leave()

    # --- state for tests -----------------------------------------------------------------

    @property
    def volume(self) -> int:
        return self.speaker.volume

    @volume.setter
    def volume(self, level: int) -> None:
        self.speaker.set_volume(level)

    @property
    def muted(self) -> bool:
        return self.speaker.muted

    @property
    def transport_state(self) -> TransportState:
        """What the group plays: PLAYING, PAUSED_PLAYBACK, STOPPED or TRANSITIONING."""
        return self.speaker.transport_state

    @property
    def current_uri(self) -> str:
        """The group's AVTransport URI (a queue is ``x-rincon-queue:<uid>#0``)."""
        return self.speaker.coordinator.transport.uri

    @property
    def current_track(self) -> SimTrack | None:
        return self.speaker.coordinator.transport.current_track

    @property
    def current_title(self) -> str:
        track = self.current_track
        return "" if track is None else track.title

    @property
    def position_s(self) -> float:
        return self.speaker.coordinator.transport.position_s

    @property
    def queue(self) -> tuple[SimTrack, ...]:
        """This speaker's own queue."""
        return tuple(self.speaker.transport.queue)

    @property
    def play_mode(self) -> str:
        return self.speaker.transport.play_mode

    # --- action log and faults -----------------------------------------------------------

    @property
    def log(self) -> list[ActionRecord]:
        """Every SOAP action received, oldest first."""
        return self._server.log

    def count(self, action: str | None = None) -> int:
        """How many SOAP actions (named `action`, or all) were received."""
        return sum(1 for r in self._server.log if action is None or r.action == action)

    @property
    def volume_sets(self) -> list[tuple[float, int]]:
        """(clock.monotonic(), volume) after each SetVolume or SetRelativeVolume received: what a
        client made the speaker show, oldest first (not changes made with the `volume` setter)."""
        return self.speaker.volume_sets

    @property
    def requests(self) -> list[str]:
        """Every HTTP request answered, oldest first: "GET <path>" (device and service
        descriptions) or a SOAP action's name; the round trips a client made."""
        return self._server.requests

    def fault_codes(self, action: str) -> list[int]:
        """The UPnP error codes `action` was answered with, oldest first."""
        return [r.fault_code for r in self._server.log if r.action == action and r.fault_code]

    def clear_log(self) -> None:
        self._server.log.clear()
        self._server.requests.clear()
        self.speaker.volume_sets.clear()

    @property
    def latency_s(self) -> float:
        """Delay before every reply (HTTP GETs too)."""
        return self._server.faults.latency_s

    @latency_s.setter
    def latency_s(self, seconds: float) -> None:
        self._server.faults.latency_s = seconds

    def fail_next(self, count: int = 1, code: int = 701) -> None:
        """Answer the next `count` SOAP calls with UPnP error `code` (HTTP 500)."""
        self._server.faults.fail_next(count, code)

    def fail_action(self, action: str, code: int = 701, count: int | None = None) -> None:
        """Answer `action` with UPnP error `code`, `count` times (None: until cleared)."""
        self._server.faults.fail_action(action, code, count)

    @property
    def silent(self) -> bool:
        return self._server.faults.silent

    @silent.setter
    def silent(self, silent: bool) -> None:
        """Read requests but never answer; setting it back drops the held connections."""
        self._server.faults.set_silent(silent)

    def clear_faults(self) -> None:
        self._server.faults.clear()


class SonosGroup(Emulated):
    """A coordinator and its members, started and stopped together."""

    def __init__(self, coordinator: SonosEmulator, *members: SonosEmulator) -> None:
        self.coordinator = coordinator
        self.members = members
        for member in members:
            member.join(coordinator)

    @property
    def speakers(self) -> tuple[SonosEmulator, ...]:
        return (self.coordinator, *self.members)

    async def start(self) -> None:
        for speaker in self.speakers:
            await speaker.start()

    async def stop(self) -> None:
        for speaker in reversed(self.speakers):
            await speaker.stop()

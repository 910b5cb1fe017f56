"""The device model of an emulated Sonos speaker: identity, volume, transport, group membership,
and one handler per UPnP action.  No networking here: `UpnpServer` calls `http_get` and
`soap_call`, and `SonosEmulator` wraps both for tests.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable

from roomctl.clock import Clock
from roomctl.sim.sonos_didl import DIDL_CLOSE, DIDL_OPEN, MediaLibrary, queue_item
from roomctl.sim.sonos_state import PLAY_MODES, Transport, TransportState, Volume
from roomctl.sim.sonos_xml import (
    SERVICES,
    DeviceIdentity,
    ServiceSpec,
    SoapCall,
    UpnpError,
    ZoneMember,
    device_description,
    scpd,
    zone_group_state,
)

__all__ = ["SonosHousehold", "Speaker", "new_identity"]

_MACS = itertools.count(secrets.randbelow(0xE00000))
_Args = dict[str, str]
_Handler = Callable[[_Args], _Args]
# Transport actions a group member refuses (SoCo never sends them to one: it checks first).
_COORDINATOR_ONLY = frozenset(
    {"Play", "Pause", "Stop", "Next", "Previous", "Seek", "AddURIToQueue"}
    | {"RemoveAllTracksFromQueue", "SetPlayMode", "SetCrossfadeMode"}
)


def new_identity(room_name: str) -> DeviceIdentity:
    """A fresh UID and serial number, unique in this process (SoCo caches per speaker)."""
    mac = next(_MACS) & 0xFFFFFF
    return DeviceIdentity(
        uid=f"RINCON_000E58{mac:06X}01400",
        room_name=room_name,
        serial=f"00-0E-58-{mac >> 16:02X}-{mac >> 8 & 0xFF:02X}-{mac & 0xFF:02X}:A",
    )


def _int_arg(args: _Args, name: str) -> int:
    try:
        return int(args[name])
    except ValueError as err:
        raise UpnpError(402, f"{name} must be an integer, got {args[name]!r}") from err


def _bool_arg(args: _Args, name: str) -> bool:
    return args[name].strip().lower() in ("1", "true", "yes")


def _no_result(change: Callable[[], None]) -> _Handler:
    def handler(_: _Args) -> _Args:
        change()
        return {}

    return handler


class SonosHousehold:
    """Speakers that see each other: one ZoneGroupState, one household id."""

    def __init__(self) -> None:
        self.id = f"Sonos_{secrets.token_hex(12)}"
        self.speakers: list[Speaker] = []

    def groups(self) -> list[list[Speaker]]:
        """Each group as [coordinator, *members]."""
        return [
            [c, *(s for s in self.speakers if s is not c and s.coordinator is c)]
            for c in self.speakers
            if c.is_coordinator
        ]

    def by_uid(self, uid: str) -> Speaker | None:
        return next((s for s in self.speakers if s.uid == uid), None)


class Speaker:
    """One speaker's state and its answers to every declared UPnP action."""

    def __init__(
        self,
        identity: DeviceIdentity,
        host: str,
        *,
        library: MediaLibrary,
        clock: Clock,
        volume: int,
        transition_s: float,
    ) -> None:
        self.identity = identity
        self.host = host
        self.port = 0
        self.library = library
        self._volume = Volume(clock, volume)
        self._clock = clock
        # (clock.monotonic(), level) after each SetVolume or SetRelativeVolume a client sent
        self.volume_sets: list[tuple[float, int]] = []
        self.muted = False
        self.transport = Transport(clock, library, f"x-rincon-queue:{identity.uid}", transition_s)
        self._coordinator: Speaker | None = None
        self._queue_updates = 0
        self.household = SonosHousehold()
        self.household.speakers.append(self)
        self._handlers = self._build_handlers()

    @property
    def uid(self) -> str:
        return self.identity.uid

    @property
    def room_name(self) -> str:
        return self.identity.room_name

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def volume(self) -> int:
        return self._volume.level

    def set_volume(self, level: float) -> int:
        return self._volume.set(level)

    # --- group ---------------------------------------------------------------------------

    @property
    def coordinator(self) -> Speaker:
        return self._coordinator or self

    @property
    def is_coordinator(self) -> bool:
        return self._coordinator is None

    @property
    def transport_state(self) -> TransportState:
        """What the group plays, as any member reports it."""
        return self.coordinator.transport.state

    def join(self, coordinator: Speaker) -> None:
        """Join `coordinator`'s household and group; this speaker's own members go standalone."""
        target = coordinator.coordinator
        if target is self:
            return
        for member in [s for s in self.household.speakers if s._coordinator is self]:
            member._coordinator = None
        if self.household is not target.household:
            self.household.speakers.remove(self)
            self.household = target.household
            self.household.speakers.append(self)
        self._coordinator = target

    def leave(self) -> None:
        self._coordinator = None

    # --- Router: documents and actions ---------------------------------------------------

    def http_get(self, path: str) -> str | None:
        if path == "/xml/device_description.xml":
            return device_description(self.identity, self.host)
        return next((scpd(s) for s in SERVICES if s.scpd_url == path), None)

    def soap_call(self, service: ServiceSpec, call: SoapCall) -> dict[str, str]:
        if call.action in _COORDINATOR_ONLY and not self.is_coordinator:
            raise UpnpError(800, f"{self.room_name} is a member of a group")
        return self._handlers[(service.name, call.action)](call.arguments)

    def _build_handlers(self) -> dict[tuple[str, str], _Handler]:
        handlers: dict[str, dict[str, _Handler]] = {
            "RenderingControl": self._rendering_handlers(),
            "GroupRenderingControl": self._group_handlers(),
            "AVTransport": self._transport_handlers(),
            "ContentDirectory": {"Browse": self._browse},
            "DeviceProperties": {
                "GetHouseholdID": lambda _: {"CurrentHouseholdID": self.household.id},
                "GetZoneAttributes": lambda _: {
                    "CurrentZoneName": self.room_name,
                    "CurrentIcon": "x-rincon-roomicon:living",
                    "CurrentConfiguration": "1",
                },
            },
            "ZoneGroupTopology": {
                "GetZoneGroupState": lambda _: {"ZoneGroupState": self._topology()},
                "GetZoneGroupAttributes": self._group_attributes,
            },
        }
        table = {
            (svc, name): fn for svc, actions in handlers.items() for name, fn in actions.items()
        }
        declared = {(s.name, a) for s in SERVICES for a in s.actions}
        if declared != set(table):
            raise RuntimeError(f"handlers do not match the services: {declared ^ set(table)}")
        return table

    # RenderingControl: this speaker's own volume and mute.

    def _rendering_handlers(self) -> dict[str, _Handler]:
        return {
            "GetVolume": lambda _: {"CurrentVolume": str(self.volume)},
            "SetVolume": self._set_volume,
            "GetMute": lambda _: {"CurrentMute": str(int(self.muted))},
            "SetMute": self._set_mute,
            "SetRelativeVolume": self._set_relative_volume,
            "RampToVolume": self._ramp_to_volume,
            "GetBass": lambda _: {"CurrentBass": "0"},
            "GetTreble": lambda _: {"CurrentTreble": "0"},
            "GetLoudness": lambda _: {"CurrentLoudness": "1"},
            "GetOutputFixed": lambda _: {"CurrentFixed": "0"},
        }

    def _set_volume(self, args: _Args) -> _Args:
        level = self._volume.set(_int_arg(args, "DesiredVolume"))
        self.volume_sets.append((self._clock.monotonic(), level))
        return {}

    def _set_mute(self, args: _Args) -> _Args:
        self.muted = _bool_arg(args, "DesiredMute")
        return {}

    def _set_relative_volume(self, args: _Args) -> _Args:
        level = self._volume.set(self.volume + _int_arg(args, "Adjustment"))
        self.volume_sets.append((self._clock.monotonic(), level))
        return {"NewVolume": str(level)}

    def _ramp_to_volume(self, args: _Args) -> _Args:
        seconds = self._volume.ramp(_int_arg(args, "DesiredVolume"), args["RampType"])
        return {"RampTime": str(seconds)}

    # GroupRenderingControl: the group's volume is the members' average, moved proportionally.

    def _group(self) -> list[Speaker]:
        leader = self.coordinator
        return [leader, *(s for s in self.household.speakers if s._coordinator is leader)]

    def _group_volume(self) -> int:
        members = self._group()
        return round(sum(m.volume for m in members) / len(members))

    def _scale_group_volume(self, target: int) -> int:
        target = max(0, min(100, target))
        current = self._group_volume()
        for member in self._group():
            member.set_volume(target if current == 0 else member.volume * target / current)
        return self._group_volume()

    def _group_handlers(self) -> dict[str, _Handler]:
        return {
            "GetGroupVolume": lambda _: {"CurrentVolume": str(self._group_volume())},
            "SetGroupVolume": self._set_group_volume,
            "SetRelativeGroupVolume": self._set_relative_group_volume,
            "GetGroupMute": lambda _: {"CurrentMute": str(int(self._group_muted()))},
            "SetGroupMute": self._set_group_mute,
            "SnapshotGroupVolume": lambda _: {},
        }

    def _set_group_volume(self, args: _Args) -> _Args:
        self._scale_group_volume(_int_arg(args, "DesiredVolume"))
        return {}

    def _set_relative_group_volume(self, args: _Args) -> _Args:
        level = self._scale_group_volume(self._group_volume() + _int_arg(args, "Adjustment"))
        return {"NewVolume": str(level)}

    def _group_muted(self) -> bool:
        return all(m.muted for m in self._group())

    def _set_group_mute(self, args: _Args) -> _Args:
        for member in self._group():
            member.muted = _bool_arg(args, "DesiredMute")
        return {}

    # AVTransport: the coordinator's transport; a member reports the group's.

    def _transport_handlers(self) -> dict[str, _Handler]:
        own = self.transport
        return {
            "SetAVTransportURI": self._set_uri,
            "Play": _no_result(own.play),
            "Pause": _no_result(own.pause),
            "Stop": _no_result(own.stop),
            "Next": _no_result(own.next),
            "Previous": _no_result(own.previous),
            "Seek": self._seek,
            "AddURIToQueue": self._enqueue,
            "RemoveAllTracksFromQueue": _no_result(self._clear_queue),
            "GetTransportInfo": lambda _: {
                "CurrentTransportState": self.transport_state,
                "CurrentTransportStatus": "OK",
                "CurrentSpeed": "1",
            },
            "GetPositionInfo": lambda _: self.coordinator.transport.position_info(),
            "GetMediaInfo": self._media_info,
            "GetTransportSettings": lambda _: {
                "PlayMode": own.play_mode,
                "RecQualityMode": "NOT_IMPLEMENTED",
            },
            "SetPlayMode": self._set_play_mode,
            "GetCrossfadeMode": lambda _: {"CrossfadeMode": str(int(own.crossfade))},
            "SetCrossfadeMode": self._set_crossfade,
            "GetCurrentTransportActions": lambda _: {
                "Actions": self.coordinator.transport.available_actions()
            },
            "BecomeCoordinatorOfStandaloneGroup": self._become_standalone,
        }

    def _seek(self, args: _Args) -> _Args:
        self.transport.seek(args["Unit"], args["Target"])
        return {}

    def _set_crossfade(self, args: _Args) -> _Args:
        self.transport.crossfade = _bool_arg(args, "CrossfadeMode")
        return {}

    def _set_uri(self, args: _Args) -> _Args:
        uri = args["CurrentURI"]
        if uri.startswith("x-rincon:"):
            coordinator = self.household.by_uid(uri.removeprefix("x-rincon:"))
            if coordinator is None:
                raise UpnpError(701, f"no speaker {uri} in this household")
            self.join(coordinator)
            return {}
        self.leave()
        self.transport.set_uri(uri, args["CurrentURIMetaData"])
        return {}

    def _enqueue(self, args: _Args) -> _Args:
        first, added = self.transport.enqueue(
            args["EnqueuedURI"],
            args["EnqueuedURIMetaData"],
            _int_arg(args, "DesiredFirstTrackNumberEnqueued"),
            _bool_arg(args, "EnqueueAsNext"),
        )
        self._queue_updates += 1
        return {
            "FirstTrackNumberEnqueued": str(first),
            "NumTracksAdded": str(added),
            "NewQueueLength": str(len(self.transport.queue)),
        }

    def _clear_queue(self) -> None:
        self.transport.clear_queue()
        self._queue_updates += 1

    def _media_info(self, _: _Args) -> _Args:
        info = self.transport.media_info()
        if not self.is_coordinator:
            info |= {"CurrentURI": f"x-rincon:{self.coordinator.uid}", "CurrentURIMetaData": ""}
        return info

    def _set_play_mode(self, args: _Args) -> _Args:
        mode = args["NewPlayMode"].upper()
        if mode not in PLAY_MODES:
            raise UpnpError(402, f"unknown play mode {mode}")
        self.transport.play_mode = mode
        return {}

    def _become_standalone(self, _: _Args) -> _Args:
        self.leave()
        return {"DelegatedGroupCoordinatorID": "", "NewGroupID": f"{self.uid}:1"}

    # ContentDirectory: favourites, playlists and the queue.

    def _browse(self, args: _Args) -> _Args:
        object_id, flag = args["ObjectID"], args["BrowseFlag"]
        if object_id == "Q:0":
            items = self._queue_items(metadata=flag == "BrowseMetadata")
        else:
            found = self.library.browse(object_id)
            if found is None:
                raise UpnpError(701, f"no such object {object_id}")
            items = found
        start, count = _int_arg(args, "StartingIndex"), _int_arg(args, "RequestedCount")
        page = items[start : start + count] if count > 0 else items[start:]
        return {
            "Result": DIDL_OPEN + "".join(page) + DIDL_CLOSE,
            "NumberReturned": str(len(page)),
            "TotalMatches": str(len(items)),
            "UpdateID": str(self._queue_updates if object_id == "Q:0" else 1),
        }

    def _queue_items(self, *, metadata: bool) -> list[str]:
        queue = self.transport.queue
        if metadata:
            return [
                f'<container id="Q:0" parentID="Q:" restricted="true" childCount="{len(queue)}">'
                "<dc:title>Queue</dc:title><upnp:class>object.container.playlistContainer"
                "</upnp:class></container>"
            ]
        return [queue_item(track, n) for n, track in enumerate(queue, start=1)]

    # ZoneGroupTopology

    def _topology(self) -> str:
        return zone_group_state(
            [(g[0].uid, [m.zone_member() for m in g]) for g in self.household.groups()]
        )

    def zone_member(self) -> ZoneMember:
        return ZoneMember(
            self.uid,
            self.room_name,
            f"http://{self.address}/xml/device_description.xml",
            self.identity.software_version,
        )

    def _group_attributes(self, _: _Args) -> _Args:
        group = self._group()
        return {
            "CurrentZoneGroupName": self.coordinator.room_name,
            "CurrentZoneGroupID": f"{self.coordinator.uid}:1",
            "CurrentZonePlayerUUIDsInGroup": ",".join(m.uid for m in group),
        }

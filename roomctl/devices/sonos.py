"""Sonos speakers, through SoCo.

SoCo blocks (``requests``; even property reads go to the network) and promises no thread
safety, so every call runs in a thread under ONE ``asyncio.Lock`` per speaker: steps stay in
order, the event loop never blocks.  An operation (one public method) returns within
``timeout_s * _OPERATION_TIMEOUTS``; if the speaker is slower, the caller gets
``DeviceUnreachable`` and the lock stays held until the thread's HTTP call has given up, so no
later step overtakes it.

Round trips are few (a speaker answers each in tens of milliseconds, one after another):

- the favourites, the playlists and the group topology (coordinator, visible members) are
  remembered (devices/sonos_cache.py) and fetched again every `refresh_s` (5 minutes on the
  injected clock), when a name is missing, and the topology after an outage or when a speaker
  says it is no longer the coordinator (then the call is made once more);
- transport actions go straight to the coordinator's AVTransport service (SoCo's own
  ``play_uri``/``play_from_queue`` ask for the topology before each call, and seek): a queued
  source is RemoveAllTracksFromQueue, AddURIToQueue, SetAVTransportURI (the queue), Play (a
  cleared queue starts at its first track); a stream SetAVTransportURI, Play; a volume step
  one SetRelativeVolume per member (counted by the speaker from what it shows: no read first).

**What plays is left alone.**  The driver knows the source it started.  When it did not start
what the speaker plays (a daemon restart), ``play(source)`` first reads the coordinator's
transport and current track: a stream whose URI is the source's, or a track known to belong to
the source (``remember()``: the session's record of tracks; and every track read while the
source played) is that source.  Playing, it is left alone; paused or stopped on it, it is sent
Play alone, so the track goes on where it was.

Volume goes to every visible member of the configured speaker's group, each set to the same
level, so the cap, the rise limit and a cue's drop reach every member; the volume read back is
the quietest member's (a rise counted from it is never steeper for any member).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

import soco
from soco.data_structures import to_didl_string
from soco.exceptions import SoCoUPnPException

from roomctl.clock import Clock, SystemClock
from roomctl.devices.base import Player
from roomctl.devices.sonos_cache import REFRESH_S, Entry, Fresh, Topology, TrackMemory
from roomctl.devices.sonos_soco import (
    TRANSPORT,
    Speaker,
    UnknownNameError,
    moved,
    pick,
    register_timeout,
    track,
    translated,
)
from roomctl.errors import DeviceUnreachable
from roomctl.model.config import HostPort, SonosDeviceConfig
from roomctl.model.scene import Source
from roomctl.model.state import PlayerReading, TrackInfo

__all__ = ["SonosPlayer"]

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")

# One operation makes several HTTP requests (topology, browse, queue, play); each may take up
# to timeout_s, the whole operation up to this many times timeout_s.
_OPERATION_TIMEOUTS = 3
# Sources that Sonos plays as a stream (play by URI), not through the queue (Home Assistant's).
_STREAM_SOURCES = frozenset({"RADIO", "LINE_IN"})
_UPNP_TRANSITION_NOT_AVAILABLE = "701"
_ON = ("PLAYING", "TRANSITIONING")
_STREAM_TOPOLOGY_S = 5.0  # a stream is started on a topology at most this old (SoCo's own)
_RADIO_META = (
    '<DIDL-Lite xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" '
    'xmlns:r="urn:schemas-rinconnetworks-com:metadata-1-0/" '
    'xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/">'
    '<item id="R:0/0/0" parentID="R:0/0" restricted="true"><dc:title>{title}</dc:title>'
    "<upnp:class>object.item.audioItem.audioBroadcast</upnp:class>"
    '<desc id="cdudn" nameSpace="urn:schemas-rinconnetworks-com:metadata-1-0/">'
    "SA_RINCON65031_</desc></item></DIDL-Lite>"
)
Started = Literal["started", "resumed", "left"]


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _is_stream(uri: str) -> bool:
    return soco.SoCo.music_source_from_uri(uri) in _STREAM_SOURCES


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SonosPlayer(Player):
    """One Sonos speaker (or the speaker through which a group is reached)."""

    def __init__(
        self,
        config: SonosDeviceConfig,
        *,
        clock: Clock | None = None,
        refresh_s: float = REFRESH_S,
    ) -> None:
        super().__init__(config.id)
        self.config = config
        self._host = config.host.host
        self._port = config.host.port_or(1400)
        self._timeout_s = config.timeout_s
        self._budget_s = config.timeout_s * _OPERATION_TIMEOUTS
        self._lock = asyncio.Lock()
        self._speaker: Speaker | None = None
        now = (clock or SystemClock()).monotonic
        self._topology: Fresh[Topology] = Fresh(refresh_s, now)
        self._favorites: Fresh[list[Entry]] = Fresh(refresh_s, now)
        self._playlists: Fresh[list[Entry]] = Fresh(refresh_s, now)
        self._tracks = TrackMemory()
        self._playing: Source | None = None  # the source this driver started, while it plays
        register_timeout(self, config.timeout_s)

    def describe(self) -> str:
        return f"{self.device_id}: Sonos at {HostPort(self._host, self._port)}"

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        register_timeout(self, self._timeout_s)
        room, model = await self._call("connect", self._sync_start)
        _LOG.info("Sonos %s: %r (%s) at %s:%d", self.device_id, room, model, self._host, self._port)

    async def close(self) -> None:
        register_timeout(self, None)
        _LOG.debug("Sonos %s: closed", self.device_id)

    # --- Player ------------------------------------------------------------------------------

    async def play(self, source: Source) -> None:
        if source.is_silence:
            await self.pause()
            return
        done = await self._call(f"play {source}", lambda: self._sync_play(source))
        if done == "left":
            _LOG.info("Sonos %s: already playing %s; left alone", self.device_id, source)
        else:
            _LOG.info("Sonos %s: playing %s (%s)", self.device_id, source, done)

    async def pause(self) -> None:
        await self._call("pause", self._sync_pause)

    async def set_volume(self, volume: int) -> None:
        """Every member of the group to `volume` (0..100, as steps.quantize makes it)."""
        if not 0 <= volume <= 100:
            raise ValueError(f"{self.device_id}: volume {volume} is outside 0..100")
        await self._call(f"set volume {volume}", lambda: self._sync_set_volume(volume))
        _LOG.debug("Sonos %s: volume %d", self.device_id, volume)

    async def read_player(self) -> PlayerReading:
        return await self._call("read player", self._sync_read)

    async def read_volume(self) -> tuple[int, int | None]:
        """(the quietest member's volume, the loudest's when they differ): GetVolume only."""
        volumes = await self._call("read volume", self._sync_volumes)
        return min(volumes), (max(volumes) if max(volumes) != min(volumes) else None)

    async def change_volume(self, steps: int) -> tuple[int, int | None]:
        """SetRelativeVolume on every member: one round trip each, counted by the speaker from
        what it shows; returns (quietest, loudest when they differ) as they answered."""
        volumes = await self._call(
            f"change volume by {steps:+d}", lambda: self._sync_change_volume(steps)
        )
        return min(volumes), (max(volumes) if max(volumes) != min(volumes) else None)

    async def now_playing(self) -> TrackInfo | None:
        """What the group plays now (two requests to the coordinator; no volumes read)."""
        return await self._call("read the current track", self._sync_now_playing)

    def remember(self, source: Source, track_uris: Iterable[str]) -> None:
        self._tracks.add(str(source), track_uris)

    async def favorites(self) -> list[str]:
        """The titles of the household's Sonos favourites (for checking scenes), fetched now."""
        entries = await self._call("list favourites", lambda: self._sync_favorites(again=True))
        return [e.title for e in entries]

    async def playlists(self) -> list[str]:
        """The titles of the household's Sonos playlists (for checking scenes), fetched now."""
        entries = await self._call("list playlists", lambda: self._sync_playlists(again=True))
        return [e.title for e in entries]

    # --- the edge: one thread call at a time, bounded, translated ------------------------------

    async def _call(self, operation: str, work: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._budget_s
        try:
            async with asyncio.timeout_at(deadline):
                await self._lock.acquire()
        except TimeoutError as err:
            reason = "an earlier call is still waiting for the speaker"
            raise DeviceUnreachable(self.device_id, operation, reason) from err
        job = asyncio.ensure_future(asyncio.to_thread(self._guarded, operation, work))
        job.add_done_callback(functools.partial(self._job_done, operation))
        try:
            async with asyncio.timeout_at(deadline):
                return await asyncio.shield(job)
        except TimeoutError as err:
            self._lost()
            reason = f"no answer within {self._budget_s:g} s"
            raise DeviceUnreachable(self.device_id, operation, reason) from err

    def _guarded(self, operation: str, work: Callable[[], _T]) -> _T:
        try:
            with translated(self.device_id, operation):
                return work()
        except DeviceUnreachable:
            self._lost()
            raise

    def _lost(self) -> None:
        """No answer: the group may have changed, and what plays is not known any more."""
        self._topology.forget()
        self._playing = None

    def _job_done(self, operation: str, job: asyncio.Future[Any]) -> None:
        self._lock.release()
        if not job.cancelled() and job.exception() is not None:
            _LOG.debug("Sonos %s: %s ended: %s", self.device_id, operation, job.exception())

    # --- SoCo calls (run in a thread) --------------------------------------------------------

    def _sync_speaker(self) -> Speaker:
        if self._speaker is None:
            address = self._host if _is_ipv4(self._host) else socket.gethostbyname(self._host)
            self._speaker = soco.SoCo(address, port=self._port)
        return self._speaker

    def _sync_group(self, *, again: bool = False) -> Topology:
        return self._topology.get(self._fetch_topology, again=again)

    def _fetch_topology(self, *, clear: bool = True) -> Topology:
        speaker = self._sync_speaker()
        if clear:  # past SoCo's own 5 s cache: ask the speaker
            speaker.zone_group_state.clear_cache()
        group = speaker.group
        coordinator: Speaker = speaker if group is None else (group.coordinator or speaker)
        members: list[Speaker] = [] if group is None else list(group.members)
        shown = speaker.visible_zones  # from the same topology: no request to each member
        visible = sorted((m for m in members if m in shown), key=lambda m: m.uid)
        return Topology(coordinator, tuple(visible) or (speaker,))

    def _on_coordinator(self, act: Callable[[Speaker], _T]) -> _T:
        """`act` on the group's coordinator; once more after a fresh look at the topology if the
        speaker says it is not the coordinator any more."""
        try:
            return act(self._sync_group().coordinator)
        except Exception as err:
            if not moved(err):
                raise
            _LOG.info("Sonos %s: the group changed; looking again", self.device_id)
            return act(self._sync_group(again=True).coordinator)

    def _sync_start(self) -> tuple[str, str]:
        info = self._sync_speaker().get_speaker_info(refresh=True, timeout=self._timeout_s)
        self._topology.get(lambda: self._fetch_topology(clear=False), again=True)
        return str(info.get("zone_name") or ""), str(info.get("model_name") or "")

    def _sync_favorites(self, *, again: bool = False) -> list[Entry]:
        def fetch() -> list[Entry]:
            library = self._sync_speaker().music_library
            favorites = library.get_sonos_favorites(complete_result=True)
            entries = []
            for fav in favorites:
                uri = str(fav.reference.get_uri())
                queued = None if _is_stream(uri) else fav.reference
                entries.append(Entry(str(fav.title), uri, queued))
            return entries

        return self._favorites.get(fetch, again=again)

    def _sync_playlists(self, *, again: bool = False) -> list[Entry]:
        def fetch() -> list[Entry]:
            playlists = self._sync_speaker().get_sonos_playlists(complete_result=True)
            return [Entry(str(p.title), str(p.get_uri()), p) for p in playlists]

        return self._playlists.get(fetch, again=again)

    def _entry(self, source: Source) -> Entry:
        """What `source` stands for; the list is fetched again once when the name is missing."""
        if source.kind == "uri":
            uri = source.name
            title = uri.rstrip("/").rpartition("/")[2] if _is_stream(uri) else ""
            return Entry(title, uri, None)
        kind, listing = (
            ("favourite", self._sync_favorites)
            if source.kind == "favorite"
            else ("playlist", self._sync_playlists)
        )
        entry = pick(source.name, listing(), lambda e: e.title)
        if entry is None:
            entries = listing(again=True)
            entry = pick(source.name, entries, lambda e: e.title)
            if entry is None:
                known = ", ".join(repr(e.title) for e in entries) or "none"
                raise UnknownNameError(
                    f"no Sonos {kind} named {source.name!r}; the {kind}s are: {known}"
                )
        return entry

    def _sync_play(self, source: Source) -> Started:
        entry = self._entry(source)
        known, self._playing = self._playing, None
        recognisable = entry.queued is None or self._tracks.has(str(source))
        if known is None and recognisable:  # not started by this driver: maybe it plays
            state, uri = self._on_coordinator(self._transport_and_track)
            if uri and (uri == entry.uri or self._tracks.knows(str(source), uri)):
                if state not in _ON:
                    self._on_coordinator(self._play)
                self._playing = source
                return "left" if state in _ON else "resumed"
        if entry.queued is None and self._topology.age() > _STREAM_TOPOLOGY_S:
            # SetAVTransportURI goes first and a group member that gets it leaves its group:
            # make sure of the coordinator (one request) unless the topology was just read.
            self._sync_group(again=True)
        self._on_coordinator(functools.partial(self._start, entry))
        self._playing = source
        return "started"

    def _transport_and_track(self, coordinator: Speaker) -> tuple[str, str]:
        state = coordinator.get_current_transport_info()["current_transport_state"]
        return state, str(coordinator.get_current_track_info().get("uri") or "")

    def _start(self, entry: Entry, coordinator: Speaker) -> None:
        av, instance = coordinator.avTransport, ("InstanceID", 0)
        if entry.queued is None:
            meta = _RADIO_META.format(title=_escape(entry.title)) if entry.title else ""
            av.SetAVTransportURI(
                [instance, ("CurrentURI", entry.uri), ("CurrentURIMetaData", meta)],
                timeout=self._timeout_s,
            )
        else:
            av.RemoveAllTracksFromQueue([instance], timeout=self._timeout_s)
            av.AddURIToQueue(
                [
                    instance,
                    ("EnqueuedURI", entry.uri),
                    ("EnqueuedURIMetaData", to_didl_string(entry.queued)),
                    ("DesiredFirstTrackNumberEnqueued", 0),
                    ("EnqueueAsNext", 0),
                ],
                timeout=self._timeout_s,
            )
            queue = f"x-rincon-queue:{coordinator.uid}#0"
            av.SetAVTransportURI(
                [instance, ("CurrentURI", queue), ("CurrentURIMetaData", "")],
                timeout=self._timeout_s,
            )
        self._play(coordinator)

    def _play(self, coordinator: Speaker) -> None:
        coordinator.avTransport.Play([("InstanceID", 0), ("Speed", 1)], timeout=self._timeout_s)

    def _sync_pause(self) -> None:
        self._playing = None
        self._on_coordinator(self._pause)

    def _pause(self, coordinator: Speaker) -> None:
        av = coordinator.avTransport
        try:
            av.Pause([("InstanceID", 0), ("Speed", 1)], timeout=self._timeout_s)
        except SoCoUPnPException as err:
            # Nothing plays, or a stream cannot pause (701): stopping is as silent.
            if str(err.error_code) != _UPNP_TRANSITION_NOT_AVAILABLE:
                raise
            av.Stop([("InstanceID", 0), ("Speed", 1)], timeout=self._timeout_s)

    def _sync_volumes(self) -> list[int]:
        return [int(member.volume) for member in self._sync_group().members]

    def _sync_set_volume(self, level: int) -> None:
        for member in self._sync_group().members:
            member.volume = level

    def _sync_change_volume(self, steps: int) -> list[int]:
        return [int(m.set_relative_volume(steps)) for m in self._sync_group().members]

    def _heard(self, info: TrackInfo | None) -> None:
        """A track read while this driver's source plays belongs to that source."""
        if info is not None and self._playing is not None:
            self._tracks.add(str(self._playing), [info.uri])

    def _sync_now_playing(self) -> TrackInfo | None:
        coordinator = self._sync_group().coordinator
        state = coordinator.get_current_transport_info()["current_transport_state"]
        if TRANSPORT.get(state) != "playing":
            return None
        info = track(coordinator.get_current_track_info())
        self._heard(info)
        return info

    def _sync_read(self) -> PlayerReading:
        volumes = self._sync_volumes()
        volume, loudest = min(volumes), max(volumes)
        coordinator = self._sync_group().coordinator
        state = coordinator.get_current_transport_info()["current_transport_state"]
        info = track(coordinator.get_current_track_info())
        if state in _ON:
            self._heard(info)
        return PlayerReading(
            volume=volume,
            transport=TRANSPORT.get(state, "stopped"),
            track=info,
            loudest=loudest if loudest != volume else None,
        )

"""Sonos speakers, through SoCo.

SoCo blocks (``requests``; even property reads go to the network) and promises no thread
safety, so every call runs in a thread under ONE ``asyncio.Lock`` per speaker: steps stay in
order, the event loop never blocks.  An operation (one public method) returns within
``timeout_s * _OPERATION_TIMEOUTS``; if the speaker is slower, the caller gets
``DeviceUnreachable`` and the lock stays held until the thread's HTTP call has given up, so no
later step overtakes it.

Transport (play, pause) goes to the group coordinator, found through SoCo's topology.  Volume
goes to every visible member of the configured speaker's group, each set to the same level, so
the cap, the rise limit and a cue's drop reach every member; the volume read back is the
quietest member's (a rise counted from it is never steeper for any member).

Every SoCo and ``requests`` exception is translated in :func:`_translated` into
``DeviceUnreachable`` (no answer) or ``DeviceRejected`` (an answer that says no), naming the
device and the operation.  No SoCo type leaves this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import socket
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, Protocol, TypeVar

import requests
import soco
from soco import config as soco_config
from soco.exceptions import SoCoException, SoCoSlaveException, SoCoUPnPException

from roomctl.devices.base import Player
from roomctl.errors import DeviceRejected, DeviceUnreachable, RoomctlError
from roomctl.model.config import HostPort, SonosDeviceConfig
from roomctl.model.scene import Source
from roomctl.model.state import PlayerReading, TrackInfo

__all__ = ["SonosPlayer"]

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")

# One operation makes several HTTP requests (topology, browse, queue, play); each may take up
# to timeout_s, the whole operation up to this many times timeout_s.
_OPERATION_TIMEOUTS = 3
# Sources that Sonos plays as a stream (play_uri), not through the queue (Home Assistant's rule).
_STREAM_SOURCES = frozenset({"RADIO", "LINE_IN"})
_TRANSPORT: dict[str, Literal["playing", "paused", "stopped", "transitioning"]] = {
    "PLAYING": "playing",
    "PAUSED_PLAYBACK": "paused",
    "STOPPED": "stopped",
    "TRANSITIONING": "transitioning",
}
_UPNP_TRANSITION_NOT_AVAILABLE = "701"


# --- the part of SoCo this driver uses (soco ships no type information) -----------------------


class _DidlItem(Protocol):
    title: str

    def get_uri(self, resource_nr: int = 0) -> str: ...


class _Favorite(_DidlItem, Protocol):
    @property
    def reference(self) -> _DidlItem: ...


class _Library(Protocol):
    def get_sonos_favorites(self, *, complete_result: bool) -> Iterable[_Favorite]: ...


class _Speaker(Protocol):
    music_library: _Library
    volume: int
    uid: str

    @property
    def is_visible(self) -> bool: ...

    @property
    def group(self) -> Any: ...  # soco.groups.ZoneGroup | None

    def get_speaker_info(self, refresh: bool, timeout: float) -> dict[str, str]: ...
    def get_sonos_playlists(self, *, complete_result: bool) -> Iterable[_DidlItem]: ...
    def get_current_transport_info(self) -> dict[str, str]: ...
    def get_current_track_info(self) -> dict[str, str]: ...
    def play_uri(self, uri: str, *, title: str, timeout: float) -> object: ...
    def clear_queue(self) -> None: ...
    def add_to_queue(self, item: _DidlItem, *, timeout: float) -> int: ...
    def play_from_queue(self, index: int) -> None: ...
    def pause(self) -> None: ...
    def stop(self) -> None: ...


# --- process-wide SoCo settings -----------------------------------------------------------------

# SoCo's default per-request timeout is process-wide; keep it at the largest timeout_s of the
# players alive, so calls that take no `timeout=` argument are bounded too.
_TIMEOUTS: weakref.WeakKeyDictionary[SonosPlayer, float] = weakref.WeakKeyDictionary()
_SOCO_DEFAULT_TIMEOUT = float(soco_config.REQUEST_TIMEOUT)


def _register_timeout(player: SonosPlayer, timeout_s: float | None) -> None:
    if timeout_s is None:
        _TIMEOUTS.pop(player, None)
    else:
        _TIMEOUTS[player] = timeout_s
    soco_config.REQUEST_TIMEOUT = max(_TIMEOUTS.values(), default=_SOCO_DEFAULT_TIMEOUT)
    # A failing GetZoneGroupState would otherwise make SoCo subscribe to events, which binds
    # port 1400 on this machine (Home Assistant turns it off too).
    soco_config.ZGT_EVENT_FALLBACK = False


# --- errors ------------------------------------------------------------------------------------


class _UnknownNameError(Exception):
    """A favourite or playlist the household does not have."""


@contextlib.contextmanager
def _translated(device_id: str, operation: str) -> Iterator[None]:
    """The one place SoCo and requests exceptions become roomctl errors."""
    try:
        yield
    except RoomctlError:
        raise
    except _UnknownNameError as err:
        raise DeviceRejected(device_id, operation, str(err)) from err
    except (requests.Timeout, requests.ConnectionError) as err:
        raise DeviceUnreachable(device_id, operation, f"no answer ({_first_line(err)})") from err
    except SoCoUPnPException as err:
        raise DeviceRejected(device_id, operation, _upnp_reason(err)) from err
    except SoCoSlaveException as err:
        reason = "the speaker is not the coordinator of its group"
        raise DeviceRejected(device_id, operation, reason) from err
    except requests.RequestException as err:
        raise DeviceRejected(device_id, operation, f"HTTP error: {_first_line(err)}") from err
    except OSError as err:
        raise DeviceUnreachable(device_id, operation, _first_line(err)) from err
    except SoCoException as err:
        # e.g. NotSupportedException raised from a UPnP error on GetZoneGroupState
        cause = err.__cause__
        reason = _upnp_reason(cause) if isinstance(cause, SoCoUPnPException) else _first_line(err)
        raise DeviceRejected(device_id, operation, reason) from err
    except (SyntaxError, ValueError, KeyError, IndexError) as err:
        reason = f"unexpected reply: {type(err).__name__}: {_first_line(err)}"
        raise DeviceRejected(device_id, operation, reason) from err


def _upnp_reason(err: Any) -> str:
    code, what = str(err.error_code), str(err.error_description or "")
    return f"UPnP error {code}" + (f" ({what})" if what else "")


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:200]


# --- readings ----------------------------------------------------------------------------------


def _seconds(hms: str) -> float | None:
    """'0:03:25' -> 205.0; '', 'NOT_IMPLEMENTED' and malformed times -> None."""
    parts = hms.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    hours, minutes, seconds = (int(p) for p in parts)
    return float(hours * 3600 + minutes * 60 + seconds)


def _track(info: dict[str, str]) -> TrackInfo | None:
    title, uri = info.get("title") or "", info.get("uri") or ""
    if not title and not uri:
        return None
    duration = _seconds(info.get("duration") or "")
    return TrackInfo(
        title=title,
        artist=info.get("artist") or "",
        album=info.get("album") or "",
        uri=uri,
        position_s=_seconds(info.get("position") or ""),
        duration_s=duration or None,  # streams report 0:00:00
    )


def _pick(kind: str, name: str, items: Iterable[_T], title: Callable[[_T], str]) -> _T:
    """The item titled `name` (exactly, else ignoring case); the error lists what there is."""
    listed = list(items)
    exact = [item for item in listed if title(item) == name]
    loose = [item for item in listed if title(item).casefold() == name.casefold()]
    if exact or loose:
        return (exact or loose)[0]
    known = ", ".join(repr(title(i)) for i in listed) or "none"
    raise _UnknownNameError(f"no Sonos {kind} named {name!r}; the {kind}s are: {known}")


# --- the driver --------------------------------------------------------------------------------


class SonosPlayer(Player):
    """One Sonos speaker (or the speaker through which a group is reached)."""

    def __init__(self, config: SonosDeviceConfig) -> None:
        super().__init__(config.id)
        self.config = config
        self._host = config.host.host
        self._port = config.host.port_or(1400)
        self._timeout_s = config.timeout_s
        self._budget_s = config.timeout_s * _OPERATION_TIMEOUTS
        self._lock = asyncio.Lock()
        self._speaker: _Speaker | None = None
        _register_timeout(self, config.timeout_s)

    def describe(self) -> str:
        return f"{self.device_id}: Sonos at {HostPort(self._host, self._port)}"

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        _register_timeout(self, self._timeout_s)
        room, model = await self._call("connect", self._sync_start)
        _LOG.info("Sonos %s: %r (%s) at %s:%d", self.device_id, room, model, self._host, self._port)

    async def close(self) -> None:
        _register_timeout(self, None)
        _LOG.debug("Sonos %s: closed", self.device_id)

    # --- Player ------------------------------------------------------------------------------

    async def play(self, source: Source) -> None:
        if source.is_silence:
            await self.pause()
            return
        plays: dict[str, Callable[[str], None]] = {
            "favorite": self._sync_play_favorite,
            "playlist": self._sync_play_playlist,
            "uri": self._sync_play_uri,
        }
        play = plays[source.kind]
        await self._call(f"play {source}", lambda: play(source.name))
        _LOG.info("Sonos %s: playing %s", self.device_id, source)

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

    async def now_playing(self) -> TrackInfo | None:
        """What the group plays now (two requests to the coordinator; no volumes read)."""
        return await self._call("read the current track", self._sync_now_playing)

    async def favorites(self) -> list[str]:
        """The titles of the household's Sonos favourites (for checking scenes)."""
        return await self._call("list favourites", self._sync_favorite_titles)

    async def playlists(self) -> list[str]:
        """The titles of the household's Sonos playlists (for checking scenes)."""
        return await self._call("list playlists", self._sync_playlist_titles)

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
            reason = f"no answer within {self._budget_s:g} s"
            raise DeviceUnreachable(self.device_id, operation, reason) from err

    def _guarded(self, operation: str, work: Callable[[], _T]) -> _T:
        with _translated(self.device_id, operation):
            return work()

    def _job_done(self, operation: str, job: asyncio.Future[Any]) -> None:
        self._lock.release()
        if not job.cancelled() and job.exception() is not None:
            _LOG.debug("Sonos %s: %s ended: %s", self.device_id, operation, job.exception())

    # --- SoCo calls (run in a thread) --------------------------------------------------------

    def _sync_speaker(self) -> _Speaker:
        if self._speaker is None:
            address = self._host if _is_ipv4(self._host) else socket.gethostbyname(self._host)
            self._speaker = soco.SoCo(address, port=self._port)
        return self._speaker

    def _sync_coordinator(self) -> _Speaker:
        speaker = self._sync_speaker()
        group = speaker.group
        coordinator: _Speaker | None = None if group is None else group.coordinator
        return coordinator or speaker

    def _sync_start(self) -> tuple[str, str]:
        info = self._sync_speaker().get_speaker_info(refresh=True, timeout=self._timeout_s)
        return str(info.get("zone_name") or ""), str(info.get("model_name") or "")

    def _sync_favorites(self) -> list[_Favorite]:
        return list(self._sync_speaker().music_library.get_sonos_favorites(complete_result=True))

    def _sync_favorite_titles(self) -> list[str]:
        return [str(f.title) for f in self._sync_favorites()]

    def _sync_playlist_titles(self) -> list[str]:
        playlists = self._sync_speaker().get_sonos_playlists(complete_result=True)
        return [str(p.title) for p in playlists]

    def _sync_play_favorite(self, name: str) -> None:
        favorite = _pick("favourite", name, self._sync_favorites(), lambda f: str(f.title))
        reference = favorite.reference
        uri = str(reference.get_uri())
        coordinator = self._sync_coordinator()
        if soco.SoCo.music_source_from_uri(uri) in _STREAM_SOURCES:
            coordinator.play_uri(uri, title=str(favorite.title), timeout=self._timeout_s)
        else:
            self._sync_play_queued(coordinator, reference)

    def _sync_play_playlist(self, name: str) -> None:
        playlists = self._sync_speaker().get_sonos_playlists(complete_result=True)
        playlist = _pick("playlist", name, playlists, lambda p: str(p.title))
        self._sync_play_queued(self._sync_coordinator(), playlist)

    def _sync_play_queued(self, coordinator: _Speaker, item: _DidlItem) -> None:
        coordinator.clear_queue()
        coordinator.add_to_queue(item, timeout=self._timeout_s)
        # play_from_queue reads the device description without a timeout unless it is cached.
        coordinator.get_speaker_info(refresh=False, timeout=self._timeout_s)
        coordinator.play_from_queue(0)

    def _sync_play_uri(self, uri: str) -> None:
        is_stream = soco.SoCo.music_source_from_uri(uri) in _STREAM_SOURCES
        title = uri.rstrip("/").rpartition("/")[2] if is_stream else ""
        self._sync_coordinator().play_uri(uri, title=title, timeout=self._timeout_s)

    def _sync_pause(self) -> None:
        coordinator = self._sync_coordinator()
        state = coordinator.get_current_transport_info()["current_transport_state"]
        if state not in ("PLAYING", "TRANSITIONING"):
            return
        try:
            coordinator.pause()
        except SoCoUPnPException as err:
            # Some streams cannot pause (701); stopping is as silent.
            if str(err.error_code) != _UPNP_TRANSITION_NOT_AVAILABLE:
                raise
            coordinator.stop()

    def _sync_members(self) -> list[_Speaker]:
        """The visible speakers of the configured speaker's group (itself when alone)."""
        speaker = self._sync_speaker()
        group = speaker.group
        members: list[_Speaker] = [] if group is None else list(group.members)
        visible = sorted((m for m in members if m.is_visible), key=lambda m: m.uid)
        return visible or [speaker]

    def _sync_set_volume(self, level: int) -> None:
        for member in self._sync_members():
            member.volume = level

    def _sync_now_playing(self) -> TrackInfo | None:
        coordinator = self._sync_coordinator()
        state = coordinator.get_current_transport_info()["current_transport_state"]
        if _TRANSPORT.get(state) != "playing":
            return None
        return _track(coordinator.get_current_track_info())

    def _sync_read(self) -> PlayerReading:
        volumes = [int(member.volume) for member in self._sync_members()]
        volume, loudest = min(volumes), max(volumes)
        coordinator = self._sync_coordinator()
        state = coordinator.get_current_transport_info()["current_transport_state"]
        track = _track(coordinator.get_current_track_info())
        return PlayerReading(
            volume=volume,
            transport=_TRANSPORT.get(state, "stopped"),
            track=track,
            loudest=loudest if loudest != volume else None,
        )

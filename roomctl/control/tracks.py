"""The tracks that played: read from the speakers while a session runs, stored as events.

`TrackWatch` reads each speaker's now-playing every `interval_s` (through its driver, which
calls the speaker off the event loop) while a session runs, and appends a `track` event when a
speaker begins a track it was not playing at the last look.  In the daemon it looks at most
once a second of real time: a demo's fast clock would otherwise ask the speakers many times a
second (the music itself plays in real time).  A paused, stopped or silent
speaker adds nothing; a speaker that does not answer is logged (once until it answers again)
and asked again next time; nothing here ever raises into the daemon.  With no session running
no speaker is read.  The daemon runs it as the service "tracks".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from roomctl.clock import Clock
from roomctl.control.session import SessionControl
from roomctl.devices.base import Player
from roomctl.errors import DeviceError, RoomctlError
from roomctl.model.events import Track
from roomctl.model.scene import Source
from roomctl.model.state import PlayerState, TrackInfo

if TYPE_CHECKING:
    from roomctl.control.daemon import Daemon

__all__ = ["MIN_REAL_S", "TRACK_POLL_S", "TrackWatch", "remember_tracks", "watch_tracks"]

log = logging.getLogger(__name__)
TRACK_POLL_S = 10.0
MIN_REAL_S = 1.0  # the daemon's watch never looks more often than this (real seconds)
Key = tuple[str, str, str, str]  # title, artist, album, uri


def _key(track: TrackInfo) -> Key:
    return (track.title, track.artist, track.album, track.uri)


class TrackWatch:
    def __init__(
        self,
        session: SessionControl,
        players: Mapping[str, Player],
        clock: Clock,
        interval_s: float = TRACK_POLL_S,
        *,
        min_real_s: float = 0.0,
    ) -> None:
        self.session = session
        self.players = dict(players)
        self.clock = clock
        self.interval_s = interval_s
        self.min_real_s = min_real_s
        self.reads = 0  # speaker readings made (for tests and the curious)
        self._session_id: str | None = None
        self._last: dict[str, Key] = {}  # per speaker: the track seen playing at the last look
        self._failing: set[str] = set()
        self._record_error: str | None = None  # logged once until a track is recorded again

    async def run(self) -> None:
        """Until cancelled."""
        last = time.monotonic()
        while True:
            await self.clock.sleep(self.interval_s)
            wait = last + self.min_real_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            last = time.monotonic()
            try:
                await self.look()
            except Exception:  # never take the daemon down; try again next time
                log.exception("reading the speakers' tracks failed")

    async def look(self) -> None:
        """One look at every speaker (only while a session runs)."""
        if not self.players or not self._running():
            self._session_id = None
            return
        session = self.session.session
        assert session is not None
        if session.id != self._session_id:  # a new session, or this one after a restart
            self._session_id = session.id
            self._last = self._stored_tracks()
        seen: set[Key] = set()  # a group's members report the same track: record it once
        for dev_id, player in self.players.items():
            track = await self._playing(dev_id, player)
            if track is None:
                self._last.pop(dev_id, None)
                continue
            key = _key(track)
            if self._last.get(dev_id) == key:
                seen.add(key)
                continue
            if key in seen:
                self._last[dev_id] = key
                continue
            if self._record(dev_id, track):
                self._last[dev_id] = key
                seen.add(key)

    def _running(self) -> bool:
        if self.session.session is None:
            return False
        status = self.session.snapshot().status
        return status is not None and not status.ended

    async def _playing(self, dev_id: str, player: Player) -> TrackInfo | None:
        """The track the speaker plays now; None when it plays nothing, or does not answer."""
        self.reads += 1
        try:
            track = await player.now_playing()
        except DeviceError as exc:
            if dev_id not in self._failing:
                log.warning("%s: cannot read what it plays: %s", dev_id, exc.reason)
                self._failing.add(dev_id)
            return None
        except Exception:  # a driver's own bug: logged with its traceback, once
            if dev_id not in self._failing:
                log.exception("%s: reading what it plays failed", dev_id)
                self._failing.add(dev_id)
            return None
        self._failing.discard(dev_id)
        if track is None or not (track.title or track.uri):
            return None
        return track

    def _record(self, dev_id: str, track: TrackInfo) -> bool:
        desired = self.session.snapshot().devices.get(dev_id)
        source = desired.source if isinstance(desired, PlayerState) else None
        payload = Track(
            device=dev_id,
            title=track.title,
            artist=track.artist,
            album=track.album,
            uri=track.uri,
            source=None if source is None or source.is_silence else str(source),
        )
        try:
            self.session.command(payload, by="system")
        except RoomctlError as exc:  # ended meanwhile, a full disk: try again next look
            if str(exc) != self._record_error:
                log.warning("%s: track not recorded: %s", dev_id, exc)
                self._record_error = str(exc)
            return False
        self._record_error = None
        log.debug("%s: new track recorded", dev_id)
        return True

    def _stored_tracks(self) -> dict[str, Key]:
        """The last track stored per speaker (so a restart does not record it again)."""
        last: dict[str, Key] = {}
        for e in self.session.events:
            p = e.payload
            if isinstance(p, Track):
                last[p.device] = (p.title, p.artist, p.album, p.uri)
        return last


async def watch_tracks(daemon: Daemon) -> None:
    """The daemon's "tracks" service: a TrackWatch over the room's speakers."""
    assert daemon.session is not None
    players = {dev_id: d for dev_id, d in daemon.devices.items() if isinstance(d, Player)}
    watch = TrackWatch(
        daemon.session, players, daemon.clock, daemon.track_poll_s, min_real_s=MIN_REAL_S
    )
    await watch.run()


def remember_tracks(session: SessionControl, players: Mapping[str, Player]) -> int:
    """Tell each speaker's driver the tracks the session heard it play, with the source each
    belonged to: after a restart a driver can then tell that the source it is asked for already
    plays, and leave it alone.  How many tracks were told."""
    told = 0
    for e in session.events:
        p = e.payload
        player = players.get(p.device) if isinstance(p, Track) else None
        if not isinstance(p, Track) or player is None or not p.source or not p.uri:
            continue
        kind, _, name = p.source.partition(":")
        if kind not in ("favorite", "playlist", "uri"):
            continue
        player.remember(Source(kind=kind, name=name), [p.uri])
        told += 1
    return told

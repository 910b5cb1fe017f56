"""What an emulated Sonos speaker plays: volume (with Sonos's fixed-rate ramps) and the transport
(queue or stream, transport state, position moving with the injected clock).

State is settled lazily: every read works out what has happened since the last one, so a
playing queue moves on to its next track and stops at its end without a background task.
"""

from __future__ import annotations

from typing import Literal

from roomctl.clock import Clock
from roomctl.sim.sonos_didl import (
    MediaLibrary,
    SimFavorite,
    SimTrack,
    format_hms,
    parse_hms,
    stream_metadata,
    title_from_metadata,
    track_metadata,
)
from roomctl.sim.sonos_xml import UpnpError

__all__ = ["RAMP_RATES", "Transport", "TransportState", "Volume"]

TransportState = Literal["STOPPED", "PLAYING", "PAUSED_PLAYBACK", "TRANSITIONING"]

# Steps per second of Sonos's own volume ramps; ALARM and AUTOPLAY start from 0.
RAMP_RATES = {"SLEEP_TIMER_RAMP_TYPE": 1.25, "ALARM_RAMP_TYPE": 2.5, "AUTOPLAY_RAMP_TYPE": 50.0}
_NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
_REPEAT_MODES = frozenset({"REPEAT_ALL", "SHUFFLE"})
PLAY_MODES = frozenset(
    {"NORMAL", "REPEAT_ALL", "REPEAT_ONE", "SHUFFLE", "SHUFFLE_NOREPEAT", "SHUFFLE_REPEAT_ONE"}
)


def _clamp_volume(level: float) -> int:
    return max(0, min(100, round(level)))


class Volume:
    """A speaker's volume 0..100, moving by itself while a RampToVolume runs."""

    def __init__(self, clock: Clock, level: int) -> None:
        self._clock = clock
        self._start = _clamp_volume(level)
        self._target = self._start
        self._rate = 0.0
        self._since = clock.monotonic()

    @property
    def level(self) -> int:
        if self._rate == 0 or self._start == self._target:
            return self._target
        moved = (self._clock.monotonic() - self._since) * self._rate
        if moved >= abs(self._target - self._start):
            return self._target
        step = moved if self._target > self._start else -moved
        return _clamp_volume(int(self._start + step))

    def set(self, level: float) -> int:
        self._start = self._target = _clamp_volume(level)
        self._rate = 0.0
        return self._target

    def ramp(self, target: int, ramp_type: str) -> int:
        """Start a ramp like Sonos does; returns the ramp time in whole seconds."""
        rate = RAMP_RATES.get(ramp_type)
        if rate is None:
            raise UpnpError(402, f"unknown RampType {ramp_type}")
        start = 0 if ramp_type != "SLEEP_TIMER_RAMP_TYPE" else self.level
        self._start, self._target = start, _clamp_volume(target)
        self._rate, self._since = rate, self._clock.monotonic()
        return int(abs(self._target - self._start) / rate)


class Transport:
    """AVTransport of a group coordinator: the queue, the current URI and the play state."""

    def __init__(
        self, clock: Clock, library: MediaLibrary, queue_uri: str, transition_s: float = 0.0
    ) -> None:
        self._clock = clock
        self._library = library
        self.queue_uri = queue_uri
        self.transition_s = transition_s
        self.queue: list[SimTrack] = []
        self.uri = ""
        self.uri_metadata = ""
        self.play_mode = "NORMAL"
        self.crossfade = False
        self._kind: Literal["none", "queue", "stream"] = "none"
        self._stream_title = ""
        self._index = 0
        self._offset_s = 0.0
        self._anchor: float | None = None
        self._state: Literal["STOPPED", "PLAYING", "PAUSED_PLAYBACK"] = "STOPPED"
        self._transition_until = 0.0

    # --- reading -------------------------------------------------------------------------

    @property
    def state(self) -> TransportState:
        self._settle()
        if self._state == "PLAYING" and self._clock.monotonic() < self._transition_until:
            return "TRANSITIONING"
        return self._state

    @property
    def position_s(self) -> float:
        self._settle()
        return self._offset_s

    @property
    def track_number(self) -> int:
        """1-based number of the current track in the queue; 1 for a stream; 0 with nothing."""
        self._settle()
        if self._kind == "queue":
            return self._index + 1 if self.queue else 0
        return 1 if self._kind == "stream" else 0

    @property
    def current_track(self) -> SimTrack | None:
        self._settle()
        if self._kind == "queue":
            return self.queue[self._index] if self.queue else None
        if self._kind == "none":
            return None
        station = self._library.station(self.uri)
        if station is not None:
            return self._on_air(station)
        return self._library.track(self.uri) or SimTrack(self._stream_title, "", "", 0, self.uri)

    def position_info(self) -> dict[str, str]:
        track, number = self.current_track, self.track_number
        fields = {"Track": str(number), "TrackDuration": "0:00:00", "TrackMetaData": ""}
        fields |= {"TrackURI": "", "RelTime": "0:00:00"}
        station = self._library.station(self.uri) if self._kind == "stream" else None
        if station is not None:
            fields["TrackURI"] = self.uri
            fields["TrackMetaData"] = stream_metadata(self.uri, station.title, track)
            fields["RelTime"] = format_hms(self._offset_s)
        elif track is not None and track.duration_s == 0:
            fields["TrackURI"] = track.uri
            fields["TrackMetaData"] = stream_metadata(track.uri, track.title, None)
            fields["RelTime"] = format_hms(self._offset_s)
        elif track is not None:
            fields["TrackURI"] = track.uri
            fields["TrackMetaData"] = track_metadata(track)
            fields["TrackDuration"] = format_hms(track.duration_s)
            fields["RelTime"] = format_hms(self._offset_s)
        never = "2147483647"
        return fields | {"AbsTime": _NOT_IMPLEMENTED, "RelCount": never, "AbsCount": never}

    def media_info(self) -> dict[str, str]:
        count = len(self.queue) if self._kind == "queue" else int(self._kind == "stream")
        return {
            "NrTracks": str(count),
            "MediaDuration": _NOT_IMPLEMENTED,
            "CurrentURI": self.uri,
            "CurrentURIMetaData": self.uri_metadata,
            "NextURI": "",
            "NextURIMetaData": "",
            "PlayMedium": "NETWORK" if self._kind != "none" else "NONE",
            "RecordMedium": _NOT_IMPLEMENTED,
            "WriteStatus": _NOT_IMPLEMENTED,
        }

    def available_actions(self) -> str:
        if self._kind == "none":
            return "Set"
        actions = ["Set", "Stop", "Pause", "Play"]
        if self._kind == "queue":
            actions += ["Next", "Previous", "X_DLNA_SeekTime", "X_DLNA_SeekTrackNr"]
        return ", ".join(actions)

    # --- changing ------------------------------------------------------------------------

    def set_uri(self, uri: str, metadata: str) -> None:
        self._settle()
        if uri.startswith("x-rincon-queue:") and uri.partition("#")[0] != self.queue_uri:
            raise UpnpError(714, f"not this speaker's queue: {uri}")
        self.uri, self.uri_metadata = uri, metadata
        self._kind = "queue" if uri.startswith("x-rincon-queue:") else "stream"
        self._stream_title = title_from_metadata(metadata) or self._known_title(uri)
        self._index, self._offset_s = 0, 0.0
        self._halt("STOPPED")

    def play(self) -> None:
        self._settle()
        if self._kind == "none" or (self._kind == "queue" and not self.queue):
            raise UpnpError(701, "nothing to play")
        if self._state != "PLAYING":
            now = self._clock.monotonic()
            self._state, self._anchor = "PLAYING", now
            self._transition_until = now + self.transition_s

    def pause(self) -> None:
        self._settle()
        if self._state == "STOPPED":
            raise UpnpError(701, "nothing is playing")
        self._halt("PAUSED_PLAYBACK")

    def stop(self) -> None:
        self._settle()
        self._offset_s = 0.0
        self._halt("STOPPED")

    def next(self) -> None:
        self._require_queue()
        if self._index + 1 < len(self.queue):
            self._jump(self._index + 1)
        elif self.play_mode in _REPEAT_MODES:
            self._jump(0)
        else:
            raise UpnpError(711, "already at the last track")

    def previous(self) -> None:
        self._require_queue()
        self._jump(max(0, self._index - 1))

    def seek(self, unit: str, target: str) -> None:
        self._settle()
        if unit == "TRACK_NR":
            self._require_queue()
            if not target.isdigit() or not 1 <= int(target) <= len(self.queue):
                raise UpnpError(711, f"no track {target} in a queue of {len(self.queue)}")
            self._jump(int(target) - 1)
        elif unit == "REL_TIME":
            self._seek_time(target)
        else:
            raise UpnpError(402, f"unknown seek unit {unit}")

    def enqueue(self, uri: str, metadata: str, position: int, as_next: bool) -> tuple[int, int]:
        """Add what `uri` stands for; returns (first track number, number of tracks added)."""
        self._settle()
        tracks = self._library.tracks_for(uri)
        if tracks is None:
            title = title_from_metadata(metadata) or uri
            tracks = (SimTrack(title, "", "", 0, uri),)
        at = len(self.queue) if position <= 0 else min(position - 1, len(self.queue))
        playing_queue = self._kind == "queue" and bool(self.queue)
        if as_next and playing_queue:
            at = self._index + 1
        if playing_queue and at <= self._index:
            self._index += len(tracks)
        self.queue[at:at] = tracks
        return at + 1, len(tracks)

    def clear_queue(self) -> None:
        self._settle()
        self.queue.clear()
        if self._kind == "queue":
            self._index, self._offset_s = 0, 0.0
            self._halt("STOPPED")

    # --- internals -----------------------------------------------------------------------

    def _known_title(self, uri: str) -> str:
        station = self._library.station(uri)
        if station is not None:
            return station.title
        track = self._library.track(uri)
        return track.title if track is not None else ""

    def _require_queue(self) -> None:
        self._settle()
        if self._kind != "queue" or not self.queue:
            raise UpnpError(701, "not playing from the queue")

    def _jump(self, index: int) -> None:
        self._index, self._offset_s = index, 0.0
        if self._anchor is not None:
            self._anchor = self._clock.monotonic()

    def _seek_time(self, target: str) -> None:
        try:
            seconds = parse_hms(target)
        except ValueError as err:
            raise UpnpError(402, str(err)) from err
        track = self.current_track
        if track is None or (track.duration_s and seconds > track.duration_s):
            raise UpnpError(711, f"cannot seek to {target}")
        self._offset_s = float(seconds)
        if self._anchor is not None:
            self._anchor = self._clock.monotonic()

    def _halt(self, state: Literal["STOPPED", "PAUSED_PLAYBACK"]) -> None:
        self._state, self._anchor = state, None

    def _on_air(self, station: SimFavorite) -> SimTrack | None:
        total = sum(t.duration_s for t in station.tracks)
        if total <= 0:
            return None
        into = self._offset_s % total
        for track in station.tracks:
            if into < track.duration_s:
                return track
            into -= track.duration_s
        return station.tracks[-1]

    def _settle(self) -> None:
        """Move the position on by the time played since the last look, track by track."""
        if self._state != "PLAYING" or self._anchor is None:
            return
        now = self._clock.monotonic()
        self._offset_s += now - self._anchor
        self._anchor = now
        if self._kind == "queue":
            self._advance_queue()
        elif self._kind == "stream":
            track = self._library.track(self.uri)
            if track is not None and self._offset_s >= track.duration_s:
                self._offset_s = 0.0
                self._halt("STOPPED")

    def _advance_queue(self) -> None:
        while self.queue and self._offset_s >= self.queue[self._index].duration_s > 0:
            self._offset_s -= self.queue[self._index].duration_s
            if self.play_mode == "REPEAT_ONE":
                continue
            if self._index + 1 < len(self.queue):
                self._index += 1
            elif self.play_mode in _REPEAT_MODES:
                self._index = 0
            else:
                self._index, self._offset_s = 0, 0.0
                self._halt("STOPPED")
                return

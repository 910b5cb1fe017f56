"""Media for the Sonos emulator: tracks, playlists and favourites, and their DIDL-Lite form.

The XML mirrors what real speakers send (checked against SoCo's parsers): favourites are
``object.itemobject.item.sonos-favorite`` items whose ``r:resMD`` holds the DIDL of what they
point at; playlists are ``SQ:n`` containers; queue entries are ``Q:0/n`` music tracks.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "DEFAULT_FAVORITES",
    "DEFAULT_PLAYLISTS",
    "DIDL_CLOSE",
    "DIDL_OPEN",
    "MediaLibrary",
    "SimFavorite",
    "SimPlaylist",
    "SimTrack",
    "format_hms",
    "parse_hms",
    "queue_item",
    "stream_metadata",
    "title_from_metadata",
    "track_metadata",
]

DIDL_OPEN = (
    '<DIDL-Lite xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" '
    'xmlns:r="urn:schemas-rinconnetworks-com:metadata-1-0/" '
    'xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/">'
)
DIDL_CLOSE = "</DIDL-Lite>"
_DESC = '<desc id="cdudn" nameSpace="urn:schemas-rinconnetworks-com:metadata-1-0/">{}</desc>'
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_SIM_HOST = "roomctl-sim"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "untitled"


def format_hms(seconds: float) -> str:
    """Seconds as Sonos writes durations and positions: ``H:MM:SS``."""
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def parse_hms(text: str) -> int:
    """``H:MM:SS`` (or ``MM:SS``) as whole seconds; raises ValueError on anything else."""
    parts = text.strip().split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a H:MM:SS time: {text!r}")
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds


@dataclass(frozen=True, slots=True)
class SimTrack:
    """One piece of music.  Without `uri`, a library file URI is made from artist and title."""

    title: str
    artist: str
    album: str
    duration_s: int
    uri: str = ""

    def __post_init__(self) -> None:
        if not self.uri:
            uri = f"x-file-cifs://{_SIM_HOST}/music/{_slug(self.artist)}/{_slug(self.title)}.flac"
            object.__setattr__(self, "uri", uri)


@dataclass(frozen=True, slots=True)
class SimPlaylist:
    """A Sonos playlist (``SQ:n``)."""

    title: str
    tracks: tuple[SimTrack, ...]


@dataclass(frozen=True, slots=True)
class SimFavorite:
    """A Sonos favourite: a radio station (a stream that cycles through `tracks`, played by URI)
    or a container (an album or playlist whose `tracks` are queued)."""

    title: str
    tracks: tuple[SimTrack, ...]
    radio: bool = False
    uri: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.uri:
            scheme = "x-rincon-mp3radio" if self.radio else "x-rincon-cpcontainer"
            path = f"//{_SIM_HOST}/radio/" if self.radio else f"1006206c{_SIM_HOST}-"
            object.__setattr__(self, "uri", f"{scheme}:{path}{_slug(self.title)}")


def _t(title: str, artist: str, album: str, duration_s: int) -> SimTrack:
    return SimTrack(title=title, artist=artist, album=album, duration_s=duration_s)


DEFAULT_FAVORITES: tuple[SimFavorite, ...] = (
    SimFavorite(
        "Calm Radio",
        (
            _t("Slow Tide", "Harbour Lights", "Coastlines", 241),
            _t("Low Cloud", "Mira Sand", "Weather Diary", 198),
            _t("Evening Field", "The Quiet Orchard", "Field Notes", 263),
        ),
        radio=True,
    ),
    SimFavorite(
        "Forest Morning",
        (
            _t("First Light", "Aster Vale", "Forest Morning", 212),
            _t("Moss", "Aster Vale", "Forest Morning", 187),
            _t("Birch Canopy", "Aster Vale", "Forest Morning", 305),
        ),
    ),
)

DEFAULT_PLAYLISTS: tuple[SimPlaylist, ...] = (
    SimPlaylist(
        "Deep Rest",
        (
            _t("Breathing Space", "Luma", "Stillness", 320),
            _t("Warm Stone", "Ilse Marrow", "Hearth", 276),
            _t("Underwater Lanterns", "Luma", "Stillness", 344),
        ),
    ),
    SimPlaylist(
        "Gentle Wake",
        (
            _t("Open Window", "Paper Birds", "Sunday", 185),
            _t("Kettle Song", "Paper Birds", "Sunday", 201),
            _t("Long Walk Home", "Ilse Marrow", "Hearth", 233),
        ),
    ),
)


def _res(uri: str, protocol: str, duration_s: int | None = None) -> str:
    duration = "" if duration_s is None else f" duration={quoteattr(format_hms(duration_s))}"
    return f"<res protocolInfo={quoteattr(protocol)}{duration}>{escape(uri)}</res>"


def _track_body(track: SimTrack) -> str:
    return (
        f"{_res(track.uri, 'x-file-cifs:*:audio/flac:*', track.duration_s)}"
        f"<dc:title>{escape(track.title)}</dc:title>"
        "<upnp:class>object.item.audioItem.musicTrack</upnp:class>"
        f"<dc:creator>{escape(track.artist)}</dc:creator>"
        f"<upnp:album>{escape(track.album)}</upnp:album>"
    )


def queue_item(track: SimTrack, number: int) -> str:
    """A queue entry (``Q:0/number``, 1-based) as a DIDL-Lite ``<item>``."""
    return f'<item id="Q:0/{number}" parentID="Q:0" restricted="true">{_track_body(track)}</item>'


def track_metadata(track: SimTrack) -> str:
    """A whole DIDL-Lite document for GetPositionInfo's TrackMetaData of a queued track."""
    item = (
        '<item id="-1" parentID="-1" restricted="true">'
        f"{_track_body(track)}<r:streamContent></r:streamContent></item>"
    )
    return DIDL_OPEN + item + DIDL_CLOSE


def stream_metadata(uri: str, title: str, now_playing: SimTrack | None) -> str:
    """TrackMetaData of a radio stream; what it plays now goes in ``r:streamContent``."""
    content = ""
    if now_playing is not None:
        content = (
            f"TYPE=SNG|TITLE {now_playing.title}|ARTIST {now_playing.artist}"
            f"|ALBUM {now_playing.album}"
        )
    item = (
        '<item id="-1" parentID="-1" restricted="true">'
        f"{_res(uri, 'x-rincon-mp3radio:*:*:*')}"
        f"<r:streamContent>{escape(content)}</r:streamContent>"
        f"<dc:title>{escape(title)}</dc:title>"
        "<upnp:class>object.item</upnp:class></item>"
    )
    return DIDL_OPEN + item + DIDL_CLOSE


def title_from_metadata(metadata: str) -> str:
    """The ``dc:title`` of a DIDL-Lite document a client sent, or "" when there is none."""
    if not metadata.strip():
        return ""
    try:
        root = ET.fromstring(metadata)
    except ET.ParseError:
        return ""
    return root.findtext(f".//{_DC_TITLE}") or ""


class MediaLibrary:
    """The favourites and playlists of one household, addressable by ContentDirectory ids."""

    def __init__(self, favorites: tuple[SimFavorite, ...], playlists: tuple[SimPlaylist, ...]):
        self.favorites = favorites
        self.playlists = playlists
        self._containers: dict[str, tuple[SimTrack, ...]] = {}
        self._stations: dict[str, SimFavorite] = {}
        self._tracks: dict[str, SimTrack] = {}
        for fav in favorites:
            self._index_tracks(fav.tracks)
            if fav.radio:
                self._stations[fav.uri] = fav
            else:
                self._containers[fav.uri] = fav.tracks
        for number, playlist in enumerate(playlists, start=1):
            self._index_tracks(playlist.tracks)
            self._containers[self.playlist_uri(number)] = playlist.tracks

    def _index_tracks(self, tracks: tuple[SimTrack, ...]) -> None:
        for track in tracks:
            self._tracks[track.uri] = track

    @staticmethod
    def playlist_uri(number: int) -> str:
        return f"file:///jffs/settings/savedqueues.rsq#{number}"

    def tracks_for(self, uri: str) -> tuple[SimTrack, ...] | None:
        """What enqueuing `uri` adds: a container's tracks, one known track, or None."""
        if uri in self._containers:
            return self._containers[uri]
        track = self._tracks.get(uri)
        return None if track is None else (track,)

    def station(self, uri: str) -> SimFavorite | None:
        return self._stations.get(uri)

    def track(self, uri: str) -> SimTrack | None:
        return self._tracks.get(uri)

    def browse(self, object_id: str) -> list[str] | None:
        """DIDL-Lite elements under `object_id`, or None when no such object exists."""
        if object_id == "FV:2":
            return [self._favorite_item(n, fav) for n, fav in enumerate(self.favorites, 1)]
        if object_id == "SQ:":
            return [self._playlist_item(n, pl) for n, pl in enumerate(self.playlists, 1)]
        match = re.fullmatch(r"SQ:(\d+)", object_id)
        if match and 1 <= int(match.group(1)) <= len(self.playlists):
            number = int(match.group(1))
            tracks = self.playlists[number - 1].tracks
            return [
                f'<item id="S://{_SIM_HOST}/{number}/{i}" parentID="{object_id}" '
                f'restricted="true">{_track_body(t)}</item>'
                for i, t in enumerate(tracks, 1)
            ]
        return None

    def _favorite_item(self, number: int, fav: SimFavorite) -> str:
        if fav.radio:
            protocol, description = "x-rincon-mp3radio:*:*:*", "Radio station"
            reference = (
                f'<item id="F00092020s{number}" parentID="L" restricted="true">'
                f"<dc:title>{escape(fav.title)}</dc:title>"
                "<upnp:class>object.item.audioItem.audioBroadcast</upnp:class>"
                f"{_DESC.format('SA_RINCON65031_')}</item>"
            )
        else:
            protocol, description = "x-rincon-cpcontainer:*:*:*", "Album"
            reference = (
                f'<item id="{escape(fav.uri.partition(":")[2])}" parentID="100a206c" '
                f'restricted="true"><dc:title>{escape(fav.title)}</dc:title>'
                "<upnp:class>object.container.playlistContainer</upnp:class>"
                f"{_DESC.format('RINCON_AssociatedZPUDN')}</item>"
            )
        return (
            f'<item id="FV:2/{number}" parentID="FV:2" restricted="false">'
            f"<dc:title>{escape(fav.title)}</dc:title>"
            "<upnp:class>object.itemobject.item.sonos-favorite</upnp:class>"
            f"<r:ordinal>{number - 1}</r:ordinal>{_res(fav.uri, protocol)}"
            f"<r:type>instantPlay</r:type><r:description>{description}</r:description>"
            f"<r:resMD>{escape(DIDL_OPEN + reference + DIDL_CLOSE)}</r:resMD></item>"
        )

    def _playlist_item(self, number: int, playlist: SimPlaylist) -> str:
        return (
            f'<container id="SQ:{number}" parentID="SQ:" restricted="true">'
            f"<dc:title>{escape(playlist.title)}</dc:title>"
            f"{_res(self.playlist_uri(number), 'file:*:audio/mpegurl:*')}"
            "<upnp:class>object.container.playlistContainer</upnp:class></container>"
        )

"""What the Sonos driver remembers between operations, so a scene change makes only the
requests it needs: the household's favourites and playlists (title → what to play), the group
topology (coordinator, visible members), and which tracks belong to which source.

Each list is fetched again when it is older than `refresh_s` (on the driver's clock), when a
name is not in it, and (the topology) after a call failed in a way that suggests the group
changed.  Plain data, no I/O: the driver fills it from its thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from roomctl.devices.sonos_soco import DidlItem, Speaker

__all__ = ["REFRESH_S", "Entry", "Fresh", "Topology", "TrackMemory"]

REFRESH_S = 300.0  # favourites, playlists and the topology are fetched again this often
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Entry:
    """A favourite or playlist, resolved: its title, its URI, and what to queue (or None for a
    stream, played by URI)."""

    title: str
    uri: str
    queued: DidlItem | None


@dataclass(frozen=True, slots=True)
class Topology:
    coordinator: Speaker
    members: tuple[Speaker, ...]  # the visible members, by uid (the speaker itself when alone)


@dataclass
class Fresh(Generic[_T]):
    """One cached value, fetched again once `refresh_s` old or when invalidated."""

    refresh_s: float
    now: Callable[[], float]
    value: _T | None = None
    at: float = float("-inf")

    def get(self, fetch: Callable[[], _T], *, again: bool = False) -> _T:
        """The value, fetched first when there is none, it is old, or `again`."""
        now = self.now()
        if self.value is None or again or now >= self.at + self.refresh_s:
            self.value, self.at = fetch(), now
        return self.value

    def forget(self) -> None:
        self.value = None

    def age(self) -> float:
        return self.now() - self.at


@dataclass
class TrackMemory:
    """Which track URIs were heard playing which source (``str(source)``): from the session's
    record after a restart, and from what the speaker reported while roomctl played it."""

    by_source: dict[str, set[str]] = field(default_factory=dict)

    def add(self, source: str, uris: Iterable[str]) -> None:
        known = self.by_source.setdefault(source, set())
        known.update(u for u in uris if u)

    def has(self, source: str) -> bool:
        return bool(self.by_source.get(source))

    def knows(self, source: str, uri: str) -> bool:
        return bool(uri) and uri in self.by_source.get(source, ())

"""The part of SoCo the Sonos driver uses, and the one place its exceptions become roomctl's.

SoCo ships no type information: the Protocols below name what the driver touches.  Every SoCo
and ``requests`` exception is translated in :func:`translated` into ``DeviceUnreachable`` (no
answer) or ``DeviceRejected`` (an answer that says no), naming the device and the operation.
No SoCo type leaves roomctl/devices/.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, Protocol, TypeVar

import requests
from soco import config as soco_config
from soco.exceptions import SoCoException, SoCoSlaveException, SoCoUPnPException

from roomctl.errors import DeviceRejected, DeviceUnreachable, RoomctlError
from roomctl.model.state import TrackInfo

__all__ = [
    "TRANSPORT",
    "DidlItem",
    "Favorite",
    "Speaker",
    "UnknownNameError",
    "moved",
    "pick",
    "register_timeout",
    "track",
    "translated",
]

_T = TypeVar("_T")

TRANSPORT: dict[str, Literal["playing", "paused", "stopped", "transitioning"]] = {
    "PLAYING": "playing",
    "PAUSED_PLAYBACK": "paused",
    "STOPPED": "stopped",
    "TRANSITIONING": "transitioning",
}
# UPnP 800: a transport action reached a speaker that is not its group's coordinator (any more).
_UPNP_NOT_COORDINATOR = "800"


class DidlItem(Protocol):
    title: str

    def get_uri(self, resource_nr: int = 0) -> str: ...


class Favorite(DidlItem, Protocol):
    @property
    def reference(self) -> DidlItem: ...


class _Library(Protocol):
    def get_sonos_favorites(self, *, complete_result: bool) -> Iterable[Favorite]: ...


class Speaker(Protocol):
    music_library: _Library
    volume: int
    uid: str
    avTransport: Any  # noqa: N815 - SoCo's name: the AVTransport service
    zone_group_state: Any

    @property
    def visible_zones(self) -> set[Any]: ...

    @property
    def group(self) -> Any: ...  # soco.groups.ZoneGroup | None

    def get_speaker_info(self, refresh: bool, timeout: float) -> dict[str, str]: ...
    def get_sonos_playlists(self, *, complete_result: bool) -> Iterable[DidlItem]: ...
    def get_current_transport_info(self) -> dict[str, str]: ...
    def get_current_track_info(self) -> dict[str, str]: ...
    def set_relative_volume(self, relative_volume: int) -> int: ...


# --- process-wide SoCo settings -----------------------------------------------------------------

# SoCo's default per-request timeout is process-wide; keep it at the largest timeout_s of the
# players alive, so calls that take no `timeout=` argument are bounded too.
_TIMEOUTS: weakref.WeakKeyDictionary[object, float] = weakref.WeakKeyDictionary()
_SOCO_DEFAULT_TIMEOUT = float(soco_config.REQUEST_TIMEOUT)


def register_timeout(player: object, timeout_s: float | None) -> None:
    if timeout_s is None:
        _TIMEOUTS.pop(player, None)
    else:
        _TIMEOUTS[player] = timeout_s
    soco_config.REQUEST_TIMEOUT = max(_TIMEOUTS.values(), default=_SOCO_DEFAULT_TIMEOUT)
    # A failing GetZoneGroupState would otherwise make SoCo subscribe to events, which binds
    # port 1400 on this machine (Home Assistant turns it off too).
    soco_config.ZGT_EVENT_FALLBACK = False


# --- errors ------------------------------------------------------------------------------------


class UnknownNameError(Exception):
    """A favourite or playlist the household does not have."""


def moved(err: BaseException) -> bool:
    """True when `err` says the speaker is no longer its group's coordinator."""
    if isinstance(err, SoCoSlaveException):
        return True
    return isinstance(err, SoCoUPnPException) and str(err.error_code) == _UPNP_NOT_COORDINATOR


@contextlib.contextmanager
def translated(device_id: str, operation: str) -> Iterator[None]:
    """The one place SoCo and requests exceptions become roomctl errors."""
    try:
        yield
    except RoomctlError:
        raise
    except UnknownNameError as err:
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


def track(info: dict[str, str]) -> TrackInfo | None:
    """A track from SoCo's get_current_track_info; None when there is none."""
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


def pick(name: str, items: Iterable[_T], title: Callable[[_T], str]) -> _T | None:
    """The item titled `name` (exactly, else ignoring case), or None."""
    listed = list(items)
    exact = [item for item in listed if title(item) == name]
    loose = [item for item in listed if title(item).casefold() == name.casefold()]
    found = exact or loose
    return found[0] if found else None

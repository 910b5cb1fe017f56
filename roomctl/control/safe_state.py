"""Safe states: the room with no session, at start and at shutdown, and after a power cut.

- **At rest** (`SafeLight`): with no session running, every light goes to the configured safe
  level (`safety.idle`: warm, never dimmer than the session floor) when the daemon starts and
  when it stops.  It is asked for only for a short window (the fade plus `SETTLE_S`), so the
  engine sends it once (a light far from it gets a native fade of `idle.fade_s`) and then
  leaves the room alone: a light switched by hand afterwards is not fought.  With a session
  running nothing changes: the session's own state is already never dark, and a restart must
  not be seen.
- **After a power cut** (`after_power_cut`): when the machine booted since the daemon last ran
  (a different Linux boot id) and a session is running, the music comes back paused: a
  `music_pause` (reason "power cut", by `system`) until a facilitator resumes it (the tablet's
  **Resume music**, `roomctl session music resume`, MQTT `cmd/music RESUME`).  A speaker that
  still plays has its volume faded down and is then paused; one that does not is never sent
  Play.  A restart of the service alone (same boot) leaves the music playing.  The lights
  come back at the arc's state now, over the engine's catch-up fade.

Pure apart from reading and writing the boot id file beside the database.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from roomctl.errors import RoomctlError
from roomctl.model.config import DeviceKind, RoomConfig
from roomctl.model.events import MusicPause
from roomctl.model.state import DeviceState, LightState
from roomctl.timeline.channels import ChannelKey, Color, Value, device_states

if TYPE_CHECKING:
    from roomctl.control.session import SessionControl

__all__ = [
    "BOOT_ID_FILE",
    "SafeLight",
    "after_power_cut",
    "current_boot_id",
    "rebooted_since",
    "safe_states",
]

log = logging.getLogger(__name__)
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
SETTLE_S = 20.0  # the safe light is asked for this long after its fade, then the room is left


def safe_states(room: RoomConfig) -> dict[str, DeviceState]:
    """Every light on at the safe level: warm white, or neutral white on a colour-only light."""
    idle = room.safety.idle
    values: dict[ChannelKey, Value] = {}
    for dev in room.devices:
        if dev.kind is not DeviceKind.LIGHT:
            continue
        values[(dev.id, "level")] = float(idle.brightness_pct)
        if dev.has_color_temp:
            values[(dev.id, "color")] = Color(kelvin=float(idle.color_temp_k))
        elif dev.has_hue:
            values[(dev.id, "color")] = Color(hue=0.0, saturation=0.0)
    return device_states(room, values)


class SafeLight:
    """The safe light, asked for from `begin(t)` for the fade and a settling window."""

    def __init__(self, room: RoomConfig) -> None:
        self.states = safe_states(room)
        self.window_s = room.safety.idle.fade_s + SETTLE_S
        self.since: float | None = None

    def begin(self, t: float) -> None:
        self.since = t

    def desired(self, t: float) -> dict[str, DeviceState]:
        if self.since is None or not self.since <= t < self.since + self.window_s:
            return {}
        return dict(self.states)

    def reached(self, shown: dict[str, DeviceState | None], tolerance_pct: float = 2.5) -> bool:
        """Every light that can be seen shows the safe level (or was sent it)."""
        for dev_id, want in self.states.items():
            got = shown.get(dev_id)
            if not isinstance(want, LightState) or got is None:
                continue
            if not isinstance(got, LightState) or not got.on or got.brightness_pct is None:
                return False
            if abs(got.brightness_pct - (want.brightness_pct or 0.0)) > tolerance_pct:
                return False
        return True


def current_boot_id(source: Path = BOOT_ID_FILE) -> str | None:
    """This boot's id (Linux), or None where there is none."""
    try:
        return source.read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeError):
        return None


def rebooted_since(marker: Path, boot_id: str | None) -> bool:
    """True when the daemon last ran in another boot than this one; records this boot in
    `marker` (0600).  False the first time, and where boot ids are unknown."""
    if boot_id is None:
        return False
    try:
        before = marker.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        before = None
    except (OSError, UnicodeError) as exc:
        log.warning("cannot read %s: %s", marker, exc)
        before = None
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(boot_id + "\n")
    except OSError as exc:  # a read-only disk: the power-cut check just cannot be kept
        log.warning("cannot record this boot in %s: %s", marker, exc.strerror or exc)
    return before is not None and before != boot_id


def after_power_cut(session: SessionControl) -> bool:
    """The running session comes back after a reboot: its music pauses until a facilitator
    resumes it.  True when the pause is recorded (or the music was already paused)."""
    if session.session is None:
        return False
    if not any(d.kind is DeviceKind.PLAYER for d in session.lib.room.devices):
        return False
    status = session.snapshot().status
    if status is None or status.ended:
        return False
    if status.music_paused is not None:
        return True
    try:
        session.command(MusicPause(reason="power cut"), by="system")
    except RoomctlError as exc:  # a read-only disk, an ended session: say so, go on
        log.warning("music not paused after the restart: %s", exc)
        return False
    log.warning("back after a reboot mid-session: music paused until a facilitator resumes it")
    return True

"""Commands from MQTT: `<base>/<room>/cmd/<name>`, each through SessionControl as the tablet's.

- `cmd/scene`    a scene name.  During a session a cue scene (talk, break, check-in) is that
  cue; any other scene becomes manual overrides, as `roomctl apply` makes them
  (`control.apply.override_commands`; the client's preferences and the session's limits and
  fades apply).  Without a session the room's scene layer shows it through the safety clamp.
- `cmd/session`  `{"action": "hold"|"resume"|"advance"|"step_back"|"extend", "minutes": 15}`
  or just the action word (extend without minutes: 15).
- `cmd/cue`      `talk`, `break`, `check-in` (the room's cue scenes) or `off`.
- `cmd/emergency` `ON` or `CLEAR`.
- `cmd/volume`   a number: a volume override of the room's players (never above the cap).
- `cmd/music`    `PAUSE` (the volume fades down, then the players pause) or `RESUME`.

A JSON payload may name its sender (`"by": "node-red"`), recorded as `mqtt:node-red`; else the
author is `mqtt:<topic>`.  A malformed or refused command is logged with its reason and
ignored; nothing here raises into the bus.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

from roomctl.control.apply import override_commands, scene_states
from roomctl.control.room_scene import RoomScene
from roomctl.control.session import SessionControl
from roomctl.errors import RoomctlError
from roomctl.model.config import DeviceKind
from roomctl.model.events import (
    Advance,
    Command,
    CueOff,
    CueOn,
    EventKind,
    Extend,
    Hold,
    MusicPause,
    MusicResume,
    Override,
    Resume,
    StepBack,
)
from roomctl.model.library import Library
from roomctl.mqtt_api.topics import COMMANDS, RoomTopics

__all__ = ["CommandError", "MqttCommands"]

log = logging.getLogger(__name__)

MAX_PAYLOAD = 1024
DEFAULT_EXTEND_MIN = 15.0
_SENDER = re.compile(r"^[A-Za-z0-9_.:@-]{1,40}$")
_ACTIONS: dict[str, Callable[[dict[str, Any]], Command]] = {
    "hold": lambda _: Hold(),
    "resume": lambda _: Resume(),
    "advance": lambda _: Advance(),
    "step_back": lambda _: StepBack(),
    "extend": lambda d: Extend(minutes=float(d.get("minutes", DEFAULT_EXTEND_MIN))),
}


class CommandError(RoomctlError):
    """A command from MQTT that is malformed or not possible now."""


class MqttCommands:
    def __init__(
        self,
        lib: Library,
        control: SessionControl,
        topics: RoomTopics,
        room_scene: RoomScene,
        *,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.lib = lib
        self.control = control
        self.topics = topics
        self.room_scene = room_scene
        self._changed = changed  # the room scene changed: wake the engine, tell the faces
        self.handled = 0  # commands carried out
        self.ignored = 0  # commands logged and ignored

    def handle(self, topic: str, payload: bytes) -> None:
        """The bus's handler for `<base>/<room>/cmd/#`."""
        name = topic.removeprefix(self.topics.root + "/cmd/")
        by = f"mqtt:{topic}"
        try:
            text, data = _parse(payload)
            if data is not None and data.get("by") is not None:
                by = f"mqtt:{_sender(data['by'])}"
            what = self._dispatch(name, text, data, by)
        except (RoomctlError, ValueError) as exc:
            self.ignored += 1
            log.warning("MQTT command on %s ignored: %s", topic, _one_line(exc))
            return
        except Exception:  # a bug: logged, never taken into the bus
            self.ignored += 1
            log.exception("MQTT command on %s failed", topic)
            return
        self.handled += 1
        log.info("MQTT command on %s by %s: %s", topic, by, what)

    def _dispatch(self, name: str, text: str, data: dict[str, Any] | None, by: str) -> str:
        if name == "scene":
            return self.scene(_word(text, data, "scene"), by)
        if name == "session":
            return self.session(data if data is not None else {"action": text}, by)
        if name == "cue":
            return self.cue(_word(text, data, "cue"), by)
        if name == "emergency":
            return self.emergency(_word(text, data, "state").upper(), by)
        if name == "music":
            return self.music(_word(text, data, "music").upper(), by)
        if name == "volume":
            value = data.get("volume") if data is not None else text
            return self.volume(value, by)
        raise CommandError(f"unknown command {name!r}; one of {', '.join(COMMANDS)}")

    # ------------------------------------------------------------------ commands

    def session(self, data: dict[str, Any], by: str) -> str:
        action = data.get("action")
        extra = set(data) - {"action", "minutes", "by"}
        if extra:
            raise CommandError(f"session: unknown field {sorted(extra)[0]!r}")
        if not isinstance(action, str):
            raise CommandError("session: 'action' must be one of " + ", ".join(_ACTIONS))
        action = action.strip().lower().replace("-", "_")
        make = _ACTIONS.get(action)
        if make is None:
            raise CommandError(f"session: unknown action {action!r}; one of {', '.join(_ACTIONS)}")
        minutes = data.get("minutes")
        number = isinstance(minutes, int | float) and not isinstance(minutes, bool)
        if minutes is not None and not number:
            raise CommandError(f"session: 'minutes' must be a number, got {minutes!r}")
        if minutes is not None and action != "extend":
            raise CommandError(f"session: 'minutes' is for extend, not {action}")
        try:
            command = make(data)
        except (ValueError, OverflowError) as exc:  # OverflowError: an integer past a float
            raise CommandError(f"session: {action}: minutes must be between 1 and 240") from exc
        self.control.command(command, by=by)
        return action

    def cue(self, cue: str, by: str) -> str:
        if cue.lower() == "off":
            self.control.command(CueOff(), by=by)
            return "cue off"
        if cue not in self.lib.cues:
            raise CommandError(f"cue: unknown cue {cue!r}; one of {', '.join(self.lib.cues)}, off")
        self.control.command(CueOn(cue=cue), by=by)
        return f"cue {cue}"

    def emergency(self, word: str, by: str) -> str:
        if word not in ("ON", "CLEAR", "OFF"):
            raise CommandError(f"emergency: {word!r} is neither ON nor CLEAR")
        outcome = self.control.emergency(word == "ON", by=by)
        recorded = "" if outcome.recorded else f" (not recorded yet: {outcome.error})"
        return f"emergency {'ON' if word == 'ON' else 'cleared'}{recorded}"

    def music(self, word: str, by: str) -> str:
        if word not in ("PAUSE", "RESUME"):
            raise CommandError(f"music: {word!r} is neither PAUSE nor RESUME")
        self.control.command(MusicPause() if word == "PAUSE" else MusicResume(), by=by)
        return "music paused" if word == "PAUSE" else "music resumed"

    def volume(self, value: Any, by: str) -> str:
        try:
            volume = float(value)
        except (TypeError, ValueError):
            raise CommandError(f"volume: {value!r} is not a number") from None
        except OverflowError:  # a whole number past a float's range: out of range as inf is
            volume = math.inf if value > 0 else -math.inf
        cap = self.lib.room.safety.max_volume
        if not 0 <= volume <= cap:
            raise CommandError(f"volume: {volume:g} is outside 0..{cap} (the safety cap)")
        players = self.players()
        if not players:
            raise CommandError("volume: the room has no music players")
        if self.control.session is None:
            self.control.refresh()
        if self.control.session is None:
            raise CommandError("volume: no session is running")
        for dev_id in players:
            override = Override(device=dev_id, channel="volume", value=round(volume))
            self.control.command(override, by=by)
        return f"volume {round(volume)} on {', '.join(players)}"

    def scene(self, name: str, by: str) -> str:
        scene = self.lib.scenes.get(name)
        if scene is None or name == "emergency":
            names = ", ".join(sorted(n for n in self.lib.scenes if n != "emergency"))
            raise CommandError(f"scene: unknown scene {name!r}; one of {names}")
        control, room = self.control, self.lib.room
        control.refresh()
        if control.session is not None:
            if name in self.lib.cues:
                control.command(CueOn(cue=name), by=by)
                return f"cue {name}"
            states = scene_states(room, scene, control.prefs)
            for data in override_commands(room, states, scene.fade_s):
                control.command(EventKind.OVERRIDE, data, by=by)
            return f"scene {name} as manual overrides"
        if control.emergency_on:
            raise CommandError("scene: an emergency is on; clear it first")
        fade_s = max(scene.fade_s, room.safety.min_fade.light_s)
        now = control.now()
        self.room_scene.show(name, scene_states(room, scene), now, fade_s, control.shown())
        try:
            control.store.audit(by, "scene", room.room.id, {"scene": name})
        except RoomctlError as exc:  # the room shows it; the record is what failed
            log.warning("scene %s by %s not recorded in the audit log: %s", name, by, exc)
        self._changed()
        return f"scene {name} (no session: over {fade_s:g} s)"

    def players(self) -> list[str]:
        room = self.lib.room
        phones = room.music.headphones_zone
        return [d.id for d in room.devices if d.kind is DeviceKind.PLAYER and d.zone != phones]


def _parse(payload: bytes) -> tuple[str, dict[str, Any] | None]:
    """The payload as text, and as a JSON object when it is one."""
    if len(payload) > MAX_PAYLOAD:
        raise CommandError(f"payload of {len(payload)} bytes (at most {MAX_PAYLOAD})")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError("payload is not UTF-8 text") from None
    return text, _json_object(text)


def _sender(value: Any) -> str:
    if not isinstance(value, str) or not _SENDER.match(value):
        raise CommandError("'by' must be 1-40 letters, digits or _.:@-")
    return value


def _json_object(text: str) -> dict[str, Any] | None:
    """The payload as a JSON object, None when it is plain text; an error for other JSON."""
    if not text.startswith(("{", "[", '"')):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"payload is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, dict):
        raise CommandError("a JSON payload must be an object")
    return value


def _word(text: str, data: dict[str, Any] | None, key: str) -> str:
    value = data.get(key) if data is not None else text
    if not isinstance(value, str) or not value.strip():
        raise CommandError(f"expected a {key} name" + (f" in {key!r}" if data is not None else ""))
    return value.strip()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())

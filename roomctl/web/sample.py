"""The volume sample: a client hears the room's curated music on the speakers at the volume they
chose, for a few seconds, then it fades out and the speakers are put back as they were.

Like the colour preview it is a layer over the room's desired state, so the engine plays it: the
volume clamp of a session (`scene_states`: the client's unsaved preferences, then the room's
safety maximum), the engine's rise limit (engine/volume.py: the sample reaches its level when the
limit lets it, counted from what the speaker shows), quantizing and retries all apply.  It is
refused while a session runs in the room or an emergency is on, and a session or an emergency
that begins takes the speakers over at once.

A sample goes through four parts, in session time:

- *prime* (only when the engine believes the speaker plays the sample's source but it is paused
  or stopped): paused, so the source is sent again;
- *play*: the source at the level; as long as the rise takes, then `hold_s` at the level;
- *fade*: down to 0 over the room's audio fade (at least `FADE_S`), and kept at 0 until the
  engine says the speaker shows it (so the sample never stops loud, however late the engine is);
- *restore*: what the speaker played before (a paused speaker is paused again; playing music is
  started again, from its beginning) at the volume it showed (never above the safety maximum),
  rising again at the limit; once the engine says each speaker shows it (or after
  `GIVE_UP_S`), the layer leaves the speakers alone.

A second sample while one runs starts again from now with the new choice and keeps what the
speakers showed before the first: samples never stack.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from roomctl.control.apply import scene_states
from roomctl.control.session import SessionControl
from roomctl.devices.base import Player
from roomctl.engine.settings import EngineSettings
from roomctl.engine.volume import RiseLimit
from roomctl.errors import DeviceError, SessionError
from roomctl.model.config import DeviceKind
from roomctl.model.prefs import Preferences
from roomctl.model.scene import SILENCE, MusicTarget, Scene, Source
from roomctl.model.state import DeviceState, PlayerState

__all__ = ["FADE_S", "SAMPLE_HOLD_S", "MusicSample", "SampleLayer", "SamplePlan"]

log = logging.getLogger(__name__)

SAMPLE_HOLD_S = 10.0  # at the chosen level this long (session time)
FADE_S = 5.0  # then fades out over at least this long (the room's audio fade if longer)
PRIME_S = 1.5  # a paused speaker the engine believes plays the source: paused first, this long
GIVE_UP_S = 120.0  # a speaker that never shows the restored state is left alone after this


@dataclass(frozen=True)
class SampleLayer:
    """What the speakers are asked for, from `start`; pure."""

    target: dict[str, PlayerState]
    before: dict[str, PlayerState]  # what each speaker showed before the first sample
    start: float
    prime_s: float
    play_s: float  # the rise and the hold
    fade_s: float

    @property
    def playing_from(self) -> float:
        return self.start + self.prime_s

    @property
    def fading_from(self) -> float:
        return self.playing_from + self.play_s

    @property
    def restoring_from(self) -> float:
        return self.fading_from + self.fade_s

    @property
    def ends_at(self) -> float:
        """The latest the layer lets go of the speakers."""
        return self.restoring_from + GIVE_UP_S

    def active(self, t: float) -> bool:
        return self.start <= t < self.ends_at

    def restoring(self, t: float) -> bool:
        return self.restoring_from <= t < self.ends_at

    def quiet(self) -> dict[str, PlayerState]:
        """The sample at 0, before the speakers go back."""
        return {k: PlayerState(v.source, 0) for k, v in self.target.items()}

    def desired(self, t: float) -> dict[str, PlayerState]:
        """By time alone; `MusicSample.over` holds the quiet until the speakers show it."""
        if not self.active(t):
            return {}
        if t < self.playing_from:
            return {k: PlayerState(SILENCE, self.before[k].volume) for k in self.target}
        if t < self.fading_from:
            return dict(self.target)
        if t < self.restoring_from:
            p = (t - self.fading_from) / self.fade_s if self.fade_s > 0 else 1.0
            return {
                k: PlayerState(v.source, math.floor((v.volume or 0) * (1.0 - p)))
                for k, v in self.target.items()
            }
        return {k: self.before[k] for k in self.target}


@dataclass(frozen=True)
class SamplePlan:
    """What a sample will do, for the page: each speaker's level, and when."""

    source: Source
    volumes: dict[str, int]  # speaker: the level it reaches (after the clamp)
    rise_s: float  # about how long until the level is reached
    hold_s: float
    fade_s: float


@dataclass
class MusicSample:
    control: SessionControl
    players: Mapping[str, Player]
    settings: EngineSettings
    hold_s: float = SAMPLE_HOLD_S
    listeners: list[Callable[[], None]] = field(default_factory=list)
    _layer: SampleLayer | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _quiet: set[str] = field(default_factory=set)  # speakers seen at 0 after the fade
    _back: set[str] = field(default_factory=set)  # speakers seen back as they were

    def active(self, t: float) -> bool:
        layer = self._layer
        if layer is None or not layer.active(t):
            return False
        return not (layer.restoring(t) and self._back >= set(layer.target))

    def over(self, base: Mapping[str, DeviceState], t: float) -> dict[str, DeviceState]:
        """`base` (the room without a session) with the sample's speakers over it.  While it
        restores, a speaker that `base` asks for (a room scene's music) gets that instead."""
        layer = self._layer
        out = dict(base)
        if layer is None or not self.active(t):
            return out
        if not layer.restoring(t):
            out.update(layer.desired(t))
            return out
        shown = self.control.shown()
        for dev_id, state in layer.desired(t).items():
            landed = shown.get(dev_id)
            if dev_id not in self._quiet:
                if not isinstance(landed, PlayerState) or landed.volume != 0:
                    out[dev_id] = layer.quiet()[dev_id]
                    continue
                self._quiet.add(dev_id)
            if landed == state:
                self._back.add(dev_id)
            if dev_id not in base:
                out[dev_id] = state
        return out

    def stop(self) -> None:
        """A session or an emergency took the room: the sample is over."""
        self._layer = None

    async def play(self, music: MusicTarget, prefs: Preferences) -> SamplePlan:
        """Play `music` (its volume the client's choice) on every speaker, through the client's
        unsaved preferences and the room's limits.  SessionError (a sentence) while a session
        runs, an emergency is on, or the speakers cannot be read."""
        async with self._lock:
            control = self.control
            self._refuse_now()
            room = control.lib.room
            zones = {d.zone for d in room.devices if d.kind is DeviceKind.PLAYER}
            scene = Scene(name="sample", music=dict.fromkeys(sorted(zones), music), fade_s=0)
            target = {
                k: v
                for k, v in scene_states(room, scene, prefs).items()
                if isinstance(v, PlayerState) and v.volume is not None and k in self.players
            }
            if not target:
                raise SessionError("this room has no speakers to play a sample on")
            source = next(iter(target.values())).source
            if source is None or source.is_silence:
                raise SessionError(
                    "with these choices the room plays no music: there is nothing to sample"
                )
            now = control.now()
            shown = control.shown()
            layer = self._layer if self.active(now) else None
            before = dict(layer.before) if layer is not None else await self._before(target)
            self._refuse_now()  # a session may have started while the speakers were read
            now = control.now()
            rise_s = max(self._rise_s(shown.get(k), v.volume or 0) for k, v in target.items())
            prime = layer is None and any(
                _believed(shown.get(k), v.source) and before[k].source == SILENCE
                for k, v in target.items()
            )
            fade_s = max(FADE_S, room.safety.min_fade.audio_s)
            self._layer = SampleLayer(
                target=target,
                before=before,
                start=now,
                prime_s=PRIME_S if prime else 0.0,
                play_s=rise_s + self.hold_s,
                fade_s=fade_s,
            )
            self._quiet.clear()
            self._back.clear()
            log.info("sample: %s on %d speaker(s), rising for about %.0f s",
                     source, len(target), rise_s)  # fmt: skip
        for listener in self.listeners:
            listener()
        return SamplePlan(
            source=source,
            volumes={k: v.volume or 0 for k, v in target.items()},
            rise_s=rise_s,
            hold_s=self.hold_s,
            fade_s=fade_s,
        )

    def _refuse_now(self) -> None:
        control = self.control
        control.refresh()
        if control.session is not None:
            raise SessionError("a session is running in this room: samples wait until it ends")
        if control.room_emergency.active(control.now()):
            raise SessionError("an emergency is on in this room: no samples now")

    @property
    def _interval_s(self) -> float:
        return 10.0 / self.settings.max_volume_rise_per_10s

    def _rise_s(self, shown: DeviceState | None, volume: int) -> float:
        """About how long the engine's rise limit takes from what the speaker shows."""
        start = shown.volume if isinstance(shown, PlayerState) else None
        if start is None or volume <= start:
            return 0.0
        s = self.settings
        burst = RiseLimit(s.max_volume_rise_per_10s, s.min_interval_s).burst
        return max(0, volume - start - burst) * self._interval_s

    async def _before(self, target: Mapping[str, PlayerState]) -> dict[str, PlayerState]:
        """What each speaker plays now, to put back: its volume as the engine knows it (never
        above the safety maximum), and its source: paused when nothing plays, else the source
        roomctl started, else the stream or track it plays."""
        shown = self.control.shown()
        limit = self.control.lib.room.safety.max_volume
        out: dict[str, PlayerState] = {}
        for dev_id in target:
            landed = shown.get(dev_id)
            if not isinstance(landed, PlayerState) or landed.volume is None:
                raise SessionError(
                    "the room's speakers are not answering yet: try the sample again in a moment"
                )
            try:
                playing = await self.players[dev_id].now_playing()
            except DeviceError as exc:
                log.info("sample: %s cannot be read: %s", dev_id, exc.reason)
                raise SessionError(
                    "the room's speakers are not answering: try the sample again in a moment"
                ) from exc
            if playing is None:
                source = SILENCE
            elif landed.source is not None and not landed.source.is_silence:
                source = landed.source
            elif playing.uri:
                source = Source(kind="uri", name=playing.uri)
            else:
                source = SILENCE
            out[dev_id] = PlayerState(source, min(landed.volume, limit))
        return out


def _believed(landed: DeviceState | None, source: Source | None) -> bool:
    """The engine thinks the speaker plays `source` (so it would not send it again)."""
    return isinstance(landed, PlayerState) and source is not None and landed.source == source

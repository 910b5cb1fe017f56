"""Why a session command cannot be given now: each refusal is a SessionError whose message a
facilitator can read (the tablet, the CLI and MQTT show it as it is)."""

from __future__ import annotations

from roomctl.errors import SessionError
from roomctl.model.config import DeviceKind
from roomctl.model.events import (
    Advance,
    Command,
    CueOff,
    CueOn,
    Dose,
    EmergencyClear,
    HeatAlert,
    HeatClear,
    Hold,
    Jump,
    MusicPause,
    MusicResume,
    Override,
    Resume,
    StepBack,
)
from roomctl.model.library import Library
from roomctl.timeline.state import SessionStatus
from roomctl.timeline.values import override_values

__all__ = ["refuse"]


def refuse(p: Command, st: SessionStatus | None, lib: Library) -> None:  # noqa: PLR0912
    """Raise SessionError, with a message fit to show, when `p` cannot be given now (`st`: the
    session's status at this moment)."""
    if st is None:
        raise SessionError("the session has not started yet")
    if st.ended:
        raise SessionError("the session has ended")
    arc = lib.arc(st.arc)
    names = [ph.name for ph in arc.phases]
    if isinstance(p, Advance) and st.phase_index >= len(names) - 1:
        raise SessionError(f"{st.phase!r} is the last phase; end the session instead")
    if isinstance(p, StepBack) and st.phase_index == 0:
        raise SessionError(f"{st.phase!r} is the first phase")
    if isinstance(p, Jump) and p.phase not in names:
        raise SessionError(f"no phase {p.phase!r} in {arc.name}; phases: {', '.join(names)}")
    if isinstance(p, Hold) and st.held and not st.emergency:
        raise SessionError("the arc is already held")
    if isinstance(p, Resume) and not st.held:
        raise SessionError("the arc is not held")
    if isinstance(p, CueOn) and p.cue not in lib.scenes:
        raise SessionError(f"no cue scene {p.cue!r}; cues: {', '.join(lib.cues)}")
    if isinstance(p, CueOff) and st.cue is None:
        raise SessionError("no cue is on")
    if isinstance(p, EmergencyClear) and not st.emergency:
        raise SessionError("there is no emergency to clear")
    if isinstance(p, HeatAlert) and st.cooling:
        raise SessionError("a heat alert is already on")
    if isinstance(p, HeatClear) and not st.cooling:
        raise SessionError("no heat alert is on")
    if isinstance(p, Dose) and st.dosed:
        raise SessionError("the dose is already recorded")
    if isinstance(p, MusicPause | MusicResume):
        _refuse_music(p, st.music_paused is not None, st.emergency, lib)
    if isinstance(p, Override):
        try:
            dev = lib.room.device(p.device)
        except KeyError:
            ids = ", ".join(d.id for d in lib.room.devices)
            raise SessionError(f"no device {p.device!r}; devices: {ids}") from None
        override_values(dev, p.channel, p.value, {})


def _refuse_music(p: MusicPause | MusicResume, paused: bool, emergency: bool, lib: Library) -> None:
    if not any(d.kind is DeviceKind.PLAYER for d in lib.room.devices):
        raise SessionError("the room has no music players")
    if isinstance(p, MusicPause) and paused:
        raise SessionError("the music is already paused")
    if isinstance(p, MusicResume) and not paused:
        raise SessionError("the music is not paused")
    if isinstance(p, MusicResume) and emergency:
        raise SessionError("an emergency is on: clear it first, then resume the music")

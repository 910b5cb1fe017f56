"""A facilitator's mark (`roomctl session mark NAME`, `session supplemental`): a named moment in
the session record.  A mark that names one of the arc's markers with a cue (MDMA's
`supplemental`) runs that cue for its time; the event records which cue and how long, so the
record says what the room did even if the arc file changes later.  Each of the arc's markers is
recorded once: a dose must never be recorded twice by a second tap."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from roomctl.errors import SessionError
from roomctl.model.arc import Arc
from roomctl.model.events import Event, Mark
from roomctl.model.scene import Scene

__all__ = ["complete_mark"]


def complete_mark(
    mark: Mark, arc: Arc, scenes: Mapping[str, Scene], events: Sequence[Event]
) -> Mark:
    """The mark as it is stored: named as the arc's marker, with that marker's cue unless the
    mark chose one.  SessionError for an empty name, an unknown cue scene, or an arc marker
    that is already recorded."""
    name = mark.name.strip()
    if not name:
        raise SessionError("mark: the name is empty")
    marker = arc.marker(name)
    if marker is not None:
        name = marker.name
        for ev in events:
            if isinstance(ev.payload, Mark) and arc.marker(ev.payload.name) is marker:
                when = time.strftime("%H:%M", time.localtime(ev.at))
                raise SessionError(
                    f"{marker.name!r} is already recorded (at {when} by {ev.by}); "
                    "add a note instead"
                )
        if mark.cue is None and marker.cue is not None:
            return Mark(name=name, cue=marker.cue, cue_s=marker.cue_s)
    if mark.cue is not None and mark.cue not in scenes:
        raise SessionError(f"mark: no cue scene {mark.cue!r}")
    return mark if name == mark.name else Mark(name=name, cue=mark.cue, cue_s=mark.cue_s)

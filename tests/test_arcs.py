"""The shipped arcs behave as a facilitator expects when nobody steers them (docs/arcs.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from roomctl.model.library import Library
from roomctl.model.state import LightState
from roomctl.preview.rows import preview, start_events
from roomctl.timeline.fold import Timeline

ROOT = Path(__file__).resolve().parent.parent
ARCS = ("psilocybin", "mdma", "lsd", "ketamine")


def lamp_at(lib: Library, arc_name: str, times: list[float]) -> list[float]:
    arc = lib.arcs[arc_name]
    tl = Timeline(lib.room, arc, lib.scenes, start_events(arc))
    out = []
    for _, snap in preview(tl, times):
        lamp = snap.devices["lamp"]
        assert isinstance(lamp, LightState)
        assert lamp.brightness_pct is not None
        out.append(lamp.brightness_pct)
    return out


@pytest.mark.parametrize("arc_name", ARCS)
def test_an_arc_left_alone_ends_in_a_room_for_talking(lib: Library, arc_name: str) -> None:
    """However long nobody ends the session, the room does not stay at session levels: the
    last phase brings the lamp back to a face-to-face level (as bright as arrival, within 20 %)."""
    arc = lib.arcs[arc_name]
    end = arc.nominal_starts()[-1] + (arc.phases[-1].duration or 0.0)
    arrival = lamp_at(lib, arc_name, [arc.starts_at + 600])[0]
    late = lamp_at(lib, arc_name, [end + 2 * 3600])[0]
    assert late >= 0.8 * arrival, (arc_name, late, arrival)


def test_ketamine_recovery_brightens_slowly_right_after_the_infusion(lib: Library) -> None:
    arc = lib.arcs["ketamine"]
    recovery = next(p for p in arc.phases if p.name == "recovery")
    assert recovery.curve == "ease-in"
    start = 40 * 60.0
    t = [start, start + 600, start + 1200, start + 1800]
    lamp = lamp_at(lib, "ketamine", t)
    rise = lamp[-1] - lamp[0]
    assert rise > 10  # it does reach the recovery level by the end of the phase
    assert lamp[1] - lamp[0] < rise / 5  # the first third carries under a fifth of the rise
    assert lamp[1] - lamp[0] < lamp[2] - lamp[1] < lamp[3] - lamp[2]

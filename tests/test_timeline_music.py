"""The timeline's music: a change of source dips the volume to zero at the switch, and volume never
rises faster than the safety limit or above the caps.

All times are wall seconds after the START event at T.
"""

from __future__ import annotations

import itertools
from typing import Any

from roomctl.model.arc import Arc
from roomctl.model.library import Library
from roomctl.model.prefs import Preferences
from roomctl.model.scene import Scene, Source
from tests.timeline_support import K, make, max_rise_per_10s, player, snap


def test_source_change_dips_the_volume_to_zero_at_the_switch(lib: Library) -> None:
    tl = make(lib, "psilocybin")  # Settling In -> Onset when onset starts at +3600 s
    samples = [(t, player(snap(tl, t))) for t in range(3590, 3720)]
    old = Source(kind="favorite", name="Settling In")
    new = Source(kind="favorite", name="Onset")
    switch = next(t for t, p in samples if p.source == new)
    assert all(p.source == old for t, p in samples if t < switch)
    assert all(p.source == new for t, p in samples if t >= switch)
    assert samples[switch - 3590][1].volume == 0  # silent at the moment of the switch
    before = [p.volume or 0 for t, p in samples if t < switch]
    assert before[0] == 16
    assert all(b <= a for a, b in itertools.pairwise(before))  # fades out, no hard cut
    assert all(v > 0 for v in before[:-1])
    assert samples[-1][1].volume == 16


def _music_arc(lib: Library, *phases: tuple[str, dict[str, Any]]) -> tuple[Arc, dict[str, Scene]]:
    scenes = {}
    for name, music in phases:
        scenes[name] = Scene.model_validate(
            {
                "name": name,
                "fade_s": 30,
                "lights": {"lamp": {"brightness_pct": 30, "color_temp_k": 2700}},
                "music": {"speakers": music},
            }
        )
    arc = Arc.model_validate(
        {
            "name": "music-test",
            "phases": [
                {"name": n, "scene": n, "duration": 10, "fade_s": 30} for n, _ in phases[:-1]
            ]
            + [{"name": phases[-1][0], "scene": phases[-1][0]}],
        }
    )
    return arc, scenes


def test_volume_rise_in_an_arc_fade_is_limited(lib: Library) -> None:
    arc, scenes = _music_arc(
        lib,
        ("quiet", {"favorite": "Piano", "volume": 0}),
        ("loud", {"favorite": "Piano", "volume": 60}),
    )
    tl = make(lib, arc, scenes=scenes)
    volumes = [player(snap(tl, t)).volume or 0 for t in range(550, 800)]
    assert volumes[0] == 0 and volumes[-1] == 60
    rate = lib.room.safety.max_volume_rise_per_10s
    assert max_rise_per_10s(volumes) <= rate + 1  # +1: volumes are rounded to whole steps


def test_volume_rise_in_a_cue_fade_is_limited(lib: Library) -> None:
    arc, scenes = _music_arc(lib, ("quiet", {"favorite": "Piano", "volume": 0}))
    scenes["loud-cue"] = Scene.model_validate(
        {
            "name": "loud-cue",
            "fade_s": 30,
            "audio_fade_s": 5,
            "music": {"speakers": {"volume": 60}},
        }
    )
    tl = make(lib, arc, (300, K.CUE_ON, {"cue": "loud-cue"}), scenes=scenes)
    volumes = [player(snap(tl, t)).volume or 0 for t in range(290, 500)]
    assert volumes[0] == 0 and volumes[-1] == 60
    assert max_rise_per_10s(volumes) <= lib.room.safety.max_volume_rise_per_10s + 1


def test_volume_never_exceeds_the_limits(lib: Library) -> None:
    arc, scenes = _music_arc(
        lib,
        ("quiet", {"favorite": "Piano", "volume": 0}),
        ("loud", {"favorite": "Piano", "volume": 100}),
    )
    tl = make(
        lib,
        arc,
        (
            900,
            K.OVERRIDE,
            {"device": "speakers", "channel": "volume", "value": 100, "until": "session"},
        ),
        scenes=scenes,
        prefs=Preferences(volume_max=45),
    )
    assert max(player(snap(tl, t)).volume or 0 for t in range(0, 1500, 5)) == 45
    tl = make(lib, arc, scenes=scenes)
    assert max(player(snap(tl, t)).volume or 0 for t in range(0, 1500, 5)) == 60


def test_volume_rise_after_a_source_switch_is_limited(lib: Library) -> None:
    tl = make(lib, "psilocybin")  # Settling In (16) -> Onset (18) at +3600 s
    volumes = [player(snap(tl, t)).volume or 0 for t in range(3590, 3700)]
    assert max_rise_per_10s(volumes) <= lib.room.safety.max_volume_rise_per_10s + 1


def test_music_source_switch_in_a_custom_arc_never_cuts(lib: Library) -> None:
    arc, scenes = _music_arc(
        lib,
        ("a", {"favorite": "Piano", "volume": 30}),
        ("b", {"favorite": "Strings", "volume": 30}),
    )
    tl = make(lib, arc, scenes=scenes)
    samples = [player(snap(tl, t / 4)) for t in range(4 * 590, 4 * 640)]
    for a, b in itertools.pairwise(samples):
        if a.source != b.source:
            assert (a.volume or 0) <= 2 and (b.volume or 0) <= 2

"""A client's preferences in plain words, and where the room's limits override them.

Pure functions, no I/O: the preview, `roomctl client prefs`, `roomctl session status`, the
session record and (later) the client page all say the same thing the same way.

`overrides(prefs, safety, arc)` lists, as sentences a facilitator can read to a client, every
choice the room will not follow as asked: a temperature outside the safety band (or an arc's
narrower band), a volume wish above the room's cap, a brightness limit below the room's floor,
a liked colour that is also avoided, a favourite that an avoided word rules out.  It mirrors
what `prefs.resolve` and the timeline's clamp do; an empty list means every choice is honoured.
"""

from __future__ import annotations

from collections.abc import Iterable

from roomctl.model.arc import Arc
from roomctl.model.color import HueRange, hue_in_ranges
from roomctl.model.config import SafetyConfig
from roomctl.model.events import Note
from roomctl.model.prefs import COLOR_NAMES, HueSpan, Preferences, band

__all__ = [
    "limits_note",
    "overrides",
    "overrides_for_arcs",
    "summary",
]

# Substances written as acronyms in sentences ("MDMA's 20–22 °C band").
_ACRONYMS = frozenset({"mdma", "lsd", "dmt", "5-meo-dmt"})
NOTE_PREFIX = "The room's limits override some of the client's preferences:"


def _num(value: float) -> str:
    return f"{value:g}"


def _arc_name(arc: Arc) -> str:
    name = arc.substance or arc.name
    return name.upper() if name.lower() in _ACRONYMS else name


def _colour(c: str | float | HueSpan) -> str:
    if isinstance(c, str):
        return c
    if isinstance(c, HueSpan):
        return f"hues {_num(c.start)}–{_num(c.end)}°"
    return f"hue {_num(float(c))}°"


def _range_of(c: str | HueSpan) -> HueRange:
    return COLOR_NAMES[c][1] if isinstance(c, str) else (c.start, c.end)


def _temperature(prefs: Preferences, safety: SafetyConfig, arc: Arc | None) -> list[str]:
    wish = prefs.temperature_c
    if wish is None:
        return []
    narrower = arc.temperature_c if arc is not None else None
    lo, hi = band(safety, narrower)
    # under an arc's own band a wish for warmth never makes a phase warmer than its scene
    room = (safety.temperature_c.min, safety.temperature_c.max)
    runs_cool = arc is not None and (lo, hi) != room and wish > lo
    cool = f" ({_arc_name(arc)} runs cool: offer a blanket rather than heat)" if arc else ""
    if lo <= wish <= hi:
        if not runs_cool:
            return []
        return [
            f"Temperature {_num(wish)} °C: no phase is made warmer than its own temperature"
            f"{cool}."
        ]
    keep = lo if wish < lo else hi
    if arc is not None and (lo, hi) != room:
        whose = f"{_arc_name(arc)}'s {_num(lo)}–{_num(hi)} °C band"
    else:
        whose = f"the room's safety band of {_num(lo)}–{_num(hi)} °C"
    sentence = f"Temperature {_num(wish)} °C is outside {whose}: the room will keep to "
    sentence += f"{_num(keep)} °C"
    if runs_cool:
        sentence += f" at most, no phase warmer than its own temperature{cool}"
    return [sentence + "."]


def _volume(prefs: Preferences, safety: SafetyConfig) -> list[str]:
    # 100 is "no limit of my own", not a wish for loud music
    if prefs.volume_max >= 100 or prefs.volume_max <= safety.max_volume:
        return []
    return [
        f"Volume up to {prefs.volume_max} is above the room's cap of {safety.max_volume}: "
        f"music will stay at or below {safety.max_volume}."
    ]


def _brightness(prefs: Preferences, safety: SafetyConfig) -> list[str]:
    floor = safety.min_brightness_pct
    if prefs.brightness_max_pct >= floor:
        return []
    return [
        f"Brightness up to {_num(prefs.brightness_max_pct)} % is below the room's floor of "
        f"{_num(floor)} %: the room is never fully dark, so lights may reach {_num(floor)} % "
        "and the floor light stays at least that bright."
    ]


def _colours(prefs: Preferences) -> list[str]:
    out: list[str] = []
    for liked in prefs.colors_liked:
        hue = COLOR_NAMES[liked][0] if isinstance(liked, str) else float(liked)
        hits = [a for a in prefs.colors_avoided if hue_in_ranges(hue, [_range_of(a)])]
        if not hits:
            continue
        if isinstance(liked, str) and liked in hits:
            out.append(
                f"The colour {liked} is both liked and avoided: avoiding wins, it will not be "
                "shown."
            )
        else:
            avoided = " and ".join(_colour(a) for a in hits)
            out.append(
                f"The liked colour {_colour(liked)} falls within the avoided {avoided}: "
                "avoiding wins, it will not be shown."
            )
    return out


def _music(prefs: Preferences) -> list[str]:
    out: list[str] = []
    for fav in prefs.music.favorites:
        words = [w for w in prefs.music.avoid if w and w.lower() in fav.lower()]
        if words:
            out.append(
                f"The favourite {fav!r} contains the avoided word {words[0]!r}: avoiding wins, "
                "it will not be played."
            )
    return out


def overrides(prefs: Preferences, safety: SafetyConfig, arc: Arc | None = None) -> list[str]:
    """Every choice in `prefs` the room will not follow as asked, as plain sentences.

    `arc` adds its narrower temperature band; without it only the room's safety limits count.
    """
    return [
        *_temperature(prefs, safety, arc),
        *_volume(prefs, safety),
        *_brightness(prefs, safety),
        *_colours(prefs),
        *_music(prefs),
    ]


def overrides_for_arcs(
    prefs: Preferences, safety: SafetyConfig, arcs: Iterable[Arc]
) -> list[str]:
    """What the limits override in any session: the room's own limits, then each arc's
    narrower band (for preferences saved before the arc is chosen).  No sentence twice."""
    out = overrides(prefs, safety)
    for arc in arcs:
        for sentence in overrides(prefs, safety, arc):
            if sentence not in out:
                out.append(sentence)
    return out


def limits_note(prefs: Preferences, safety: SafetyConfig, arc: Arc) -> Note | None:
    """The session record's one note of what the limits override (None if nothing)."""
    found = overrides(prefs, safety, arc)
    if not found:
        return None
    return Note(text=" ".join([NOTE_PREFIX, *found]))


def summary(prefs: Preferences) -> list[str]:
    """The preferences in force, one short phrase per choice the client made."""
    out: list[str] = []
    if prefs.colors_liked:
        out.append("likes " + ", ".join(_colour(c) for c in prefs.colors_liked))
    if prefs.colors_avoided:
        out.append("avoids " + ", ".join(_colour(c) for c in prefs.colors_avoided))
    if prefs.brightness_max_pct < 100:
        out.append(f"brightness up to {_num(prefs.brightness_max_pct)} %")
    if prefs.darkness_limit_pct > 0:
        out.append(f"never dimmer than {_num(prefs.darkness_limit_pct)} %")
    if prefs.music.favorites:
        out.append("music: " + ", ".join(prefs.music.favorites))
    if prefs.music.avoid:
        out.append("no music with " + ", ".join(repr(w) for w in prefs.music.avoid))
    if prefs.volume_max < 100:
        out.append(f"volume up to {prefs.volume_max}")
    if prefs.temperature_c is not None:
        out.append(f"temperature {_num(prefs.temperature_c)} °C")
    return out

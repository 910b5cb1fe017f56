"""How long the timeline takes to answer "what should the room show at t" as a session's event
log grows (the engine asks this many times a second: every device looks ahead)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from bench import Figure
from roomctl.model.events import Event, EventKind
from roomctl.model.library import load_library
from roomctl.timeline.fold import Timeline

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0
KINDS: tuple[tuple[EventKind, dict[str, Any]], ...] = (
    (EventKind.CUE_ON, {"cue": "talk"}),
    (EventKind.CUE_OFF, {}),
    (EventKind.OVERRIDE, {"device": "lamp", "channel": "brightness_pct", "value": 30}),
    (EventKind.OVERRIDE_CLEAR, {}),
    (EventKind.NOTE, {"text": "breathing slowly"}),
    (EventKind.HOLD, {}),
    (EventKind.RESUME, {}),
)


def _events(count: int) -> list[Event]:
    rng = random.Random(count)
    events = [Event.of(T0, EventKind.START, {"arc": "psilocybin"}, seq=1)]
    t = T0
    for i in range(count):
        t += rng.uniform(60, 200)
        kind, data = KINDS[i % len(KINDS)]
        events.append(Event.of(t, kind, dict(data), seq=i + 2))
    return events


def measure(count: int, calls: int) -> tuple[float, float]:
    """(ms for the first call, ms per call after it) with `count` events in the log."""
    lib = load_library(ROOT / "config.example.yaml")
    events = _events(count)
    timeline = Timeline(lib.room, lib.arcs["psilocybin"], lib.scenes, events)
    after = events[-1].at
    began = time.perf_counter()
    timeline.at(after + 1)
    first = (time.perf_counter() - began) * 1000
    began = time.perf_counter()
    for i in range(calls):
        timeline.at(after + 2 + i * 0.37)
    return first, (time.perf_counter() - began) * 1000 / calls


def run(quick: bool = False) -> list[Figure]:
    calls = 200 if quick else 2000
    figures = []
    for count in (0, 50, 200, 1000):
        first, per_call = measure(count, calls)
        figures.append(
            Figure(
                f"timeline: Timeline.at() with {count} events (first call / each call after)",
                f"{first:.2f} ms / {per_call:.3f} ms",
            )
        )
    return figures

"""Benchmarks of roomctl against its loopback emulators.  Not tests: they print figures and
append them, with the machine they ran on, to bench/RESULTS.md.

    .venv/bin/python -m bench            # everything (about 15 minutes)
    .venv/bin/python -m bench --quick    # fewer repetitions, a shorter arc
    .venv/bin/python -m bench.soak       # the soak (about 15 minutes)

- ``bench.fanout``: 16 emulated devices answering 50 ms late; how long until every one has
  acknowledged a new target through the engine, against the slowest device alone, and against
  setting them one after another.
- ``bench.fade_budget``: the psilocybin arc played through the real engine and drivers into
  emulators on a virtual clock; commands per device and the visible step per command, read from
  the emulators' own command logs.
"""

from __future__ import annotations

import math
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Figure", "machine_line", "median", "p90", "print_table"]


@dataclass(frozen=True)
class Figure:
    """One row of the results table.  `met` is None for figures without a target."""

    measure: str
    value: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return {True: "yes", False: "**NO**", None: "–"}[self.met]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return math.nan
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def p90(values: Sequence[float]) -> float:
    """The 90th percentile, nearest rank (of 10 values: the 9th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown CPU"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware") and value.strip():
            return value.strip()
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {_cpu_model()}, "
        f"Python {platform.python_version()} ({sys.implementation.name}), "
        f"{platform.system()} {platform.release()}"
    )


def print_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> None:
    """A plain aligned text table on stdout."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))

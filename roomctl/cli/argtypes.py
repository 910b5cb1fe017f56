"""Argument types for the command line: values checked where they are parsed, so a bad value is
one usage line (argparse's "argument --transition: ...") and never a traceback further on."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["seconds"]


def seconds(min_s: float = 0.0, max_s: float = 24 * 3600.0) -> Callable[[str], float]:
    """An argparse `type=` for a duration in seconds between `min_s` and `max_s` (inclusive).

    Refuses what is not a number, nan, infinity and values outside the range, e.g.
    ``apply.add_argument("--transition", type=seconds(0, 3600), metavar="S")``."""
    if not (math.isfinite(min_s) and math.isfinite(max_s) and min_s <= max_s):
        raise ValueError(f"seconds(): bad range {min_s!r}..{max_s!r}")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number of seconds (e.g. 30 or 2.5)"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds")
        if not min_s <= value <= max_s:
            raise argparse.ArgumentTypeError(f"{text} s is outside {min_s:g}..{max_s:g} s")
        return value

    parse.__name__ = "seconds"  # argparse names the type in some messages
    return parse

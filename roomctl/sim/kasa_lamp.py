"""What an emulated Kasa light emits over time: settings, on/off, and linear fades on a clock.

A command starts a fade from what the light emits *now* (so a command in the middle of a fade
continues smoothly from there) to the new target over the transition period.  Turning off fades
the brightness to zero and keeps the settings for the next turn-on, like a real bulb's
``dft_on_state``; while that fade runs the light is still lit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CHANNELS", "Lamp", "LampReading"]

CHANNELS = ("brightness", "color_temp", "hue", "saturation")


@dataclass(frozen=True, slots=True)
class LampReading:
    """What the light shows at one instant (integers, as a device reports them)."""

    lit: bool
    brightness: int
    color_temp: int
    hue: int
    saturation: int


@dataclass(frozen=True, slots=True)
class _Fade:
    start: dict[str, float]
    end: dict[str, float]
    t0: float
    duration_s: float

    def progress(self, now: float) -> float:
        if self.duration_s <= 0:
            return 1.0
        return min(1.0, max(0.0, (now - self.t0) / self.duration_s))

    def at(self, now: float) -> dict[str, float]:
        frac = self.progress(now)
        if frac >= 1.0:
            return dict(self.end)
        return {key: _blend(key, self.start[key], self.end[key], frac) for key in self.end}


def _blend(key: str, start: float, end: float, frac: float) -> float:
    if key == "hue":  # the short way round the colour wheel
        delta = (end - start + 180.0) % 360.0 - 180.0
        return (start + delta * frac) % 360.0
    if key == "color_temp" and (start == 0 or end == 0):
        return end  # switching between colour and white mode is a jump, not a fade
    return start + (end - start) * frac


class Lamp:
    """A dimmable light with optional colour temperature and hue/saturation channels."""

    def __init__(
        self,
        time_fn: Callable[[], float],
        *,
        on: bool,
        brightness: int,
        color_temp: int,
        hue: int = 0,
        saturation: int = 0,
    ) -> None:
        self._time = time_fn
        self._on = on
        self._settings: dict[str, float] = {
            "brightness": float(brightness),
            "color_temp": float(color_temp),
            "hue": float(hue),
            "saturation": float(saturation),
        }
        now = time_fn()
        emitted = self._emission_target()
        self._fade = _Fade(start=emitted, end=emitted, t0=now, duration_s=0.0)

    @property
    def on(self) -> bool:
        """The commanded state (a light fading out is already off here)."""
        return self._on

    def settings(self) -> dict[str, int]:
        """What the light shows when on (and returns to after an off)."""
        return {key: round(value) for key, value in self._settings.items()}

    def fading(self) -> bool:
        return self._fade.progress(self._time()) < 1.0

    def read(self) -> LampReading:
        """What the light emits now; brightness is at least 1 while it is lit."""
        emitted = self._fade.at(self._time())
        lit = self._on or emitted["brightness"] > 0
        brightness = round(emitted["brightness"]) if lit else round(self._settings["brightness"])
        return LampReading(
            lit=lit,
            brightness=max(1, brightness),
            color_temp=round(emitted["color_temp"]),
            hue=round(emitted["hue"]),
            saturation=round(emitted["saturation"]),
        )

    def command(self, *, on: bool | None, changes: dict[str, int], transition_s: float) -> None:
        """Change settings and/or on/off, fading from what is emitted now over transition_s."""
        now = self._time()
        start = self._fade.at(now)
        for key, value in changes.items():
            if key not in CHANNELS:
                raise KeyError(key)
            self._settings[key] = float(value)
        if on is not None:
            self._on = on
        self._fade = _Fade(
            start=start, end=self._emission_target(), t0=now, duration_s=max(0.0, transition_s)
        )

    def _emission_target(self) -> dict[str, float]:
        target = dict(self._settings)
        if not self._on:
            target["brightness"] = 0.0
        return target

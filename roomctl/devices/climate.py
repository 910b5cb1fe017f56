"""Heat and cold: is the room inside its safety band, and does every thermostat still know
the room's temperature?

`climate_alerts` is the pure rule: thermostat readings and the band (`safety.temperature_c`)
in, alerts out, with a small margin so a temperature hovering at an edge does not flap.
`ClimateWatch` applies it to the room's thermostats on the injected clock, keeps the current
alerts for the session status, and logs each alert once when it is raised and once when it
clears.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from roomctl.clock import Clock
from roomctl.devices.base import Thermostat
from roomctl.errors import DeviceError
from roomctl.model.config import TemperatureBand
from roomctl.model.state import ThermostatReading

__all__ = [
    "CLEAR_MARGIN_C",
    "AlertKind",
    "ClimateAlert",
    "ClimateWatch",
    "alert_changes",
    "climate_alerts",
]

log = logging.getLogger(__name__)

AlertKind = Literal["too_cold", "too_hot", "sensor_silent"]

# An alert clears only once the room is this far back inside the band.
CLEAR_MARGIN_C = 0.3


@dataclass(frozen=True, slots=True)
class ClimateAlert:
    """One thermostat's alert.  Alerts compare equal by kind and device only, so the same
    alert with a newer reading is no change."""

    kind: AlertKind
    device_id: str
    temperature_c: float | None = field(default=None, compare=False)
    limit_c: float | None = field(default=None, compare=False)  # the band edge crossed
    sensor_age_s: float | None = field(default=None, compare=False)  # None: never / unknown
    since: float = field(default=0.0, compare=False)  # wall time when it was first raised
    # too_hot: since when the room has been back under the limit (it clears after a while)
    cool_since: float | None = field(default=None, compare=False)
    limit_name: str = field(default="maximum", compare=False)  # or "heat alert threshold"

    def message(self) -> str:
        """One line for logs, the session status and the tablet (without the device id)."""
        if self.kind == "too_cold":
            return f"the room is {self.temperature_c:.1f} °C, below the {self.limit_c:g} °C minimum"
        if self.kind == "too_hot" and self.temperature_c is None:
            return f"the room was above the {self.limit_c:g} °C {self.limit_name}"
        if self.kind == "too_hot":
            return (
                f"the room is {self.temperature_c:.1f} °C, above the {self.limit_c:g} °C "
                f"{self.limit_name}"
            )
        if self.sensor_age_s is None:
            return "no temperature from the sensor; the room's temperature is unknown"
        return f"the temperature sensor has been silent for {self.sensor_age_s:.0f} s"


Readings = Mapping[str, ThermostatReading | None]  # None: the thermostat could not be read


def climate_alerts(
    readings: Readings,
    band: TemperatureBand,
    now: float,
    previous: Iterable[ClimateAlert] = (),
    *,
    clear_margin_c: float = CLEAR_MARGIN_C,
    heat_alert_c: float | None = None,
    clear_after_s: float = 0.0,
) -> list[ClimateAlert]:
    """The alerts for `readings` (by device id) against `band`, at wall time `now`.

    - sensor_silent: the reading says the sensor is silent, or the thermostat could not be
      read at all (None); a too_hot alert of that thermostat stays while it is silent;
    - too_cold: the temperature is below `band.min`; it stays until the room is
      `clear_margin_c` back inside the band;
    - too_hot: the temperature is above `heat_alert_c` (the session's arc's threshold) or
      `band.max`, whichever is lower; it stays until the room has been `clear_margin_c` under
      that limit for `clear_after_s` (so the cooling does not flap).
    A reading without a temperature that is not (yet) silent raises nothing.
    """
    before = {(a.kind, a.device_id): a for a in previous}
    out: list[ClimateAlert] = []
    hot_c, hot_name = band.max, "maximum"
    if heat_alert_c is not None and heat_alert_c <= band.max:
        hot_c, hot_name = heat_alert_c, "heat alert threshold"

    def raise_(
        kind: AlertKind,
        device_id: str,
        temperature_c: float | None = None,
        limit_c: float | None = None,
        sensor_age_s: float | None = None,
    ) -> None:
        earlier = before.get((kind, device_id))
        since = now if earlier is None else earlier.since
        out.append(ClimateAlert(kind, device_id, temperature_c, limit_c, sensor_age_s, since))

    for device_id, reading in sorted(readings.items()):
        hot = before.get(("too_hot", device_id))
        if reading is None or reading.sensor_silent:
            age = None if reading is None else reading.sensor_age_s
            raise_("sensor_silent", device_id, sensor_age_s=age)
            if hot is not None:  # nobody knows the room cooled down: the cooling goes on
                out.append(hot)
            continue
        celsius = reading.current_c
        if celsius is None or not math.isfinite(celsius):
            if hot is not None:
                out.append(hot)
            continue
        cold = ("too_cold", device_id) in before
        if celsius < band.min or (cold and celsius < band.min + clear_margin_c):
            raise_("too_cold", device_id, temperature_c=celsius, limit_c=band.min)
        still = hot is not None and celsius > hot_c - clear_margin_c
        if celsius > hot_c or still:
            raise_("too_hot", device_id, temperature_c=celsius, limit_c=hot_c)
            out[-1] = replace(out[-1], limit_name=hot_name)
        elif hot is not None:  # back under the limit: it clears after `clear_after_s`
            cool_since = now if hot.cool_since is None else hot.cool_since
            if now - cool_since < clear_after_s:
                out.append(replace(hot, temperature_c=celsius, cool_since=cool_since))
    return out


def alert_changes(
    before: Iterable[ClimateAlert], after: Iterable[ClimateAlert]
) -> tuple[list[ClimateAlert], list[ClimateAlert]]:
    """(raised, cleared) between two lists of alerts."""
    old, new = list(before), list(after)
    return [a for a in new if a not in old], [a for a in old if a not in new]


Listener = Callable[[list[ClimateAlert], list[ClimateAlert]], None]


class ClimateWatch:
    """Checks the room's thermostats every `interval_s` (on the injected clock).

    `alerts` is the current list (for the session status); every raised alert is logged once
    as a warning and every cleared one once as info; `listeners` get (raised, cleared) after
    each change.  A thermostat that cannot be read counts as a silent sensor.  Never raises.
    """

    def __init__(
        self,
        thermostats: Iterable[Thermostat],
        band: TemperatureBand,
        clock: Clock,
        *,
        interval_s: float = 60.0,
        read_timeout_s: float = 30.0,
        heat_alert_c: Callable[[], float | None] = lambda: None,
        clear_after_s: float = 0.0,
    ) -> None:
        self.thermostats = list(thermostats)
        self.band = band
        # the running session's arc's heat alert threshold (None: the band's maximum)
        self.heat_alert_c = heat_alert_c
        self.clear_after_s = clear_after_s
        self.clock = clock
        self.interval_s = interval_s
        self.read_timeout_s = read_timeout_s
        self.alerts: list[ClimateAlert] = []
        # The room's temperature from the last check: the first thermostat (in the order
        # given) with a fresh reading; None when none has one.
        self.temperature_c: float | None = None
        self.listeners: list[Listener] = []

    async def check(self) -> tuple[list[ClimateAlert], list[ClimateAlert]]:
        """Read every thermostat once, update `alerts`; return (raised, cleared)."""
        values = await asyncio.gather(*(self._read(t) for t in self.thermostats))
        readings = {t.device_id: value for t, value in zip(self.thermostats, values, strict=True)}
        alerts = climate_alerts(
            readings,
            self.band,
            self.clock.now(),
            self.alerts,
            heat_alert_c=self.heat_alert_c(),
            clear_after_s=self.clear_after_s,
        )
        raised, cleared = alert_changes(self.alerts, alerts)
        self.alerts = alerts
        temperature = next(
            (
                round(r.current_c, 1)
                for r in values
                if r is not None and not r.sensor_silent
                and r.current_c is not None and math.isfinite(r.current_c)
            ),
            None,
        )  # fmt: skip
        changed = temperature != self.temperature_c
        self.temperature_c = temperature
        for alert in raised:
            log.warning("Climate %s: %s", alert.device_id, alert.message())
        for alert in cleared:
            log.info("Climate %s: cleared: %s", alert.device_id, alert.kind.replace("_", " "))
        if raised or cleared or changed:
            for listener in list(self.listeners):
                try:
                    listener(raised, cleared)
                except Exception:
                    log.exception("Climate alert listener %r failed", listener)
        return raised, cleared

    async def run(self) -> None:
        """Check every `interval_s` until cancelled."""
        while True:
            await self.check()
            await self.clock.sleep(self.interval_s)

    async def _read(self, thermostat: Thermostat) -> ThermostatReading | None:
        try:
            async with asyncio.timeout(self.read_timeout_s):
                return await thermostat.read_thermostat()
        except (DeviceError, TimeoutError) as exc:
            log.debug("Climate %s: cannot read the thermostat: %s", thermostat.device_id, exc)
        except Exception:  # the watch outlives any driver surprise
            log.exception("Climate %s: reading the thermostat failed", thermostat.device_id)
        return None

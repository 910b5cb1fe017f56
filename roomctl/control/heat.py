"""The room's answer to heat, in the session: a heat alert from the climate watch becomes a
`heat_alert` event (by "system"), so the timeline's cooling layer turns the cooling switches on
and the thermostats to the band's minimum (the engine does it, within the clamp); when the
watch clears it (the room back under the limit for `heat.clear_after_s`) a `heat_clear` event
ends the cooling.  The record shows both.

`HeatResponse.sync()` compares the watch with the session and records what differs; the daemon
runs it whenever the room may have changed.  After a restart with a heat alert on in the
session, the watch starts from that alert, so the cooling stops only after the room has been
cool for the full time again."""

from __future__ import annotations

import logging

from roomctl.control.room_state import StateHub
from roomctl.control.session import SessionControl
from roomctl.devices.climate import ClimateAlert, ClimateWatch
from roomctl.errors import SessionError, StoreError
from roomctl.model.events import HeatAlert, HeatClear

__all__ = ["HeatResponse"]

log = logging.getLogger(__name__)


class HeatResponse:
    def __init__(self, session: SessionControl, watch: ClimateWatch) -> None:
        self.session = session
        self.watch = watch
        self._failed: str | None = None  # the last reason recording failed (logged once)

    def heat_alert_c(self) -> float | None:
        """The running session's arc's heat alert threshold (None: the safety maximum)."""
        row = self.session.session
        arc = self.session.lib.arcs.get(row.arc) if row is not None else None
        return arc.heat_alert_c if arc is not None else None

    def resume(self) -> None:
        """A session whose heat alert is on (before a restart): the watch starts from it."""
        status = self.session.snapshot().status
        if status is None or not status.cooling or self._hot():
            return
        last = next(
            e for e in reversed(self.session.events) if isinstance(e.payload, HeatAlert)
        )
        p = last.payload
        assert isinstance(p, HeatAlert)
        alert = ClimateAlert(
            "too_hot", p.device or "room", None, p.limit_c, since=last.at,
            limit_name="heat alert threshold" if self.heat_alert_c() else "maximum",
        )  # fmt: skip
        self.watch.alerts = [*self.watch.alerts, alert]

    def sync(self) -> None:
        """Record a heat alert the session does not have yet, or the end of one."""
        status = self.session.snapshot().status
        if status is None or status.ended:
            return
        hot = self._hot()
        try:
            if hot and not status.cooling:
                alert = hot[0]
                self.session.command(
                    HeatAlert(
                        device=alert.device_id,
                        temperature_c=alert.temperature_c,
                        limit_c=alert.limit_c,
                    ),
                    by="system",
                )
                log.warning("heat alert (%s) recorded: cooling on", alert.device_id)
            elif not hot and status.cooling:
                self.session.command(HeatClear(), by="system")
                log.info("heat alert cleared: cooling off")
        except (StoreError, SessionError) as exc:
            if self._failed != str(exc):
                log.error("the heat alert could not be recorded: %s; retrying", exc)
            self._failed = str(exc)
            return
        self._failed = None

    async def run(self, hub: StateHub) -> None:
        """Sync whenever the faces are told the room may have changed (at least every second
        while a session runs)."""
        self.resume()
        seen = -1
        while True:
            try:
                self.sync()
            except Exception:  # never let the heat response take the room down
                log.exception("the heat response failed")
            seen = await hub.wait(seen)

    def _hot(self) -> list[ClimateAlert]:
        return [a for a in self.watch.alerts if a.kind == "too_hot"]

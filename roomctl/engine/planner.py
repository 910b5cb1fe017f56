"""Planning: what one device should be sent now, with which native transition, and when to
look again.  Pure: it reads the desired state (cached per instant) and what the engine knows
about the device (its Link), and performs no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from roomctl.engine.link import Link
from roomctl.engine.settings import EngineSettings
from roomctl.engine.steps import quantize, step_size
from roomctl.model.state import DeviceState, PlayerState

__all__ = ["LOOKAHEAD_S", "Desired", "Planner"]

Desired = Callable[[float], Mapping[str, DeviceState]]
# How far ahead a fading light may be sent: the furthest of these still within one visible step
# (half a second, two commands a second, only for a fade faster than a step a second).
LOOKAHEAD_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)


class Planner:
    def __init__(
        self,
        desired: Desired,
        settings: EngineSettings,
        urgent: Callable[[float], bool] | None = None,
    ) -> None:
        self.desired = desired
        self.settings = settings
        self._urgent = urgent
        self._cache: dict[float, Mapping[str, DeviceState]] = {}

    def forget(self) -> None:
        """The desired state changed."""
        self._cache.clear()

    def desired_at(self, t: float) -> Mapping[str, DeviceState]:
        key = round(t, 3)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 256:
                self._cache.clear()
            found = self._cache[key] = self.desired(t)
        return found

    def plan(self, link: Link, now: float) -> tuple[DeviceState | None, float, float]:
        """(command, transition_s, next look) for one device at `now`."""
        dev_id = link.device.device_id
        current = self.desired_at(now).get(dev_id)
        if current is None:
            return None, 0.0, now + self.settings.idle_check_s
        caps = link.caps
        current = quantize(caps, current)
        landed = link.health.landed
        if not (caps.light and caps.native_transitions):
            command = self._limit_volume(link, current, now)
            return command, 0.0, self._next_change(link, command, current, now)
        # A light: look ahead along the fade for the furthest point within one visible step
        # of what the light shows (an off light counts as 0 %).
        if step_size(landed, current) > 2.0 and self._urgent is not None and self._urgent(now):
            return current, 0.0, now + 1.0  # the emergency: at once
        if step_size(landed, current) > 2.0 and not self._fading_from(landed, dev_id, now):
            # Off the curve (first contact, back from an outage): catch up calmly.
            catch_up = self.settings.catch_up_s
            return current, catch_up, now + max(1.0, catch_up)
        base = landed if landed is not None else current
        chosen, horizon = current, 0.0
        for h in LOOKAHEAD_S:
            ahead = self.desired_at(now + h).get(dev_id)
            if ahead is None:
                break
            ahead = quantize(caps, ahead)
            if step_size(base, ahead) > 1.0:
                if horizon == 0.0:
                    chosen, horizon = ahead, h  # a fast fade: at least half a second ahead
                break
            chosen, horizon = ahead, h
        if step_size(base, chosen) == 0.0:
            return chosen, 0.0, now + max(1.0, min(horizon, self.settings.idle_check_s))
        return chosen, horizon, now + horizon

    def _next_change(self, link: Link, sent: DeviceState, wanted: DeviceState, now: float) -> float:
        """When the desired state will be one step away from `sent` (devices that do not fade
        by themselves are stepped by roomctl: one step per command, at most two a second)."""
        step = self.settings.min_interval_s
        if (
            isinstance(sent, PlayerState)
            and isinstance(wanted, PlayerState)
            and sent.volume is not None
            and wanted.volume is not None
            and wanted.volume > sent.volume
        ):  # held back by the rise limit: look again when the next step may go
            landed = link.health.landed
            shown = landed.volume if isinstance(landed, PlayerState) else None
            rising = max(0, sent.volume - shown) if shown is not None else 0
            return max(now + step, link.rise.next_step_at(now, rising))
        dev_id = link.device.device_id
        t = now + step
        while t < now + self.settings.idle_check_s:
            ahead = self.desired_at(t).get(dev_id)
            if ahead is not None and step_size(sent, quantize(link.caps, ahead)) >= 1.0:
                break
            t += step
        return t

    def _fading_from(self, landed: DeviceState | None, dev_id: str, now: float) -> bool:
        """True when the device was on the desired curve a moment ago (so a gap is a fade)."""
        before = self.desired_at(now - 1.0).get(dev_id)
        return landed is not None and before is not None and step_size(landed, before) <= 2.0

    def _limit_volume(self, link: Link, state: DeviceState, now: float) -> DeviceState:
        """Last line of defence: volume never rises faster than the safety limit, counted
        from what the speaker last showed or acknowledged, whatever the desired state asks;
        a volume asked for without a source (the fade down to a music pause) never rises.
        Decided here, at each plan, from what the speaker shows now: the desired state is
        cached per instant and knows nothing of the devices."""
        if not isinstance(state, PlayerState) or state.volume is None:
            return state
        landed = link.health.landed
        shown = landed.volume if isinstance(landed, PlayerState) else None
        if shown is None:  # not known: the volume is not touched until it is read
            return PlayerState(state.source, None)
        if state.volume <= shown:
            return state
        if state.source is None:  # a volume alone, fading down to a pause: never up on the way
            return PlayerState(None, shown)
        return PlayerState(state.source, min(state.volume, link.rise.cap(shown, now)))

"""The engine (reconciler): drives every device toward the desired state.

One worker task per device, all in one TaskGroup, so a slow or dead device never delays another.
Per device the newest target wins: a worker always computes its command from the desired state
*now*, so no backlog of stale commands builds up.  Each light command looks ahead along the fade
and carries a native transition covering the time until the next command, so a 30-minute fade is
smooth with few commands.  Failures are retried with capped, jittered backoff; before re-sending
after a failure the worker reads the device back, so a change that already landed is not sent
again.  A periodic read-back notices changes made at a wall switch or in the Sonos app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from roomctl.clock import Clock, sleep_or_wake
from roomctl.devices.base import Device, Light
from roomctl.engine.steps import apply_state, quantize, read_state, step_size
from roomctl.errors import DeviceError, DeviceRejected, DeviceUnreachable
from roomctl.model.state import DeviceState, LightState, PlayerState
from roomctl.retry import Backoff

__all__ = ["DeviceHealth", "Engine", "EngineSettings"]

log = logging.getLogger("roomctl.engine.reconciler")

Desired = Callable[[float], Mapping[str, DeviceState]]
ExternalChange = Callable[[str, DeviceState, DeviceState], None]
LOOKAHEAD_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)


@dataclass(frozen=True)
class EngineSettings:
    min_interval_s: float = 0.5  # never more than 2 commands a second per device
    idle_check_s: float = 5.0  # how often a device at rest is looked at again
    readback_s: float = 30.0  # 0 disables read-back
    adopt_manual_changes: bool = True
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    max_volume_rise_per_10s: float = 6.0
    transition_scale: float = 1.0  # real seconds per clock second (the demo runs faster)
    # A light far from where it should be (first contact, back from an outage) gets there over
    # this many seconds; only an emergency (the `urgent` callback) goes there at once.
    catch_up_s: float = 10.0


@dataclass
class DeviceHealth:
    device_id: str
    connected: bool = False
    available: bool = False
    last_ok_at: float | None = None
    last_error: str | None = None
    failures: int = 0
    commands: int = 0
    landed: DeviceState | None = None


@dataclass
class _Link:
    device: Device
    health: DeviceHealth
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    landed_at: float = 0.0
    settles_at: float = 0.0  # when the last native transition ends
    last_read_at: float = 0.0
    rejected: DeviceState | None = None  # the last command the device refused; not re-sent
    rise: tuple[float, int] | None = None  # (when, from which volume) the current rise began
    last_up: float = float("-inf")  # when the volume last went up


class Engine:
    """Runs until cancelled.  `wake()` after the desired state changed (an event arrived)."""

    def __init__(
        self,
        devices: Mapping[str, Device],
        desired: Desired,
        clock: Clock,
        settings: EngineSettings | None = None,
        *,
        on_external_change: ExternalChange | None = None,
        urgent: Callable[[float], bool] | None = None,
    ) -> None:
        self.clock = clock
        self._urgent = urgent
        self.settings = settings or EngineSettings()
        self._desired = desired
        self._cache: dict[float, Mapping[str, DeviceState]] = {}
        self._links = {dev_id: _Link(dev, DeviceHealth(dev_id)) for dev_id, dev in devices.items()}
        self._on_external = on_external_change

    # ---------------------------------------------------------------- public

    def health(self) -> dict[str, DeviceHealth]:
        return {dev_id: link.health for dev_id, link in self._links.items()}

    def set_desired(self, desired: Desired) -> None:
        self._desired = desired
        self.wake()

    def wake(self) -> None:
        """The desired state changed: every worker re-plans now."""
        self._cache.clear()
        for link in self._links.values():
            link.wake.set()

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for dev_id, link in self._links.items():
                    tg.create_task(self._worker(link), name=f"device:{dev_id}")
        finally:
            await asyncio.gather(*(self._close(link) for link in self._links.values()))

    # ------------------------------------------------------------- planning

    def desired_at(self, t: float) -> Mapping[str, DeviceState]:
        key = round(t, 3)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 256:
                self._cache.clear()
            found = self._cache[key] = self._desired(t)
        return found

    def plan(self, dev_id: str, now: float) -> tuple[DeviceState | None, float, float]:
        """(command, transition_s, next look) for one device at `now`."""
        link = self._links[dev_id]
        current = self.desired_at(now).get(dev_id)
        if current is None:
            return None, 0.0, now + self.settings.idle_check_s
        device = link.device
        current = quantize(device, current)
        landed = link.health.landed
        if not (isinstance(device, Light) and device.native_transitions):
            command = self._limit_volume(link, current, now)
            return command, 0.0, self._next_change(link, command, now)
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
            ahead = quantize(device, ahead)
            if step_size(base, ahead) > 1.0:
                if horizon == 0.0:
                    chosen, horizon = ahead, h  # a fast fade: at least one second ahead
                break
            chosen, horizon = ahead, h
        if step_size(base, chosen) == 0.0:
            return chosen, 0.0, now + max(1.0, min(horizon, self.settings.idle_check_s))
        return chosen, horizon, now + horizon

    def _next_change(self, link: _Link, sent: DeviceState, now: float) -> float:
        """When the desired state will be one step away from `sent` (devices that do not fade
        by themselves are stepped by roomctl: one step per command, at most two a second)."""
        dev_id = link.device.device_id
        step = self.settings.min_interval_s
        t = now + step
        while t < now + self.settings.idle_check_s:
            ahead = self.desired_at(t).get(dev_id)
            if ahead is not None and step_size(sent, quantize(link.device, ahead)) >= 1.0:
                break
            t += step
        if isinstance(sent, PlayerState) and link.rise is not None:
            since, base = link.rise
            steps = (sent.volume or base) - base + 1
            t = min(t, max(now + step, since + steps * self._rise_interval))
        return t

    @property
    def _rise_interval(self) -> float:
        return 10.0 / self.settings.max_volume_rise_per_10s

    def _fading_from(self, landed: DeviceState | None, dev_id: str, now: float) -> bool:
        """True when the device was on the desired curve a moment ago (so a gap is a fade)."""
        before = self.desired_at(now - 1.0).get(dev_id)
        return landed is not None and before is not None and step_size(landed, before) <= 2.0

    def _limit_volume(self, link: _Link, state: DeviceState, now: float) -> DeviceState:
        """Last line of defence: volume never rises faster than the safety limit
        (max_volume_rise_per_10s), whatever the desired state asks: a rise goes up one step
        every 10 / limit seconds from where it began."""
        landed = link.health.landed
        if (
            not isinstance(state, PlayerState)
            or state.volume is None
            or not isinstance(landed, PlayerState)
            or landed.volume is None
            or state.volume <= landed.volume
        ):
            link.rise = None
            return state
        if link.rise is None:  # a new rise: its first step may go now, if the last one was long ago
            link.rise = (max(now - self._rise_interval, link.last_up), landed.volume)
        since, base = link.rise
        cap = base + int((now - since) / self._rise_interval + 1e-9)
        return PlayerState(state.source, max(landed.volume, min(state.volume, cap)))

    # --------------------------------------------------------------- workers

    async def _worker(self, link: _Link) -> None:
        dev_id = link.device.device_id
        backoff = Backoff(self.settings.backoff_initial_s, self.settings.backoff_max_s, jitter=0.25)
        while True:
            if not link.health.connected:
                if not await self._connect(link):
                    await self._pause(link, backoff.next_delay())
                    continue
                backoff.reset()
            now = self.clock.now()
            command, transition, next_at = self.plan(dev_id, now)
            ok = True
            if (
                command is not None
                and command != link.rejected
                and step_size(link.health.landed, command) > 0
            ):
                ok = await self._send(link, command, transition, now)
            elif self._readback_due(link, now):
                await self._readback(link, now)
            if not ok:
                await self._pause(link, backoff.next_delay())
                continue
            backoff.reset()
            wait = max(next_at - self.clock.now(), self.settings.min_interval_s)
            await self._pause(link, wait)

    async def _pause(self, link: _Link, seconds: float) -> None:
        """Sleep on the clock until `seconds` pass or the desired state changes."""
        link.wake.clear()
        if await sleep_or_wake(self.clock, seconds, link.wake):
            await self.clock.sleep(0)  # let the event settle; rate limit applies via plan
            since = self.clock.now() - link.landed_at
            if since < self.settings.min_interval_s:
                await self.clock.sleep(self.settings.min_interval_s - since)

    async def _connect(self, link: _Link) -> bool:
        try:
            await link.device.start()
        except DeviceError as exc:
            self._failed(link, exc)
            return False
        link.health.connected = True
        log.info("%s: connected (%s)", link.device.device_id, link.device.describe())
        with contextlib.suppress(DeviceError):  # what it shows now: the first change fades from it
            shown = await read_state(link.device)
            if shown is not None and link.health.landed is None:
                link.health.landed = quantize(link.device, shown)
        return True

    async def _send(self, link: _Link, state: DeviceState, transition: float, now: float) -> bool:
        health = link.health
        if health.failures and await self._already_there(link, state):
            return True
        try:
            await apply_state(
                link.device, state, transition * self.settings.transition_scale, health.landed
            )
        except DeviceRejected as exc:
            self._failed(link, exc)
            link.rejected = state  # not re-sent; the next different target is tried
            return True
        except DeviceUnreachable as exc:
            self._failed(link, exc)
            return False
        self._landed(link, state, now)
        link.settles_at = now + transition
        return True

    async def _already_there(self, link: _Link, state: DeviceState) -> bool:
        """After a failure: did the last change land anyway?  Then it is not sent again."""
        try:
            shown = await read_state(link.device)
        except DeviceError:
            return False
        if (
            shown is not None
            and not isinstance(state, PlayerState)
            and step_size(shown, state) <= 1
        ):
            self._landed(link, state, self.clock.now())
            return True
        return False

    def _landed(self, link: _Link, state: DeviceState, now: float) -> None:
        health = link.health
        before = health.landed
        if (
            isinstance(state, PlayerState)
            and isinstance(before, PlayerState)
            and (state.volume or 0) > (before.volume or 0)
        ):
            link.last_up = now
        if not health.available:
            log.info("%s: available", link.device.device_id)
        health.available, health.failures, health.last_error = True, 0, None
        health.last_ok_at, health.landed, link.landed_at = now, state, now
        link.rejected = None
        health.commands += 1

    def _failed(self, link: _Link, exc: DeviceError) -> None:
        health = link.health
        health.failures += 1
        health.last_error = exc.reason
        if isinstance(exc, DeviceUnreachable):
            if health.available or health.failures == 1:
                log.warning("%s: unavailable: %s", link.device.device_id, exc.reason)
            health.available = False
        else:
            log.warning("%s: refused: %s", link.device.device_id, exc)

    def _readback_due(self, link: _Link, now: float) -> bool:
        s = self.settings
        return (
            s.readback_s > 0
            and link.health.landed is not None
            and now >= link.settles_at + 2.0
            and now - link.last_read_at >= s.readback_s
        )

    async def _readback(self, link: _Link, now: float) -> None:
        link.last_read_at = now
        try:
            shown = await read_state(link.device)
        except DeviceUnreachable as exc:
            self._failed(link, exc)
            return
        except DeviceError:
            return
        landed = link.health.landed
        if shown is None or landed is None or not _differs(landed, shown):
            return
        log.info("%s: changed outside roomctl (%s → %s)", link.device.device_id, landed, shown)
        link.health.landed = shown
        if self.settings.adopt_manual_changes and self._on_external is not None:
            try:
                self._on_external(link.device.device_id, landed, shown)
            except Exception:  # a listener that raises is logged and skipped
                log.exception("%s: manual-change listener failed", link.device.device_id)

    async def _close(self, link: _Link) -> None:
        with contextlib.suppress(Exception):
            await link.device.close()


def _differs(landed: DeviceState, shown: DeviceState) -> bool:
    if isinstance(landed, PlayerState) and isinstance(shown, PlayerState):
        return (
            landed.volume is not None
            and shown.volume is not None
            and (abs(landed.volume - shown.volume) >= 2)
        )
    if isinstance(landed, LightState) and isinstance(shown, LightState):
        if landed.on != shown.on:
            return True
        return abs((landed.brightness_pct or 0.0) - (shown.brightness_pct or 0.0)) >= 3.0
    return step_size(landed, shown) >= 1.0

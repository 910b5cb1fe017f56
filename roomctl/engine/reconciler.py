"""The engine (reconciler): drives every device toward the desired state.

One worker task per device, all in one TaskGroup, so a slow or dead device never delays another,
and a worker survives anything its driver raises (see engine/health.py): only the engine's own
invariants stop the engine.  Per device the newest target wins: a worker always computes its
command from the desired state *now*, so no backlog of stale commands builds up.  Each light
command looks ahead along the fade and carries a native transition covering the time until the
next command, so a 30-minute fade is smooth with few commands.  Failures are retried with
capped, jittered backoff; after a failure (and when it connects) a worker reads the device
before it sends again, so a change that already landed is not sent twice.  A speaker's volume
moves by steps relative to what it shows at that moment (``Player.change_volume``), so a rise
counts from the speaker's own volume without a read before it.  A device at rest is read
periodically: its health stays true, and a change made at a wall switch or in the Sonos app is
noticed (engine/readings.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping

from roomctl.clock import Clock, sleep_or_wake
from roomctl.devices.base import Device, Player, Thermostat
from roomctl.engine.health import DeviceHealth, DriverFault, guarded
from roomctl.engine.link import Link, uneven, unrefused
from roomctl.engine.planner import Desired, Planner
from roomctl.engine.readings import differs, merged
from roomctl.engine.settings import EngineSettings
from roomctl.engine.steps import Caps, apply_state, quantize, read_state, step_size
from roomctl.engine.volume import RiseLimit
from roomctl.errors import DeviceError, DeviceRejected
from roomctl.model.state import DeviceState, PlayerState
from roomctl.retry import Backoff

__all__ = ["DeviceHealth", "Engine", "EngineSettings"]

log = logging.getLogger(__name__)

ExternalChange = Callable[[str, DeviceState, DeviceState], None]
_SETTLE_S = 2.0  # after a native transition ends, before a reading is compared


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
        self.settings = s = settings or EngineSettings()
        self._planner = Planner(desired, s, urgent)
        self._links = {
            dev_id: Link(
                dev, DeviceHealth(dev_id), RiseLimit(s.max_volume_rise_per_10s, s.min_interval_s)
            )
            for dev_id, dev in devices.items()
        }
        for link in self._links.values():
            link.device.back_online = functools.partial(self._back_online, link)
        self._on_external = on_external_change
        self._urgent = urgent

    # ---------------------------------------------------------------- public

    def health(self) -> dict[str, DeviceHealth]:
        return {dev_id: link.health for dev_id, link in self._links.items()}

    def set_desired(self, desired: Desired) -> None:
        self._planner.desired = desired
        self.wake()

    def wake(self) -> None:
        """The desired state changed: every worker re-plans now."""
        self._planner.forget()
        for link in self._links.values():
            link.wake.set()

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for dev_id, link in self._links.items():
                    tg.create_task(self._worker(link), name=f"device:{dev_id}")
        finally:
            await asyncio.gather(*(self._close(link) for link in self._links.values()))

    def desired_at(self, t: float) -> Mapping[str, DeviceState]:
        return self._planner.desired_at(t)

    def plan(self, dev_id: str, now: float) -> tuple[DeviceState | None, float, float]:
        """(command, transition_s, next look) for one device at `now`."""
        return self._planner.plan(self._links[dev_id], now)

    # --------------------------------------------------------------- workers

    def _back_online(self, link: Link) -> None:
        """The driver heard unasked that its device is online: if it had failed, read it now
        (its health, what it shows), not when its backoff or next health check comes round."""
        if not link.health.available:
            link.stale = True
            link.wake.set()

    async def _worker(self, link: Link) -> None:
        backoff = Backoff(self.settings.backoff_initial_s, self.settings.backoff_max_s, jitter=0.25)
        while True:
            # Cleared before the look, not after it: a change that comes while this worker
            # plans or waits for the device's answer wakes it again as soon as it is free.
            link.wake.clear()
            try:
                if not link.health.connected:
                    await self._connect(link)
                next_at = await self._tick(link)
            except DeviceError as exc:  # the driver's, translated or guarded: never the engine's
                link.health.failed(exc)
                link.stale = True
                await self._pause(link, backoff.next_delay())
                continue
            backoff.reset()
            await self._pause(link, max(next_at - self.clock.now(), self.settings.min_interval_s))

    async def _tick(self, link: Link) -> float:
        """One look at the device: send what is due, or read it back.  Returns when to look
        again; a failure of the device raises DeviceError."""
        now = self.clock.now()
        if link.stale:
            await self._resync(link, now)
            link.plan_at = now
        if now < link.plan_at:  # woken early for a health reading only: the plan stands
            command, transition, next_at = None, 0.0, link.plan_at
        else:
            command, transition, next_at = self.plan(link.device.device_id, now)
            command = unrefused(link, command)
            link.plan_at = next_at
        if (
            command is not None
            and command != link.rejected
            and (step_size(link.health.landed, command) > 0 or uneven(link, command))
        ):
            await self._send(link, command, transition, now)
        elif self._read_due(link, now):
            await self._read(link, now)
        check = self._check_s(link)
        if check > 0:
            next_at = min(next_at, max(link.last_contact, link.last_read_at) + check)
        return next_at

    def _check_s(self, link: Link) -> float:
        """How often a device at rest is read for its health (0: never)."""
        s = self.settings
        if s.health_check_s > 0 and isinstance(link.device, Thermostat):
            return max(s.health_check_s, s.thermostat_check_s)
        return s.health_check_s

    async def _pause(self, link: Link, seconds: float) -> None:
        """Sleep on the clock until `seconds` pass or the desired state changes (at once if it
        changed during the look that came before)."""
        if await sleep_or_wake(self.clock, seconds, link.wake):
            link.plan_at = float("-inf")  # the desired state changed: plan again now
            await self.clock.sleep(0)  # let the event settle
            wait = self._budget_wait(link, self.clock.now())
            if wait > 0:
                await self.clock.sleep(wait)

    def _budget_wait(self, link: Link, now: float) -> float:
        """How long a change of the desired state waits for the device's command budget: none
        in an emergency; otherwise until the device has had fewer than two commands in the
        last second (2 x min_interval) and `min_gap_s` has passed since the last one.  A tap
        that comes just after a fade step is not held back by the step's spacing."""
        if self._urgent is not None and self._urgent(now):
            return 0.0
        s = self.settings
        window_ends = link.landed_before + 2 * s.min_interval_s
        return max(window_ends - now, link.landed_at + s.min_gap_s - now, 0.0)

    async def _connect(self, link: Link) -> None:
        device = link.device
        await guarded(device.device_id, "connect", device.start())
        try:
            link.caps = Caps.of(device)
            described = device.describe()
        except Exception as exc:
            reason = f"driver error: {type(exc).__name__}: {exc}"
            raise DriverFault(device.device_id, "capabilities", reason) from exc
        link.health.connected = True
        link.stale = True
        log.info("%s: connected (%s)", device.device_id, described)

    # ------------------------------------------------------------- commands

    async def _send(self, link: Link, state: DeviceState, transition: float, now: float) -> None:
        device = link.device
        if isinstance(device, Player) and isinstance(state, PlayerState):
            await self._send_player(link, device, state, now)
            return
        link.sent.add(state)
        transition_s = transition * self.settings.transition_scale
        try:
            await guarded(
                device.device_id,
                "apply",
                apply_state(device, state, transition_s, link.health.landed),
            )
        except DeviceRejected as exc:  # leaves no trace but its refusal
            link.sent.states.pop()
            link.health.failed(exc)
            link.rejected = state
            return
        self._landed(link, state, now)
        link.settles_at = now + transition

    async def _send_player(
        self, link: Link, device: Player, state: PlayerState, now: float
    ) -> None:
        """Volume first (so new music starts at its level), then the source; each part lands
        or is refused on its own."""
        landed = link.health.landed
        before = landed if isinstance(landed, PlayerState) else PlayerState(None, None)
        dev_id = device.device_id
        if state.volume is not None and (state.volume != before.volume or link.uneven):
            if before.volume is not None and state.volume > before.volume:
                link.rise.spend(state.volume - before.volume, now)
            link.sent.add(PlayerState(None, state.volume))
            try:
                shown = await self._volume(link, device, before.volume, state.volume)
            except DeviceRejected as exc:
                link.sent.states.pop()
                link.health.failed(exc)
                link.rejected = state
                return
            link.uneven = False
            if before.volume is not None and shown != state.volume:  # moved outside roomctl
                was = PlayerState(None, shown - (state.volume - before.volume))
                self._compare(link, before, was, now)
            before = PlayerState(before.source, shown)
            self._landed(link, before, now)
        if state.source is not None and state.source != before.source:
            source = state.source
            call = device.pause() if source.is_silence else device.play(source)
            try:
                await guarded(dev_id, f"play {source}", call)
            except DeviceRejected as exc:
                link.health.failed(exc)
                link.rejected_source, link.refusal = source, exc.reason
                return
            self._landed(link, PlayerState(source, before.volume), now)
        link.settles_at = now

    async def _volume(self, link: Link, device: Player, shown: int | None, volume: int) -> int:
        """Bring the speaker to `volume`; returns the volume it shows after.  From a known,
        even volume it is a step relative to what the speaker shows *now* (one round trip, and
        a rise is counted from the speaker's own volume even if the Sonos app changed it a
        moment ago); a speaker that ends up louder than `volume` somewhere is set down."""
        dev_id = device.device_id
        if shown is None or link.uneven:
            await guarded(dev_id, f"set volume {volume}", device.set_volume(volume))
            return volume
        steps = volume - shown
        now_shows, loudest = await guarded(
            dev_id, f"change volume by {steps:+d}", device.change_volume(steps)
        )
        if loudest is not None or now_shows > volume:
            level = min(volume, now_shows)  # a drop for every member: never a rise
            await guarded(dev_id, f"set volume {level}", device.set_volume(level))
            return level
        return now_shows

    def _landed(self, link: Link, state: DeviceState, now: float) -> None:
        health = link.health
        health.answered(now, command=True)
        link.landed_before = link.landed_at
        health.landed, link.landed_at, link.last_contact = state, now, now
        link.rejected = None
        if link.refusal is not None:  # a refused source: still reported while it is wanted
            health.still_refused(link.refusal)
        health.commands += 1

    # ------------------------------------------------------------- readings

    def _read_due(self, link: Link, now: float) -> bool:
        s = self.settings
        since = now - max(link.last_read_at, link.last_contact)
        check = self._check_s(link)
        if check > 0 and since >= check:
            return True
        return (
            s.readback_s > 0
            and link.health.landed is not None
            and now >= link.settles_at + _SETTLE_S
            and now - link.last_read_at >= s.readback_s
        )

    async def _reading(self, link: Link) -> DeviceState | None:
        device = link.device
        if isinstance(device, Player):  # read here: a group's members may differ
            volume, loudest = await guarded(device.device_id, "read", device.read_volume())
            link.uneven = loudest is not None
            return PlayerState(source=None, volume=volume)
        shown = await guarded(device.device_id, "read", read_state(device))
        return None if shown is None else quantize(link.caps, shown)

    async def _resync(self, link: Link, now: float) -> None:
        """First contact or after a failure: learn what the device shows before sending.  A
        speaker's volume must be known (the rise limit counts from it); other devices are sent
        their command even when they cannot be read."""
        try:
            shown = await self._reading(link)
        except DriverFault:
            raise
        except DeviceError as exc:
            if isinstance(link.device, Player):
                raise
            log.debug("%s: cannot read before sending: %s", link.device.device_id, exc.reason)
            link.stale = False
            return
        link.stale = False
        link.last_read_at = link.last_contact = now
        link.health.answered(now)
        if shown is not None:
            if link.health.landed is not None and differs(link.health.landed, shown):
                log.info("%s: shows %s; continuing from there", link.device.device_id, shown)
            link.health.landed = merged(link.health.landed, shown)
            link.sent.clear()

    async def _read(self, link: Link, now: float) -> None:
        """A periodic reading: health, and (once a fade has settled) manual changes."""
        link.last_read_at = now
        try:
            shown = await self._reading(link)
        except DeviceRejected as exc:  # it answered, but not with a reading: health only
            log.debug("%s: cannot be read back: %s", link.device.device_id, exc.reason)
            shown = None
        link.last_contact = now
        link.health.answered(now)
        landed = link.health.landed
        if shown is None or landed is None:
            return
        self._compare(link, landed, shown, now)

    def _compare(self, link: Link, landed: DeviceState, shown: DeviceState, now: float) -> None:
        """What a device showed against what roomctl last had acknowledged: a manual change
        (reported), or roomctl's own command landing late (followed)."""
        if not differs(landed, shown):
            if isinstance(landed, PlayerState):  # the rise limit counts from what it shows
                link.health.landed = merged(landed, shown)
            link.sent.clear()
            return
        if link.caps.light and now < link.settles_at + _SETTLE_S:
            return  # mid-fade: only health
        dev_id = link.device.device_id
        explained = link.sent.explains(shown)
        link.health.landed = merged(landed, shown)
        link.sent.clear()
        if explained or self.settings.readback_s <= 0:
            log.info("%s: shows %s, not %s; continuing from there", dev_id, shown, landed)
            return
        log.info("%s: changed outside roomctl (%s → %s)", dev_id, landed, shown)
        if self.settings.adopt_manual_changes and self._on_external is not None:
            try:
                self._on_external(dev_id, landed, shown)
            except Exception:  # a listener that raises is logged and skipped
                log.exception("%s: manual-change listener failed", dev_id)

    async def _close(self, link: Link) -> None:
        try:
            await link.device.close()
        except Exception:  # close() should never raise; if it does, say so and go on
            log.warning("%s: error while closing", link.device.device_id, exc_info=True)

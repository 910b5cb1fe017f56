"""The engine (reconciler): drives every device toward the desired state.

One worker task per device, all in one TaskGroup, so a slow or dead device never delays another,
and a worker survives anything its driver raises (see engine/health.py): only the engine's own
invariants stop the engine.  Per device the newest target wins: a worker always computes its
command from the desired state *now*, so no backlog of stale commands builds up.  Each light
command looks ahead along the fade and carries a native transition covering the time until the
next command, so a 30-minute fade is smooth with few commands.  Failures are retried with
capped, jittered backoff; after a failure (and when it connects) a worker reads the device
before it sends again, so a change that already landed is not sent twice and a volume rises
from what the speaker shows.  A device at rest is read periodically: its health stays true,
and a change made at a wall switch or in the Sonos app is noticed (engine/readings.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from roomctl.clock import Clock, sleep_or_wake
from roomctl.devices.base import Device, Player
from roomctl.engine.health import DeviceHealth, DriverFault, guarded
from roomctl.engine.readings import SentLog, differs, merged
from roomctl.engine.steps import Caps, apply_state, quantize, read_state, step_size
from roomctl.engine.volume import RiseLimit
from roomctl.errors import DeviceError, DeviceRejected
from roomctl.model.scene import Source
from roomctl.model.state import DeviceState, PlayerState
from roomctl.retry import Backoff

__all__ = ["DeviceHealth", "Engine", "EngineSettings"]

log = logging.getLogger("roomctl.engine.reconciler")

Desired = Callable[[float], Mapping[str, DeviceState]]
ExternalChange = Callable[[str, DeviceState, DeviceState], None]
LOOKAHEAD_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
_SETTLE_S = 2.0  # after a native transition ends, before a reading is compared


@dataclass(frozen=True)
class EngineSettings:
    min_interval_s: float = 0.5  # never more than 2 commands a second per device
    idle_check_s: float = 5.0  # how often a device at rest is looked at again
    readback_s: float = 30.0  # compare readings for manual changes; 0 disables
    health_check_s: float = 5.0  # a device at rest is read at least this often; 0 disables
    adopt_manual_changes: bool = True
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    max_volume_rise_per_10s: float = 6.0
    transition_scale: float = 1.0  # real seconds per clock second (the demo runs faster)
    # A light far from where it should be (first contact, back from an outage) gets there over
    # this many seconds; only an emergency (the `urgent` callback) goes there at once.
    catch_up_s: float = 10.0


@dataclass
class _Link:
    device: Device
    health: DeviceHealth
    rise: RiseLimit
    caps: Caps = field(default_factory=Caps)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent: SentLog = field(default_factory=SentLog)
    stale: bool = True  # read the device before the next command (first contact, failure)
    landed_at: float = 0.0
    settles_at: float = 0.0  # when the last native transition ends
    plan_at: float = float("-inf")  # when the current plan runs out
    last_read_at: float = float("-inf")
    last_contact: float = float("-inf")  # the last answer of any kind
    rejected: DeviceState | None = None  # the last command the device refused; not re-sent
    rejected_source: Source | None = None  # a source a speaker refused; not re-sent
    refusal: str | None = None  # why
    uneven: bool = False  # the members of a speaker group show different volumes


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
        self.settings = s = settings or EngineSettings()
        self._desired = desired
        self._cache: dict[float, Mapping[str, DeviceState]] = {}
        self._links = {
            dev_id: _Link(
                dev, DeviceHealth(dev_id), RiseLimit(s.max_volume_rise_per_10s, s.min_interval_s)
            )
            for dev_id, dev in devices.items()
        }
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
                    chosen, horizon = ahead, h  # a fast fade: at least one second ahead
                break
            chosen, horizon = ahead, h
        if step_size(base, chosen) == 0.0:
            return chosen, 0.0, now + max(1.0, min(horizon, self.settings.idle_check_s))
        return chosen, horizon, now + horizon

    def _next_change(
        self, link: _Link, sent: DeviceState, wanted: DeviceState, now: float
    ) -> float:
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

    def _limit_volume(self, link: _Link, state: DeviceState, now: float) -> DeviceState:
        """Last line of defence: volume never rises faster than the safety limit, counted
        from what the speaker last showed or acknowledged, whatever the desired state asks."""
        if not isinstance(state, PlayerState) or state.volume is None:
            return state
        landed = link.health.landed
        shown = landed.volume if isinstance(landed, PlayerState) else None
        if shown is None:  # not known: the volume is not touched until it is read
            return PlayerState(state.source, None)
        if state.volume <= shown:
            return state
        return PlayerState(state.source, min(state.volume, link.rise.cap(shown, now)))

    # --------------------------------------------------------------- workers

    async def _worker(self, link: _Link) -> None:
        backoff = Backoff(self.settings.backoff_initial_s, self.settings.backoff_max_s, jitter=0.25)
        while True:
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

    async def _tick(self, link: _Link) -> float:
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
            command = self._unrefused(link, command)
            link.plan_at = next_at
        if (
            command is not None
            and command != link.rejected
            and (step_size(link.health.landed, command) > 0 or self._uneven(link, command))
        ):
            await self._send(link, command, transition, now)
        elif self._read_due(link, now):
            await self._read(link, now)
        check = self.settings.health_check_s
        if check > 0:
            next_at = min(next_at, max(link.last_contact, link.last_read_at) + check)
        return next_at

    async def _pause(self, link: _Link, seconds: float) -> None:
        """Sleep on the clock until `seconds` pass or the desired state changes."""
        link.wake.clear()
        if await sleep_or_wake(self.clock, seconds, link.wake):
            link.plan_at = float("-inf")  # the desired state changed: plan again now
            await self.clock.sleep(0)  # let the event settle; rate limit applies via plan
            since = self.clock.now() - link.landed_at
            if since < self.settings.min_interval_s:
                await self.clock.sleep(self.settings.min_interval_s - since)

    async def _connect(self, link: _Link) -> None:
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

    @staticmethod
    def _uneven(link: _Link, command: DeviceState) -> bool:
        """A group whose members show different volumes gets its volume set again."""
        return link.uneven and isinstance(command, PlayerState) and command.volume is not None

    def _unrefused(self, link: _Link, command: DeviceState | None) -> DeviceState | None:
        """`command` without a source the speaker refused (until the desired source changes)."""
        if not isinstance(command, PlayerState) or link.rejected_source is None:
            return command
        if command.source != link.rejected_source:
            link.rejected_source = link.refusal = None
            return command
        landed = link.health.landed
        source = landed.source if isinstance(landed, PlayerState) else None
        return PlayerState(source, command.volume)

    async def _send(self, link: _Link, state: DeviceState, transition: float, now: float) -> None:
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
        self, link: _Link, device: Player, state: PlayerState, now: float
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
                await guarded(dev_id, f"set volume {state.volume}", device.set_volume(state.volume))
            except DeviceRejected as exc:
                link.sent.states.pop()
                link.health.failed(exc)
                link.rejected = state
                return
            before = PlayerState(before.source, state.volume)
            link.uneven = False
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

    def _landed(self, link: _Link, state: DeviceState, now: float) -> None:
        health = link.health
        health.answered(now, command=True)
        health.landed, link.landed_at, link.last_contact = state, now, now
        link.rejected = None
        if link.refusal is not None:  # a refused source: still reported while it is wanted
            health.still_refused(link.refusal)
        health.commands += 1

    # ------------------------------------------------------------- readings

    def _read_due(self, link: _Link, now: float) -> bool:
        s = self.settings
        since = now - max(link.last_read_at, link.last_contact)
        if s.health_check_s > 0 and since >= s.health_check_s:
            return True
        return (
            s.readback_s > 0
            and link.health.landed is not None
            and now >= link.settles_at + _SETTLE_S
            and now - link.last_read_at >= s.readback_s
        )

    async def _reading(self, link: _Link) -> DeviceState | None:
        device = link.device
        if isinstance(device, Player):  # read here: a group's members may differ
            reading = await guarded(device.device_id, "read", device.read_player())
            link.uneven = reading.loudest is not None
            return PlayerState(source=None, volume=reading.volume)
        shown = await guarded(device.device_id, "read", read_state(device))
        return None if shown is None else quantize(link.caps, shown)

    async def _resync(self, link: _Link, now: float) -> None:
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

    async def _read(self, link: _Link, now: float) -> None:
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
        if not differs(landed, shown):
            if isinstance(landed, PlayerState):  # the rise limit counts from what it shows
                link.health.landed = merged(landed, shown)
            link.sent.clear()
            return
        if now < link.settles_at + _SETTLE_S:
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

    async def _close(self, link: _Link) -> None:
        try:
            await link.device.close()
        except Exception:  # close() should never raise; if it does, say so and go on
            log.warning("%s: error while closing", link.device.device_id, exc_info=True)

"""The engine against small in-memory devices on a virtual clock: fan-out, newest target wins,
look-ahead with native transitions, retries that never re-send a landed change, read-back."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping

import pytest

from roomctl.clock import VirtualClock
from roomctl.devices.base import Device
from roomctl.engine.reconciler import Engine, EngineSettings
from roomctl.model.scene import Source
from roomctl.model.state import DeviceState, LightState, PlayerState
from tests.doubles import MemoryLight, MemoryPlayer, max_rise

T0 = 1_800_000_000.0


def fade(t0: float, seconds: float, a: float, b: float) -> object:
    def desired(t: float) -> Mapping[str, DeviceState]:
        p = min(1.0, max(0.0, (t - t0) / seconds))
        return {
            "lamp": LightState(on=True, brightness_pct=round(a + (b - a) * p, 1), color_temp_k=2700)
        }

    return desired


async def run_for(clock: VirtualClock, engine: Engine, seconds: float, step: float = 0.5) -> None:
    task = asyncio.create_task(engine.run())
    try:
        elapsed = 0.0
        while elapsed < seconds:
            await clock.advance(step)
            elapsed += step
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_long_fade_uses_few_commands_with_native_transitions() -> None:
    clock = VirtualClock(T0)
    lamp = MemoryLight("lamp", clock)
    engine = Engine({"lamp": lamp}, fade(T0, 1800, 60, 10), clock)  # type: ignore[arg-type]
    await run_for(clock, engine, 1900)
    cmds = lamp.commands
    assert cmds[-1][1].brightness_pct == 10
    per_minute = len(cmds) / (1900 / 60)
    assert per_minute <= 60
    steps = [
        abs((a[1].brightness_pct or 0) - (b[1].brightness_pct or 0))
        for a, b in itertools.pairwise(cmds[1:])
    ]
    assert max(steps) <= 1.05  # never more than one visible step per command
    # each command's native transition covers the time to the next command
    for (t1, _, trans), (t2, _, _) in itertools.pairwise(cmds[1:]):
        assert trans == pytest.approx(t2 - t1, abs=1.0)


async def test_slow_device_never_delays_another() -> None:
    clock = VirtualClock(T0)
    slow = MemoryLight("slow", clock, latency_s=3.0)  # on the clock: blocks its own worker
    fast = MemoryLight("fast", clock)

    def desired(t: float) -> Mapping[str, DeviceState]:
        s = LightState(on=True, brightness_pct=40.0, color_temp_k=2700)
        return {"slow": s, "fast": s}

    devices: dict[str, Device] = {"slow": slow, "fast": fast}
    engine = Engine(devices, desired, clock)
    task = asyncio.create_task(engine.run())
    await clock.advance(0.5)
    assert fast.commands and not slow.commands
    await clock.advance(3.0)
    assert slow.commands
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_newest_target_wins_after_outage_and_landed_change_not_resent() -> None:
    clock = VirtualClock(T0)
    lamp = MemoryLight("lamp", clock)
    target = {"b": 30.0}

    def desired(t: float) -> Mapping[str, DeviceState]:
        return {"lamp": LightState(on=True, brightness_pct=target["b"], color_temp_k=2700)}

    engine = Engine(
        {"lamp": lamp}, desired, clock, EngineSettings(backoff_initial_s=1, backoff_max_s=8)
    )
    task = asyncio.create_task(engine.run())
    await clock.advance(2)
    assert lamp.state.brightness_pct == 30
    lamp.down = True
    for b in (35.0, 40.0, 45.0, 50.0):  # targets change while the device is away
        target["b"] = b
        engine.wake()
        await clock.advance(3)
    assert engine.health()["lamp"].available is False
    lamp.down = False
    await clock.advance(20)
    sent = [c[1].brightness_pct for c in lamp.commands]
    assert sent[-1] == 50 and 35 not in sent and 40 not in sent  # no stale backlog
    assert engine.health()["lamp"].available is True
    # a command that lands but whose answer is lost is read back, not sent again
    lamp.lose_answers = True
    target["b"] = 20.0
    engine.wake()
    await clock.advance(1)
    lamp.lose_answers = False
    await clock.advance(10)
    assert [c[1].brightness_pct for c in lamp.commands].count(20.0) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_volume_rise_is_limited_even_if_asked_to_jump() -> None:
    clock = VirtualClock(T0)
    spk = MemoryPlayer("spk", clock)
    target = {"v": 10}

    def desired(t: float) -> Mapping[str, DeviceState]:
        return {"spk": PlayerState(source=Source(kind="favorite", name="Calm"), volume=target["v"])}

    spk.volume = 10  # what the speaker plays before roomctl takes over
    engine = Engine({"spk": spk}, desired, clock, EngineSettings(max_volume_rise_per_10s=6))
    task = asyncio.create_task(engine.run())
    await clock.advance(2)
    target["v"] = 50
    engine.wake()
    for _ in range(160):  # 40 steps at 6 per 10 s take 67 s
        await clock.advance(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    vols = spk.volumes
    assert vols[-1][1] == 50
    for t, v in vols:
        window = [v2 for t2, v2 in vols if t - 10 <= t2 <= t]
        assert v - min(window) <= 6


async def test_readback_reports_a_change_made_at_the_device() -> None:
    clock = VirtualClock(T0)
    lamp = MemoryLight("lamp", clock)
    seen: list[tuple[str, DeviceState]] = []

    def desired(t: float) -> Mapping[str, DeviceState]:
        return {"lamp": LightState(on=True, brightness_pct=30.0, color_temp_k=2700)}

    engine = Engine(
        {"lamp": lamp},
        desired,
        clock,
        EngineSettings(readback_s=10),
        on_external_change=lambda d, before, shown: seen.append((d, shown)),
    )
    task = asyncio.create_task(engine.run())
    await clock.advance(5)
    lamp.state = LightState(on=True, brightness_pct=80.0, color_temp_k=2700)  # wall dimmer
    for _ in range(40):
        await clock.advance(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen and seen[0][0] == "lamp"
    shown = seen[0][1]
    assert isinstance(shown, LightState) and shown.brightness_pct == 80


async def test_rejected_command_is_not_retried_forever() -> None:
    clock = VirtualClock(T0)
    lamp = MemoryLight("lamp", clock)
    lamp.reject = True

    def desired(t: float) -> Mapping[str, DeviceState]:
        return {"lamp": LightState(on=True, brightness_pct=30.0, color_temp_k=2700)}

    engine = Engine({"lamp": lamp}, desired, clock)
    await run_for(clock, engine, 30)
    health = engine.health()["lamp"]
    assert health.failures == 1 and "error code" in (health.last_error or "")


@pytest.mark.parametrize(("urgent", "expected_transition"), [(False, 10.0), (True, 0.0)])
async def test_off_the_curve_catches_up_calmly_unless_urgent(
    urgent: bool, expected_transition: float
) -> None:
    clock = VirtualClock(T0)
    lamp = MemoryLight("lamp", clock)
    target = {"b": 10.0}

    def desired(t: float) -> Mapping[str, DeviceState]:
        return {"lamp": LightState(on=True, brightness_pct=target["b"], color_temp_k=2700)}

    engine = Engine(
        {"lamp": lamp}, desired, clock, EngineSettings(catch_up_s=10), urgent=lambda t: urgent
    )
    task = asyncio.create_task(engine.run())
    await clock.advance(15)
    target["b"] = 100.0  # a jump: only an emergency may show it at once
    engine.wake()
    await clock.advance(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _, state, transition = lamp.commands[-1]
    assert state.brightness_pct == 100
    assert transition == expected_transition


async def test_one_step_up_goes_at_once_but_steps_keep_their_spacing() -> None:
    clock = VirtualClock(T0)
    spk = MemoryPlayer("spk", clock)
    spk.volume = 10
    target = {"v": 10}

    def desired(t: float) -> Mapping[str, DeviceState]:
        return {"spk": PlayerState(source=Source(kind="favorite", name="Calm"), volume=target["v"])}

    engine = Engine({"spk": spk}, desired, clock, EngineSettings(max_volume_rise_per_10s=6))
    task = asyncio.create_task(engine.run())
    await clock.advance(5)
    target["v"] = 11  # a facilitator nudges the volume up one step
    engine.wake()
    await clock.advance(0.5)
    assert spk.volume == 11
    target["v"] = 12  # and again straight away: this step waits its turn (10 / 6 s)
    engine.wake()
    await clock.advance(0.5)
    assert spk.volume == 11
    await clock.advance(2)
    assert spk.volume == 12
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("urgent", [False, True])
async def test_a_change_goes_out_at_once_within_two_commands_a_second(urgent: bool) -> None:
    """A tap just after a command is not held back by the fade's spacing: it waits only when
    the device already had two commands in the last second, and never in an emergency."""
    clock = VirtualClock(T0)
    lamp = MemoryLight("lamp", clock)
    target = {"b": 40.0}

    def desired(t: float) -> Mapping[str, DeviceState]:
        return {"lamp": LightState(on=True, brightness_pct=target["b"], color_temp_k=2700)}

    engine = Engine({"lamp": lamp}, desired, clock, urgent=lambda t: urgent)
    task = asyncio.create_task(engine.run())
    for _ in range(40):
        await clock.advance(0.5)  # at rest at 40 %
    began, sent_at = clock.now(), []
    for level in (50.0, 60.0, 70.0):  # three taps 0.2 s apart
        target["b"] = level
        engine.wake()
        for _ in range(4):
            await clock.advance(0.05)
        sent_at.append(round(lamp.commands[-1][0] - began, 2))
    await clock.advance(1)
    sent_at[2] = round(lamp.commands[-1][0] - began, 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    levels = [c[1].brightness_pct for c in lamp.commands if c[0] >= began]
    assert levels == [50, 60, 70]
    # At the next turn of the clock (0.05 s): one command in the last second does not hold
    # back the second tap; the third waits until the first is a second old, unless urgent.
    first = sent_at[0]
    assert first <= 0.05 and sent_at[1] == first + 0.2
    assert sent_at[2] == (first + 0.4 if urgent else first + 1.0)


def music(volume: int) -> PlayerState:
    return PlayerState(source=Source(kind="favorite", name="Calm"), volume=volume)


@pytest.mark.parametrize("fault", ["answers lost", "lowered by hand", "unreachable"])
async def test_a_rise_is_counted_from_what_the_speaker_shows(fault: str) -> None:
    """Whatever happens mid-rise, no 10 s ever holds more than the limit, counted from what the
    speaker showed."""
    clock = VirtualClock(T0)
    spk = MemoryPlayer("spk", clock)
    spk.volume = 10
    manual: list[DeviceState] = []
    engine = Engine(
        {"spk": spk},
        lambda t: {"spk": music(40)},
        clock,
        EngineSettings(max_volume_rise_per_10s=6, backoff_max_s=4),
        on_external_change=lambda dev, before, shown: manual.append(shown),
    )
    task = asyncio.create_task(engine.run())
    await clock.advance(6)
    if fault == "answers lost":
        spk.lose_answers = True
    elif fault == "lowered by hand":
        spk.volume = 4  # in the Sonos app
    else:
        spk.down = True
    for _ in range(40):
        await clock.advance(0.5)
    spk.lose_answers = spk.down = False
    for _ in range(200):
        await clock.advance(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    shown = list(spk.volumes)
    if fault == "lowered by hand":  # the speaker showed 4 from then on
        before = [(t, v) for t, v in shown if t <= T0 + 6]
        shown = [*before, (T0 + 6, 4), *shown[len(before) :]]
        assert manual == [PlayerState(None, 4)]  # reported (the session makes it an override)
    else:
        assert manual == []
    assert max_rise(shown, 10) <= 6
    assert spk.volume == 40


async def test_a_change_while_a_command_is_in_flight_is_not_lost() -> None:
    """The desired state changes while the device is still answering the previous command:
    the worker plans again as soon as that command lands, not at its next scheduled look."""
    clock = VirtualClock(T0)
    lamp = MemoryLight("lamp", clock, latency_s=0.3)
    target = {"b": 40.0}

    def desired(t: float) -> Mapping[str, DeviceState]:
        return {"lamp": LightState(on=True, brightness_pct=target["b"], color_temp_k=2700)}

    engine = Engine({"lamp": lamp}, desired, clock, EngineSettings(idle_check_s=30.0))
    task = asyncio.create_task(engine.run())
    for _ in range(100):
        await clock.advance(0.1)  # at rest at 40 %, nothing due for 30 s
    began = clock.now()
    target["b"] = 50.0
    engine.wake()
    await clock.advance(0.1)  # the command for 50 % is on its way (it lands at +0.3 s)
    target["b"] = 60.0
    engine.wake()
    for _ in range(20):
        await clock.advance(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = [(round(t - began, 1), s.brightness_pct) for t, s, _ in lamp.commands if t >= began]
    assert after[0][1] == 50 and after[-1][1] == 60
    assert after[-1][0] <= 1.0 + 0.3  # the budget's second and the device's answer, no more


async def test_a_fade_faster_than_a_step_a_second_goes_in_half_seconds() -> None:
    """20 % to 10 % in 5 s (2 % a second): commands half a second apart, each one step."""
    clock = VirtualClock(T0)
    lamp = MemoryLight("lamp", clock)
    engine = Engine({"lamp": lamp}, fade(T0 + 10, 5, 20, 10), clock)  # type: ignore[arg-type]
    await run_for(clock, engine, 20, step=0.1)
    during = [(t, s.brightness_pct or 0.0, tr) for t, s, tr in lamp.commands if t > T0 + 10]
    assert during[-1][1] == 10
    steps = [abs(a[1] - b[1]) for a, b in itertools.pairwise(during)]
    assert max(steps) <= 1.05
    assert all(tr == pytest.approx(0.5) for _, _, tr in during[:-1])

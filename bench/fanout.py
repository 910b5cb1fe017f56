"""Fan-out: how long until 16 devices, each answering 50 ms late, all show a new target.

The room: 8 Kasa lights of five models, 4 standalone Sonos speakers and 4 Zigbee2MQTT lights
behind a Mosquitto started here, each an emulator on 127.0.0.x, driven by the real drivers built
with ``roomctl.devices.factory.build_device``.  Every emulator answers each request 50 ms late:
Kasa ``faults.latency_s``, Sonos ``latency_s`` (every HTTP request of a SoCo call), and the
Zigbee2MQTT light, which has no latency knob, through a subclass that holds back its state
report (the acknowledgement the driver waits for) by 50 ms.

Measured, all on the system clock:

- alone: each device by itself, one command at a time (``apply_state``), median of a few;
  the slowest device's median is the reference;
- engine: the desired state changes and ``Engine.wake()`` is called; the time until every
  device's ``Engine.health()[id].landed`` is the new target (polled every millisecond);
- gather: the same 16 ``apply_state`` calls at once with ``asyncio.gather``, no engine (what
  concurrency itself costs with these drivers on this machine);
- naive: the same 16 commands one after another with ``await apply_state(...)``;
- dispatch: when the engine started the last of the 16 driver calls after ``wake()`` (the
  drivers' ``set_light``/``set_volume`` are wrapped on the instances to note the time).

The whole measurement runs twice: with the emulators in a separate Python process (like real
devices, their CPU work does not share roomctl's event loop and GIL), and with the emulators on
the bench's own event loop (their request handling then competes with the drivers and engine).

Read-back is off in the engine (``readback_s=0``) so that no read of a device falls into a
measured round; rounds start at least a second apart so the engine's rate limit (2 commands a
second per device) never delays one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from bench import Figure, median, p90, print_table
from roomctl.clock import SystemClock
from roomctl.devices.base import Device
from roomctl.devices.factory import build_device
from roomctl.engine.reconciler import Engine, EngineSettings
from roomctl.engine.steps import apply_state, quantize
from roomctl.model.config import (
    DeviceConfig,
    KasaDeviceConfig,
    MqttConfig,
    SonosDeviceConfig,
    Z2MLightConfig,
)
from roomctl.model.state import DeviceState, LightState, PlayerState
from roomctl.mqtt.bus import MqttBus
from roomctl.sim.broker import Broker
from roomctl.sim.demo import demo_favorites
from roomctl.sim.kasa import KasaEmulator, Model
from roomctl.sim.sonos import SonosEmulator
from roomctl.sim.z2m import Z2MLightEmulator

__all__ = ["LATENCY_S", "SlowZ2MLightEmulator", "run"]


LATENCY_S = 0.05
TARGET_RATIO = 1.3
KASA_MODELS: tuple[Model, ...] = (
    "color_bulb",
    "color_bulb",
    "white_bulb",
    "white_bulb",
    "dimmable_bulb",
    "strip",
    "strip",
    "dimmer",
)
SONOS_COUNT = 4
Z2M_COUNT = 4
POLL_S = 0.001
ROOT = Path(__file__).resolve().parent.parent
GAP_S = 1.0  # between rounds: longer than the engine's min_interval_s


class SlowZ2MLightEmulator(Z2MLightEmulator):
    """A Zigbee2MQTT light whose answers (state reports) go out `latency_s` late.

    The emulator has no latency knob; its public `publish` is where every answer leaves, and
    each incoming message is handled in its own task, so delaying there is a per-request delay
    like Kasa's and Sonos'.  Availability messages are not delayed.
    """

    latency_s: float = 0.0

    async def publish(self, topic: str, payload: Any, *, retain: bool = False) -> None:
        if self.latency_s > 0 and topic != self.availability_topic:
            await asyncio.sleep(self.latency_s)
        await super().publish(topic, payload, retain=retain)


@dataclass
class Emulators:
    """The 16 emulators of the fan-out room, started; `configs` point the drivers at them."""

    configs: list[DeviceConfig] = field(default_factory=list)
    kasa: list[KasaEmulator] = field(default_factory=list)
    sonos: list[SonosEmulator] = field(default_factory=list)
    z2m: list[SlowZ2MLightEmulator] = field(default_factory=list)


@contextlib.asynccontextmanager
async def start_emulators(
    broker_host: str,
    broker_port: int,
    latency_s: float,
    *,
    sonos_port: int = 0,
    sonos_net: str = "127.0.0",
) -> AsyncIterator[Emulators]:
    """Start every emulator in this process, each answering `latency_s` late.  `sonos_port`
    1400 puts the speakers on Sonos' own port (each on its own `sonos_net`.x), where tools
    that cannot be given a port (soco-cli) find them."""
    async with contextlib.AsyncExitStack() as stack:
        emu = Emulators()
        for i, model in enumerate(KASA_MODELS):
            kasa = KasaEmulator(model, f"127.0.0.{101 + i}", 0, alias=f"Bench {model} {i}")
            kasa.faults.latency_s = latency_s
            await kasa.start()
            stack.push_async_callback(kasa.stop)
            emu.kasa.append(kasa)
            emu.configs.append(
                KasaDeviceConfig(
                    id=f"kasa{i}-{model.replace('_', '-')}",
                    zone="lights",
                    driver="kasa",
                    host=kasa.address,
                    model=model,
                )
            )
        for i in range(SONOS_COUNT):
            sonos = SonosEmulator(
                f"{sonos_net}.{121 + i}",
                sonos_port,
                room_name=f"Bench Room {i}",
                volume=10,
                favorites=demo_favorites(),
            )
            sonos.latency_s = latency_s
            await sonos.start()
            stack.push_async_callback(sonos.stop)
            emu.sonos.append(sonos)
            emu.configs.append(
                SonosDeviceConfig(
                    id=f"sonos{i}", zone="speakers", driver="sonos", host=sonos.address
                )
            )
        for i in range(Z2M_COUNT):
            topic = f"zigbee2mqtt/bench_light_{i}"
            z2m = SlowZ2MLightEmulator(broker_host, broker_port, topic)
            z2m.latency_s = latency_s
            await z2m.start()
            stack.push_async_callback(z2m.stop)
            emu.z2m.append(z2m)
            emu.configs.append(
                Z2MLightConfig(id=f"z2m{i}", zone="lights", driver="z2m_light", topic=topic)
            )
        yield emu


async def serve_emulators(broker_host: str, broker_port: int, latency_s: float) -> None:
    """The child process: start the emulators, print their configs as one JSON line, and run
    until stdin closes."""
    async with start_emulators(broker_host, broker_port, latency_s) as emu:
        line = json.dumps([cfg.model_dump(mode="json") for cfg in emu.configs])
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.read)


@contextlib.asynccontextmanager
async def emulators_in_child(
    broker_host: str, broker_port: int, latency_s: float
) -> AsyncIterator[list[DeviceConfig]]:
    """The emulators in their own Python process (as real devices would be: their work does not
    share roomctl's event loop and GIL).  Yields the device configs."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.fanout",
        "--serve-emulators",
        broker_host,
        str(broker_port),
        str(latency_s),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        async with asyncio.timeout(60):
            line = await proc.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process ended before it was ready")
        adapter: TypeAdapter[DeviceConfig] = TypeAdapter(DeviceConfig)
        yield [adapter.validate_python(item) for item in json.loads(line)]
    finally:
        proc.stdin.close()
        try:
            async with asyncio.timeout(10):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


@contextlib.asynccontextmanager
async def emulators_in_process(
    broker_host: str, broker_port: int, latency_s: float
) -> AsyncIterator[list[DeviceConfig]]:
    """The emulators on this process's own event loop, next to the engine."""
    async with start_emulators(broker_host, broker_port, latency_s) as emu:
        yield emu.configs


@dataclass
class Room:
    """Device configs of running emulators, and the MQTT bus the drivers share."""

    bus: MqttBus
    configs: list[DeviceConfig]

    def build(self) -> dict[str, Device]:
        """Fresh real drivers for every device (the engine closes the ones it ran)."""
        clock = SystemClock()
        return {cfg.id: build_device(cfg, self.bus, clock) for cfg in self.configs}


def targets(configs: Sequence[DeviceConfig], variant: int) -> dict[str, DeviceState]:
    """Two clearly different states per device (variant 0 and 1), each one command.

    Volumes differ by one step: the engine's safety limit raises volume one step at a time,
    no faster than `max_volume_rise_per_10s`, so a larger rise would be held back on purpose.
    """
    out: dict[str, DeviceState] = {}
    for cfg in configs:
        if isinstance(cfg, SonosDeviceConfig):
            out[cfg.id] = PlayerState(source=None, volume=(12, 13)[variant])
            continue
        brightness = (30.0, 70.0)[variant]
        kelvin = (2700, 3500)[variant] if cfg.has_color_temp else None
        out[cfg.id] = LightState(on=True, brightness_pct=brightness, color_temp_k=kelvin)
    return out


async def _start_all(devices: Mapping[str, Device]) -> None:
    await asyncio.gather(*(dev.start() for dev in devices.values()))


async def _close_all(devices: Mapping[str, Device]) -> None:
    await asyncio.gather(*(dev.close() for dev in devices.values()))


async def measure_alone(room: Room, repeats: int) -> dict[str, float]:
    """Each device by itself, the others idle: median seconds for one acknowledged command."""
    devices = room.build()
    await _start_all(devices)
    states = [targets(room.configs, v) for v in (0, 1)]
    landed: dict[str, DeviceState | None] = dict.fromkeys(devices)
    try:
        for dev_id, dev in devices.items():  # warm up: bring every device to variant 0
            await apply_state(dev, states[0][dev_id], 0.0, None)
            landed[dev_id] = states[0][dev_id]
        out: dict[str, float] = {}
        for dev_id, dev in devices.items():
            times: list[float] = []
            for i in range(repeats):
                want = states[(i + 1) % 2][dev_id]
                t0 = time.perf_counter()
                await apply_state(dev, want, 0.0, landed[dev_id])
                times.append(time.perf_counter() - t0)
                landed[dev_id] = want
                await asyncio.sleep(0.05)
            out[dev_id] = median(times)
        return out
    finally:
        await _close_all(devices)


async def measure_direct(room: Room, repeats: int, *, parallel: bool) -> list[float]:
    """Without the engine, per round: all devices one after another (`await apply_state(...)`
    in a loop: the naive baseline), or all at once (`asyncio.gather`: what perfect fan-out
    costs with these drivers and emulators on this machine)."""
    devices = room.build()
    await _start_all(devices)
    states = [targets(room.configs, v) for v in (0, 1)]
    try:
        landed: dict[str, DeviceState | None] = {}
        for dev_id, dev in devices.items():
            await apply_state(dev, states[0][dev_id], 0.0, None)
            landed[dev_id] = states[0][dev_id]
        rounds: list[float] = []
        for i in range(repeats):
            want = states[(i + 1) % 2]
            t0 = time.perf_counter()
            if parallel:
                await asyncio.gather(
                    *(apply_state(d, want[k], 0.0, landed[k]) for k, d in devices.items())
                )
            else:
                for dev_id, dev in devices.items():
                    await apply_state(dev, want[dev_id], 0.0, landed[dev_id])
            rounds.append(time.perf_counter() - t0)
            landed.update(want)
            await asyncio.sleep(0.2)
        return rounds
    finally:
        await _close_all(devices)


@dataclass
class EngineRounds:
    totals: list[float] = field(default_factory=list)
    per_device: dict[str, list[float]] = field(default_factory=dict)
    dispatch: list[float] = field(default_factory=list)  # wake() to the last driver call


def _timed(
    dev_id: str, method: Callable[..., Awaitable[None]], calls: dict[str, float]
) -> Callable[..., Awaitable[None]]:
    async def call(*args: Any, **kwargs: Any) -> None:
        calls.setdefault(dev_id, time.perf_counter())
        await method(*args, **kwargs)

    return call


def _note_calls(devices: Mapping[str, Device], calls: dict[str, float]) -> None:
    """Note when the engine first calls into each driver (instance attributes, nothing else
    changes)."""
    for dev_id, dev in devices.items():
        for name in ("set_light", "set_volume"):
            method = getattr(dev, name, None)
            if method is not None:
                setattr(dev, name, _timed(dev_id, method, calls))


async def _until_landed(
    engine: Engine, want: Mapping[str, DeviceState], t0: float, timeout_s: float
) -> dict[str, float]:
    """Poll the engine's health until every device landed `want`; seconds since t0 per device."""
    seen: dict[str, float] = {}
    async with asyncio.timeout(timeout_s):
        while len(seen) < len(want):
            health = engine.health()
            now = time.perf_counter()
            for dev_id, state in want.items():
                if dev_id not in seen and health[dev_id].landed == state:
                    seen[dev_id] = now - t0
            if len(seen) < len(want):
                await asyncio.sleep(POLL_S)
    return seen


async def measure_engine(room: Room, repeats: int) -> EngineRounds:
    """The engine's parallel path: change what `desired` returns, wake, wait for every ack."""
    devices = room.build()
    # As the devices can show them (Zigbee2MQTT has 254 levels): what the engine acknowledges.
    states = [
        {d: quantize(devices[d], s) for d, s in targets(room.configs, v).items()} for v in (0, 1)
    ]
    current = {"variant": 0}

    def desired(t: float) -> Mapping[str, DeviceState]:
        del t
        return states[current["variant"]]

    calls: dict[str, float] = {}
    _note_calls(devices, calls)
    settings = EngineSettings(readback_s=0.0)
    engine = Engine(devices, desired, SystemClock(), settings)
    task = asyncio.create_task(engine.run(), name="bench-engine")
    result = EngineRounds(per_device={dev_id: [] for dev_id in devices})
    try:
        await _until_landed(engine, states[0], time.perf_counter(), 60.0)  # connect + first
        for i in range(repeats):
            await asyncio.sleep(GAP_S)
            current["variant"] = (i + 1) % 2
            want = states[current["variant"]]
            calls.clear()
            t0 = time.perf_counter()
            engine.wake()
            seen = await _until_landed(engine, want, t0, 30.0)
            result.totals.append(max(seen.values()))
            result.dispatch.append(max(calls.values()) - t0)
            for dev_id, dt in seen.items():
                result.per_device[dev_id].append(dt)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return result


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


Placement = Callable[[str, int, float], contextlib.AbstractAsyncContextManager[list[DeviceConfig]]]
PLACEMENTS: dict[str, Placement] = {
    "emulators in a separate process": emulators_in_child,
    "emulators in the bench's own process": emulators_in_process,
}


async def _measure(room: Room, label: str, repeats: int, alone_repeats: int) -> list[Figure]:
    alone = await measure_alone(room, alone_repeats)
    naive = await measure_direct(room, repeats, parallel=False)
    gather = await measure_direct(room, repeats, parallel=True)
    engine = await measure_engine(room, repeats)
    slowest_id = max(alone, key=lambda k: alone[k])
    slowest = alone[slowest_id]
    print(f"\n-- {label} --")
    rows = [
        [
            dev_id,
            _ms(alone[dev_id]),
            _ms(median(engine.per_device[dev_id])),
            _ms(p90(engine.per_device[dev_id])),
        ]
        for dev_id in alone
    ]
    print_table(rows, ["device", "alone (median)", "in fan-out (median)", "in fan-out (p90)"])
    eng_med, eng_p90 = median(engine.totals), p90(engine.totals)
    naive_med, naive_p90 = median(naive), p90(naive)
    gather_med, gather_p90 = median(gather), p90(gather)
    print(
        f"slowest device alone: {slowest_id} {_ms(slowest)}\n"
        f"engine, all 16 acknowledged: median {_ms(eng_med)} (x{eng_med / slowest:.2f}), "
        f"p90 {_ms(eng_p90)} (x{eng_p90 / slowest:.2f}); rounds (ms): "
        + ", ".join(f"{t * 1000:.0f}" for t in engine.totals)
        + "\n"
        f"engine: last driver call began {_ms(median(engine.dispatch))} after wake() (median), "
        f"max {_ms(max(engine.dispatch))}\n"
        f"asyncio.gather of apply_state, no engine: median {_ms(gather_med)} "
        f"(x{gather_med / slowest:.2f}), p90 {_ms(gather_p90)} (x{gather_p90 / slowest:.2f})\n"
        f"naive one-after-another: median {_ms(naive_med)} (x{naive_med / slowest:.2f}), "
        f"p90 {_ms(naive_p90)} (x{naive_p90 / slowest:.2f})"
    )
    n = len(engine.totals)
    return [
        Figure(f"fan-out, {label}: slowest device alone", f"{_ms(slowest)} ({slowest_id})"),
        Figure(
            f"fan-out, {label}: engine, all 16 acked, median of {n}",
            f"{_ms(eng_med)} = x{eng_med / slowest:.2f}",
            f"≤ x{TARGET_RATIO}",
            eng_med / slowest <= TARGET_RATIO,
        ),
        Figure(
            f"fan-out, {label}: engine, all 16 acked, p90 of {n}",
            f"{_ms(eng_p90)} = x{eng_p90 / slowest:.2f}",
            f"≤ x{TARGET_RATIO}",
            eng_p90 / slowest <= TARGET_RATIO,
        ),
        Figure(
            f"fan-out, {label}: engine, wake() to last driver call, median",
            _ms(median(engine.dispatch)),
        ),
        Figure(
            f"fan-out, {label}: asyncio.gather without engine, median / p90",
            f"{_ms(gather_med)} = x{gather_med / slowest:.2f} / "
            f"{_ms(gather_p90)} = x{gather_p90 / slowest:.2f}",
        ),
        Figure(
            f"fan-out, {label}: naive loop, median / p90",
            f"{_ms(naive_med)} = x{naive_med / slowest:.2f} / "
            f"{_ms(naive_p90)} = x{naive_p90 / slowest:.2f}",
        ),
    ]


async def run(*, quick: bool = False) -> list[Figure]:
    repeats = 4 if quick else 10
    alone_repeats = 3 if quick else 5
    print(
        f"\n== fan-out: 16 devices, {LATENCY_S * 1000:.0f} ms added latency each, "
        f"{repeats} rounds =="
    )
    figures: list[Figure] = []
    async with Broker.start() as broker:
        bus = MqttBus(MqttConfig(host=broker.host, port=broker.port), "roomctl-bench-fanout")
        await bus.start()
        try:
            for label, placement in PLACEMENTS.items():
                async with placement(broker.host, broker.port, LATENCY_S) as configs:
                    room = Room(bus, configs)
                    figures += await _measure(room, label, repeats, alone_repeats)
        finally:
            await bus.close()
    return figures


def main(argv: Sequence[str]) -> None:
    """`python -m bench.fanout --serve-emulators HOST PORT LATENCY` (used by the benchmark)."""
    if len(argv) == 4 and argv[0] == "--serve-emulators":
        asyncio.run(serve_emulators(argv[1], int(argv[2]), float(argv[3])))
        return
    asyncio.run(run(quick="--quick" in argv))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Fade budget: the psilocybin arc played through the real engine, drivers and session control
into emulators, counted from what arrived on the wire.

The room is config.example.yaml's room made of emulators (a Kasa colour bulb "lamp", a Kasa
light strip "strip", a Zigbee2MQTT "ceiling" light, a Sonos "speakers" and a Zigbee2MQTT
"radiator"), plus a Kasa dimmer "reading" in the lamp zone as in the demo, so that every light
driver is exercised.  Safety settings are config.example.yaml's.  MQTT goes through a Mosquitto
started here.

Time: roomctl's VirtualClock in lock step (`LockstepClock`).  Virtual time stands still
while any engine worker is busy (planning, or waiting for a device to answer over real
loopback I/O) and jumps to the next deadline only when every worker sleeps on the clock.  So a
command takes no session time, exactly as if the devices answered instantly, and the 8.5-hour
session runs in about a minute; the drivers' real-time timeouts are never at risk, because
real time passes normally during I/O.  The emulators (Kasa fades, Z2M fades and command log,
Sonos playback and action log) run on the same virtual clock, so a native transition of N
seconds ends N session seconds later and read-back sees what a real device would.  A scaled
clock (ScaledClock at 120–300x) was not used: there every millisecond of real latency would
count as 0.1–0.3 session seconds and distort exactly the figures measured here (commands per
second and step sizes).

The engine runs with the daemon's settings (EngineSettings defaults, the room's volume-rise
limit, read-back every 30 s, manual changes adopted).  From the emulators' logs, per device:

- commands: the setters one engine command sent (python-kasa and SoCo may send several wire
  requests for one command; they share one virtual instant, and the engine never sends two
  commands to a device less than 0.5 s apart, so wire requests are grouped by instant);
- commands per minute of session time (average, and the busiest minute), the most commands in
  any one second;
- the largest brightness step between consecutive commands (% of the range; off counts as 0 %),
  colour-temperature step (mireds), hue step (degrees), volume step between consecutive Sonos
  SetVolume requests, setpoint step.

The first command (the session start) is left out; a plain arc has no emergency.  Also
counted: commands that repeat the previous wire value, and read-backs the engine took for a
change made outside roomctl (its `on_external_change` callback, passed on to SessionControl as
in the daemon).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import Figure, print_table
from roomctl.clock import VirtualClock
from roomctl.control.session import SessionControl
from roomctl.devices.factory import build_devices
from roomctl.engine.reconciler import Engine, EngineSettings
from roomctl.model.arc import format_hmm
from roomctl.model.library import EXAMPLE_CONFIG, Library, load_library
from roomctl.model.state import DeviceState
from roomctl.mqtt.bus import MqttBus
from roomctl.sim.demo import DemoRoom
from roomctl.sim.kasa import KasaEmulator
from roomctl.sim.sonos import SonosEmulator
from roomctl.sim.z2m import Z2MLightEmulator, Z2MThermostatEmulator
from roomctl.store.store import Store

__all__ = ["LockstepClock", "Rig", "arc_rig", "reports_for", "run"]


ARC = "psilocybin"
T_START = 1_800_000_000.0
NATIVE_STEP_PCT = 1.0
OTHER_STEP_PCT = 2.0
MAX_PER_MINUTE = 60.0
MAX_PER_SECOND = 2
MAX_VOLUME_STEP = 1
IDLE_TURNS = 8
VOLUME_ACTIONS = ("SetVolume", "SetRelativeVolume")  # what moves a Sonos speaker's volume
MIRED_VISIBLE = 5.0  # one visible step in roomctl/steps.py (MIRED_STEP)
STALL_S = 60.0  # real seconds without every worker asleep: something hangs


class LockstepClock(VirtualClock):
    """roomctl's VirtualClock, moved only when `parties` tasks (the engine's workers) all sleep
    on it.

    `run_until()` drives it: it waits until every worker sleeps, then `advance()`s to the
    earliest deadline, which wakes the sleepers due then.  Nothing else may sleep on this
    clock.  Only the counting of sleepers is added here; time, deadlines and waking are
    VirtualClock's.
    """

    def __init__(self, start: float, parties: int) -> None:
        super().__init__(start)
        self.parties = parties
        self.steps = 0
        self._due: Counter[float] = Counter()  # deadlines of the sleeps in progress
        self._idle = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await super().sleep(seconds)
            return
        deadline = self.now() + seconds
        self._due[deadline] += 1
        self._changed()
        try:
            await super().sleep(seconds)
        finally:  # woken or cancelled: no longer asleep
            self._due[deadline] -= 1
            if not self._due[deadline]:
                del self._due[deadline]
            self._changed()

    def _changed(self) -> None:
        if self._due.total() >= self.parties:
            self._idle.set()
        else:
            self._idle.clear()

    async def _until_idle(self) -> None:
        # Idle, and still idle after the loop had some turns: a worker woken by an event (set
        # just before, by the caller) takes a few turns to leave its sleep, and time must not
        # move on before it has planned at the moment of the event.
        for _ in range(IDLE_TURNS):
            try:
                async with asyncio.timeout(STALL_S):
                    await self._idle.wait()
            except TimeoutError:
                raise RuntimeError(
                    f"lock-step clock: only {self._due.total()} of {self.parties} workers "
                    f"asleep after {STALL_S:g} real seconds"
                ) from None
            await asyncio.sleep(0)

    async def run_until(self, end: float) -> None:
        """Advance, deadline by deadline, until `end`."""
        while True:
            await self._until_idle()
            due = min(self._due, default=None)
            if due is None or due > end:
                await self.advance(max(0.0, end - self.now()), settle=2)
                return
            self.steps += 1
            await self.advance(max(0.0, due - self.now()), settle=2)


# ------------------------------------------------------------------------------ the room


def example_safety() -> dict[str, Any]:
    """The safety settings of the shipped config.example.yaml (read, not copied)."""
    example = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    safety: dict[str, Any] = example["safety"]
    return safety


def bench_config(room: DemoRoom) -> dict[str, Any]:
    """The demo room without its thermostat, with the shipped example's safety settings."""
    cfg: dict[str, Any] = room.config()
    cfg["room"] = {"id": "bench", "name": "Fade budget room"}
    cfg["safety"] = example_safety()
    cfg.pop("clock", None)
    return cfg


# ------------------------------------------------------------------------ wire analysis


@dataclass
class Shown:
    """What a device was told to show after one command (None: not part of that device)."""

    on: bool | None = None
    brightness_pct: float | None = None
    mired: float | None = None
    hue: float | None = None
    saturation: float | None = None
    volume: int | None = None
    setpoint_c: float | None = None

    @property
    def level(self) -> float | None:
        """Brightness as emitted: an off light is 0 %."""
        if self.on is None:
            return None
        return (self.brightness_pct or 0.0) if self.on else 0.0


@dataclass
class Command:
    t: float  # virtual monotonic seconds since the clock's start
    wire: int  # wire requests (setters) in this command
    shown: Shown
    volumes: list[int] = field(default_factory=list)  # SetVolume values, in order
    transport: int = 0  # Sonos setters other than SetVolume (play, pause, queue)


@dataclass
class DeviceReport:
    device_id: str
    kind: str
    native: bool
    commands: list[Command]
    duration_s: float
    failed_wire: int = 0

    # All figures leave out the first command (the session start).
    @property
    def counted(self) -> list[Command]:
        return self.commands[1:]

    @property
    def per_minute(self) -> float:
        return len(self.counted) / (self.duration_s / 60.0)

    @property
    def wire_per_minute(self) -> float:
        return sum(c.wire for c in self.counted) / (self.duration_s / 60.0)

    def busiest(self, window_s: float, *, wire: bool = False) -> tuple[int, float]:
        """(most commands, or wire requests, in any window of `window_s`; when it starts)."""
        cmds = self.counted
        times = [c.t for c in cmds]
        weights = list(itertools.accumulate(c.wire if wire else 1 for c in cmds))
        best, at = 0, 0.0
        for i, t in enumerate(times):
            j = bisect.bisect_left(times, t + window_s)
            total = weights[j - 1] - (weights[i - 1] if i else 0)
            if total > best:
                best, at = total, t
        return best, at

    def largest_step(self, attr: str) -> tuple[float, float] | None:
        """(largest change of `attr` between consecutive commands that both set it; when)."""
        best: tuple[float, float] | None = None
        prev: float | None = None
        for i, cmd in enumerate(self.commands):
            value = cmd.shown.level if attr == "level" else getattr(cmd.shown, attr)
            if value is None:
                continue
            if prev is not None and i >= 1:
                delta = abs(value - prev)
                if attr == "hue":
                    delta = abs((value - prev + 180.0) % 360.0 - 180.0)
                if best is None or delta > best[0]:
                    best = (delta, cmd.t)
            prev = value
        return best

    @property
    def repeats(self) -> int:
        """Counted commands that put on the wire what the previous command already had."""
        return sum(
            1
            for prev, cmd in itertools.pairwise(self.commands)
            if cmd.shown == prev.shown and not cmd.transport
        )

    def steps_over(self, attr: str, limit: float) -> list[tuple[float, float, float]]:
        """(when, from, to) of every step of `attr` larger than `limit`."""
        out: list[tuple[float, float, float]] = []
        prev: float | None = None
        for i, cmd in enumerate(self.commands):
            value = cmd.shown.level if attr == "level" else getattr(cmd.shown, attr)
            if value is None:
                continue
            if prev is not None and i >= 1 and abs(value - prev) > limit + 1e-9:
                out.append((cmd.t, prev, value))
            prev = value
        return out

    def volume_steps(self) -> list[tuple[int, float]]:
        """(step, when) between consecutive SetVolume requests, after the first command."""
        out: list[tuple[int, float]] = []
        prev: int | None = None
        for i, cmd in enumerate(self.commands):
            for vol in cmd.volumes:
                if prev is not None and i >= 1:
                    out.append((abs(vol - prev), cmd.t))
                prev = vol
        return out

    def largest_volume_step(self) -> tuple[int, float] | None:
        return max(self.volume_steps(), key=lambda s: s[0], default=None)


def _group(records: Iterable[tuple[float, Any]]) -> list[tuple[float, list[Any]]]:
    out: list[tuple[float, list[Any]]] = []
    for t, rec in records:
        if out and out[-1][0] == t:
            out[-1][1].append(rec)
        else:
            out.append((t, [rec]))
    return out


def kasa_report(dev_id: str, emu: KasaEmulator, duration_s: float) -> DeviceReport:
    state = Shown(on=None)
    commands: list[Command] = []
    failed = sum(1 for r in emu.commands if r.err_code != 0)
    ok = [(r.t, r) for r in emu.commands if r.err_code == 0]
    for t, group in _group(ok):
        for rec in group:
            p = rec.params
            if rec.command in ("transition_light_state", "set_light_state"):
                # as the emulator applies it: brightness 0 is off, on/off only from on_off
                if "on_off" in p:
                    state.on = bool(p["on_off"])
                if p.get("brightness") == 0:
                    state.on = False
                elif "brightness" in p:
                    state.brightness_pct = float(p["brightness"])
                if p.get("color_temp"):
                    state.mired = 1e6 / float(p["color_temp"])
                    state.hue = state.saturation = None
                elif "hue" in p:
                    state.hue, state.mired = float(p["hue"]), None
                    state.saturation = float(p.get("saturation", state.saturation or 0))
            elif rec.command == "set_dimmer_transition":
                state.on = p["brightness"] > 0
                if p["brightness"] > 0:
                    state.brightness_pct = float(p["brightness"])
            elif rec.command == "set_brightness":
                state.brightness_pct = float(p["brightness"])
            elif rec.command == "set_relay_state":
                state.on = bool(p["state"])
        commands.append(Command(t, len(group), Shown(**vars(state))))
    return DeviceReport(dev_id, f"Kasa {emu.model}", True, commands, duration_s, failed)


def z2m_light_report(dev_id: str, emu: Z2MLightEmulator, duration_s: float) -> DeviceReport:
    state = Shown(on=None)
    commands: list[Command] = []
    sets = [
        (c.at - T_START, c.payload)
        for c in emu.commands
        if c.topic.endswith("/set") and isinstance(c.payload, dict)
    ]
    for t, group in _group(sets):
        for p in group:
            if "state" in p:
                state.on = str(p["state"]).upper() == "ON"
            if isinstance(p.get("brightness"), int | float):
                state.brightness_pct = float(p["brightness"]) * 100.0 / 254.0
            if isinstance(p.get("color_temp"), int | float):
                state.mired, state.hue = float(p["color_temp"]), None
            elif isinstance(p.get("color"), dict):
                state.hue, state.mired = float(p["color"]["hue"]), None
                state.saturation = float(p["color"]["saturation"])
        commands.append(Command(t, len(group), Shown(**vars(state))))
    return DeviceReport(dev_id, "Zigbee2MQTT light", True, commands, duration_s)


def z2m_thermostat_report(
    dev_id: str, emu: Z2MThermostatEmulator, duration_s: float
) -> DeviceReport:
    commands: list[Command] = []
    sets = [(c.at - T_START, c.payload) for c in emu.commands if c.topic.endswith("/set")]
    setpoint: float | None = None
    for t, group in _group(sets):
        for p in group:
            if isinstance(p, dict) and isinstance(p.get(emu.setpoint_key), int | float):
                setpoint = float(p[emu.setpoint_key])
        commands.append(Command(t, len(group), Shown(setpoint_c=setpoint)))
    return DeviceReport(dev_id, "Zigbee2MQTT TRV", False, commands, duration_s)


def _is_query(action: str) -> bool:
    return action.startswith(("Get", "Browse"))


def sonos_report(dev_id: str, emu: SonosEmulator, duration_s: float) -> DeviceReport:
    commands: list[Command] = []
    sets = [(r.at_s, r) for r in emu.log if not _is_query(r.action)]
    failed = sum(1 for _, r in sets if r.outcome != "ok")
    # a volume step is SetVolume or SetRelativeVolume: the level each left is in volume_sets
    levels = iter(level for _, level in emu.volume_sets)
    for t, group in _group(sets):
        volumes = [
            next(levels)
            for r in group
            if r.action in VOLUME_ACTIONS and r.outcome == "ok"
        ]
        shown = Shown(volume=volumes[-1] if volumes else None)
        commands.append(Command(t, len(group), shown, volumes, len(group) - len(volumes)))
    return DeviceReport(dev_id, "Sonos", False, commands, duration_s, failed)


# ---------------------------------------------------------------------------- running


@dataclass
class Run:
    reports: list[DeviceReport]
    session_s: float
    real_s: float
    clock_steps: int
    engine_commands: dict[str, int]
    external: dict[str, int]  # read-backs the engine took for a change made outside roomctl


async def _drive(
    engine: Engine, clock: LockstepClock, session: SessionControl, length: float
) -> float:
    """Run the engine for `length` session seconds; the real seconds it took."""
    real0 = time.perf_counter()
    task = asyncio.create_task(engine.run(), name="bench-engine")
    try:
        t = 0.0
        while t < length:
            t = min(length, t + 3600.0)
            await clock.run_until(T_START + t)
            snap = session.snapshot()
            phase = snap.status.phase if snap.status is not None else "-"
            print(
                f"  session {format_hmm(t):>5} ({phase:<9}) after "
                f"{time.perf_counter() - real0:5.1f} s real",
                flush=True,
            )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return time.perf_counter() - real0


@dataclass
class Rig:
    """The bench room with a session started on the arc and an engine (not yet running)."""

    room: DemoRoom
    clock: LockstepClock
    session: SessionControl
    engine: Engine
    full_s: float  # the whole arc and a minute after its end, in session seconds
    external: dict[str, int]  # read-backs the engine took for a change made outside roomctl


@contextlib.asynccontextmanager
async def arc_rig() -> AsyncIterator[Rig]:
    """The demo room (no thermostat) on a lock-step clock, a session of the arc started on it
    with the room dark, and an Engine with the daemon's settings (`Engine.run()` is the
    caller's)."""
    clock = LockstepClock(T_START, parties=0)  # parties set once the devices are known
    folder = Path(tempfile.mkdtemp(prefix="roomctl-bench-"))
    async with DemoRoom.start(clock, folder, emulator_clock=clock, thermostat=False) as room:
        config_path = room.folder / "config.yaml"
        text = yaml.safe_dump(bench_config(room), sort_keys=False)
        config_path.write_text(text, encoding="utf-8")
        lib: Library = load_library(config_path)
        arc = lib.arc(ARC)
        end_arc = arc.nominal_end
        assert end_arc is not None
        assert lib.room.mqtt is not None
        bus = MqttBus(lib.room.mqtt, "roomctl-bench-fade")
        await bus.start()
        store = Store.open(Path(lib.room.storage.path), clock)
        try:
            devices = build_devices(lib.room, bus, clock)
            clock.parties = len(devices)
            session = SessionControl(lib, store, clock)
            session.refresh()
            dark = {"on": False}
            session.start(
                ARC,
                by="bench",
                room={
                    **dict.fromkeys(("lamp", "reading", "strip", "ceiling"), dark),
                    "speakers": {"volume": 0, "playing": False},
                    "radiator": {"setpoint_c": 20.0},
                },
            )
            external: dict[str, int] = dict.fromkeys(devices, 0)

            def noticed(dev_id: str, before: DeviceState, shown: DeviceState) -> None:
                """Count, then do what the daemon does (a manual change becomes an override)."""
                external[dev_id] += 1
                session.adopt_manual_change(dev_id, before, shown)

            settings = EngineSettings(
                max_volume_rise_per_10s=lib.room.safety.max_volume_rise_per_10s
            )
            engine = Engine(
                devices,
                session.desired,
                clock,
                settings,
                on_external_change=noticed,
            )
            session.listeners.append(engine.wake)  # as the daemon does: re-plan on each event
            full_s = end_arc - arc.starts_at + 60.0
            yield Rig(room, clock, session, engine, full_s, external)
        finally:
            store.close()
            await bus.close()


def reports_for(room: DemoRoom, length: float) -> list[DeviceReport]:
    """Every device's report, from the emulators' logs."""
    assert room.sonos is not None and room.ceiling is not None and room.radiator is not None
    return [
        kasa_report("lamp", room.kasa["lamp"], length),
        kasa_report("reading", room.kasa["reading"], length),
        kasa_report("strip", room.kasa["strip"], length),
        z2m_light_report("ceiling", room.ceiling, length),
        sonos_report("speakers", room.sonos.coordinator, length),
        z2m_thermostat_report("radiator", room.radiator, length),
    ]


async def play_arc(session_s: float | None) -> Run:
    """Play the arc (or its first `session_s` seconds) and read the emulators' logs."""
    async with arc_rig() as rig:
        length = rig.full_s if session_s is None else min(session_s, rig.full_s)
        real_s = await _drive(rig.engine, rig.clock, rig.session, length)
        counts = {k: h.commands for k, h in rig.engine.health().items()}
        reports = reports_for(rig.room, length)
        return Run(reports, length, real_s, rig.clock.steps, counts, rig.external)


def clock_text(t: float) -> str:
    """Session seconds as h:mm:ss since the session started."""
    whole = round(t)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _at(t: float) -> str:
    return f"at {clock_text(t)}"


def _step_cell(step: tuple[float, float] | None, unit: str, digits: int = 1) -> str:
    return "–" if step is None else f"{step[0]:.{digits}f}{unit} {_at(step[1])}"


def figures_for(run: Run) -> list[Figure]:
    out: list[Figure] = []
    for rep in run.reports:
        name = f"fade: {rep.device_id} ({rep.kind})"
        repeated = Figure(
            f"{name}: commands repeating the previous wire value",
            f"{rep.repeats} of {len(rep.counted)}",
        )
        noticed = run.external.get(rep.device_id, 0)
        per_second, sec_at = rep.busiest(1.0)
        out.append(
            Figure(
                f"{name}: commands per session minute (average)",
                f"{rep.per_minute:.2f} ({len(rep.counted)} commands)",
                f"≤ {MAX_PER_MINUTE:g}",
                rep.per_minute <= MAX_PER_MINUTE,
            )
        )
        out.append(
            Figure(
                f"{name}: most commands in one session second",
                f"{per_second} {_at(sec_at)}",
                f"≤ {MAX_PER_SECOND}",
                per_second <= MAX_PER_SECOND,
            )
        )
        level = rep.largest_step("level")
        if level is not None:
            limit = NATIVE_STEP_PCT if rep.native else OTHER_STEP_PCT
            out.append(
                Figure(
                    f"{name}: largest brightness step per command",
                    _step_cell(level, " %", 2),
                    f"≤ {limit:g} %",
                    level[0] <= limit + 1e-9,
                )
            )
            over = rep.steps_over("level", limit)
            if over:
                out.append(
                    Figure(
                        f"{name}: commands with a brightness step over {limit:g} %",
                        f"{len(over)} of {len(rep.counted)}",
                    )
                )
        mired = rep.largest_step("mired")
        if mired is not None:
            out.append(
                Figure(
                    f"{name}: largest colour-temperature step",
                    _step_cell(mired, " mired"),
                    f"≤ {MIRED_VISIBLE:g} mired (one visible step; no target was set)",
                    mired[0] <= MIRED_VISIBLE + 1e-9,
                )
            )
        volume = rep.largest_volume_step()
        if volume is not None:
            out.append(
                Figure(
                    f"{name}: largest volume step between SetVolume requests",
                    f"{volume[0]} {_at(volume[1])}",
                    f"≤ {MAX_VOLUME_STEP}",
                    volume[0] <= MAX_VOLUME_STEP,
                )
            )
            steps = rep.volume_steps()
            big = [st for st in steps if st[0] > MAX_VOLUME_STEP]
            out.append(
                Figure(
                    f"{name}: SetVolume requests with a step over {MAX_VOLUME_STEP}",
                    f"{len(big)} of {len(steps)}",
                )
            )
            wire_second, wire_at = rep.busiest(1.0, wire=True)
            out.append(
                Figure(
                    f"{name}: most SOAP setter requests in one second (one play = several)",
                    f"{wire_second} {_at(wire_at)}",
                )
            )
        setpoint = rep.largest_step("setpoint_c")
        if setpoint is not None:
            out.append(
                Figure(f"{name}: largest setpoint step on the wire", _step_cell(setpoint, " °C"))
            )
        out.append(repeated)
        if noticed:
            out.append(
                Figure(f"{name}: read-backs taken as a change outside roomctl", str(noticed))
            )
    return out


def print_details(run: Run) -> None:
    rows: list[list[str]] = []
    for rep in run.reports:
        per_second, _ = rep.busiest(1.0)
        per_minute_max, minute_at = rep.busiest(60.0)
        wire_second, _ = rep.busiest(1.0, wire=True)
        rows.append(
            [
                rep.device_id,
                str(len(rep.counted)),
                f"{rep.per_minute:.2f}",
                f"{per_minute_max} {_at(minute_at)}",
                str(per_second),
                f"{rep.wire_per_minute:.2f} / {wire_second}",
                _step_cell(rep.largest_step("level"), "%", 2),
                _step_cell(rep.largest_step("mired"), ""),
                _step_cell(rep.largest_step("hue"), "°"),
                "–" if (v := rep.largest_volume_step()) is None else f"{v[0]} {_at(v[1])}",
                _step_cell(rep.largest_step("setpoint_c"), "°C"),
                str(rep.repeats),
                str(run.external.get(rep.device_id, 0)),
            ]
        )
    print_table(
        rows,
        [
            "device",
            "cmds",
            "/min",
            "busiest min",
            "max/s",
            "wire /min, max/s",
            "bright step",
            "mired step",
            "hue step",
            "vol step",
            "setpoint step",
            "repeats",
            "outside",
        ],
    )
    print(
        "repeats: commands repeating the previous wire value; outside: read-backs the engine "
        "took for a change made outside roomctl"
    )
    for rep in run.reports:
        limit = NATIVE_STEP_PCT if rep.native else OTHER_STEP_PCT
        over = rep.steps_over("level", limit)
        if over:
            shown = ", ".join(f"{clock_text(t)} {a:.2f}→{b:.2f}" for t, a, b in over[:12])
            more = f" (+{len(over) - 12} more)" if len(over) > 12 else ""
            print(f"{rep.device_id}: brightness steps over {limit:g} % (from→to %): {shown}{more}")
    failed = {r.device_id: r.failed_wire for r in run.reports if r.failed_wire}
    if failed:
        print(f"wire requests the emulators refused: {failed}")
    print(
        f"engine's own command count per device: {run.engine_commands}\n"
        f"{format_hmm(run.session_s)} of session in {run.real_s:.1f} s real "
        f"({run.clock_steps} clock steps, x{run.session_s / max(run.real_s, 1e-9):.0f})"
    )


def volume_trace(run: Run, around: float, span_s: float = 30.0) -> list[tuple[float, list[int]]]:
    """SetVolume values near session time `around` (to show where a large step came from)."""
    speakers = next(r for r in run.reports if r.device_id == "speakers")
    return [
        (c.t, c.volumes) for c in speakers.commands if abs(c.t - around) <= span_s and c.volumes
    ]


async def run(*, quick: bool = False) -> list[Figure]:
    session_s = 2.5 * 3600 if quick else None
    what = "first 2:30 of the" if quick else "whole"
    print(f"\n== fade budget: the {what} {ARC} arc through the engine, lock-step virtual clock ==")
    result = await play_arc(session_s)
    print_details(result)
    speakers = next(r for r in result.reports if r.device_id == "speakers")
    worst = speakers.largest_volume_step()
    if worst is not None and worst[0] > MAX_VOLUME_STEP:
        trace = ", ".join(f"{clock_text(t)} {v}" for t, v in volume_trace(result, worst[1]))
        print(f"SetVolume requests around the largest volume step: {trace}")
    figures = figures_for(result)
    figures.append(
        Figure(
            "fade: session played",
            f"{format_hmm(result.session_s)} in {result.real_s:.0f} s real",
        )
    )
    return figures

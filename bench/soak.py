"""Soak: does a long session leak, and does it keep its fade budget?

    .venv/bin/python -m bench.soak                 # 12 virtual hours, then 10 real minutes
    .venv/bin/python -m bench.soak --virtual-hours 2 --real-minutes 1 --no-record

(a) Virtual: the psilocybin arc stretched to 12 hours (extends, holds, cues, notes, manual
    volume changes and their clearing, an emergency and its clear) through SessionControl, the
    real Engine and drivers into the demo room's emulators on the fade-budget benchmark's
    lock-step virtual clock (`bench.fade_budget.arc_rig`).  Every 10 virtual minutes: this
    process's resident memory (/proc/self/status), its asyncio tasks and open file descriptors,
    and the fade budget of those 10 minutes from the emulators' logs (most commands to a device
    in one second, largest brightness step, largest volume step), after which the logs are
    emptied (they are the emulators' memory, not roomctl's).  The emulators share the process,
    so their memory is in the figure too.
(b) Real time: `roomctl run` (this working tree) on the 16-device bench room for 10 minutes
    with a held session, 20 tablets on `GET /api/stream` (httpx streams, bearer token) and a
    tap (cue talk / cue off through the API) every 15 s; the daemon's resident memory, threads
    and open files from /proc/PID every 30 s.

Growth is measured from the first sample after warm-up (1 virtual hour; 1 real minute).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from bench import Figure
from bench.fade_budget import (
    MAX_PER_SECOND,
    MAX_VOLUME_STEP,
    NATIVE_STEP_PCT,
    OTHER_STEP_PCT,
    T_START,
    VOLUME_ACTIONS,
    Rig,
    arc_rig,
    reports_for,
)
from bench.footprint import quick_fades
from bench.room import Daemon, ProcStats, Roomctl, bench_room, cli, current, proc_stats
from roomctl.model.events import EventKind
from roomctl.sim.demo import DemoRoom

__all__ = ["RealSoak", "VirtualSoak", "real_soak", "virtual_soak"]

SAMPLE_S = 600.0
RSS_GROWTH_MIB = 5.0
TABLETS = 20


@dataclass
class Sample:
    at_s: float  # session seconds (virtual) or real seconds since start
    rss_mib: float
    tasks: int  # -1: not known (another process)
    fds: int
    threads: int


@dataclass
class Growth:
    samples: list[Sample]
    warmup_s: float

    @property
    def settled(self) -> list[Sample]:
        after = [s for s in self.samples if s.at_s >= self.warmup_s]
        return after or self.samples[-1:]

    def rise(self, attr: str) -> float:
        """Last sample minus the first after warm-up."""
        values = [float(getattr(s, attr)) for s in self.settled]
        return values[-1] - values[0]

    def peak_rise(self, attr: str) -> float:
        values = [float(getattr(s, attr)) for s in self.settled]
        return max(values) - values[0]


@dataclass
class VirtualSoak:
    growth: Growth
    session_s: float
    real_s: float
    busiest_per_second: int = 0
    largest_level_step: dict[str, float] = field(default_factory=dict)
    largest_volume_step: int = 0
    emergency_chunks: int = 0


Action = Callable[[Rig], object]


def _say(kind: EventKind, **data: object) -> Action:
    return lambda rig: rig.session.command(kind, dict(data), by="soak")


def _emergency(on: bool) -> Action:
    return lambda rig: rig.session.emergency(on, by="soak")


def schedule(hours: float) -> list[tuple[float, str, Action]]:
    """(session seconds, what, action): the psilocybin arc (8:30 from the session's start) made
    `hours` long, with the commands of a long, eventful session.  Times past the end are left
    out, so a short soak keeps the first part."""
    h = 3600.0
    plan: list[tuple[float, str, Action]] = [
        (0.5 * h, "dose", _say(EventKind.DOSE)),
        (1.0 * h, "cue talk", _say(EventKind.CUE_ON, cue="talk")),
        (1.2 * h, "cue off", _say(EventKind.CUE_OFF)),
        (1.5 * h, "note", _say(EventKind.NOTE, text="settled, eyes closed")),
        (2.0 * h, "extend 60", _say(EventKind.EXTEND, minutes=60)),
        (
            2.5 * h,
            "music quieter",
            _say(EventKind.OVERRIDE, device="speakers", channel="volume", value=10),
        ),
        (2.8 * h, "music back", _say(EventKind.OVERRIDE_CLEAR)),
        (3.0 * h, "hold", _say(EventKind.HOLD)),
        (3.5 * h, "resume", _say(EventKind.RESUME)),
        (4.0 * h, "cue break", _say(EventKind.CUE_ON, cue="break")),
        (4.25 * h, "cue off", _say(EventKind.CUE_OFF)),
        (5.0 * h, "extend 60", _say(EventKind.EXTEND, minutes=60)),
        (6.0 * h, "cue check-in", _say(EventKind.CUE_ON, cue="check-in")),
        (6.1 * h, "cue off", _say(EventKind.CUE_OFF)),
        (7.5 * h, "emergency", _emergency(True)),
        (7.6 * h, "emergency clear", _emergency(False)),
        (8.0 * h, "extend 45", _say(EventKind.EXTEND, minutes=45)),
        (9.0 * h, "hold", _say(EventKind.HOLD)),
        (9.75 * h, "resume", _say(EventKind.RESUME)),
        (
            10.5 * h,
            "music louder",
            _say(EventKind.OVERRIDE, device="speakers", channel="volume", value=20),
        ),
        (11.0 * h, "music back", _say(EventKind.OVERRIDE_CLEAR)),
        (11.5 * h, "cue talk", _say(EventKind.CUE_ON, cue="talk")),
    ]
    plan += [
        (n * h + 0.25 * h, "note", _say(EventKind.NOTE, text=f"hour {n}"))
        for n in range(2, int(hours))
    ]
    return sorted((p for p in plan if p[0] < hours * h), key=lambda p: p[0])


def _self_sample(at_s: float) -> Sample:
    stats = proc_stats()
    return Sample(at_s, stats.rss_mib, len(asyncio.all_tasks()), stats.fds, stats.threads)


def _trim_logs(room: DemoRoom) -> None:
    """Empty the emulators' logs but their last record (the next chunk's reference)."""
    assert room.sonos is not None and room.ceiling is not None and room.radiator is not None
    logs: list[list[object]] = [room.kasa[k].commands for k in ("lamp", "reading", "strip")]  # type: ignore[misc]
    logs += [sp.log for sp in room.sonos.speakers]  # type: ignore[misc]
    logs += [room.ceiling.commands, room.radiator.commands]  # type: ignore[list-item]
    for log in logs:
        del log[:-1]
    for sp in room.sonos.speakers:  # the levels the volume requests left, kept in step with
        last = sp.log[-1] if sp.log else None  # the log (the report pairs them in order)
        kept = last is not None and last.action in VOLUME_ACTIONS and last.outcome == "ok"
        del sp.volume_sets[: len(sp.volume_sets) - (1 if kept else 0)]


async def virtual_soak(hours: float, *, quiet: bool = False) -> VirtualSoak:
    plan = schedule(hours)
    length = hours * 3600.0
    samples: list[Sample] = []
    real0 = time.perf_counter()
    result = VirtualSoak(Growth(samples, min(3600.0, length / 2)), length, 0.0)
    async with arc_rig() as rig:
        task = asyncio.create_task(rig.engine.run(), name="soak-engine")
        try:
            samples.append(_self_sample(0.0))
            t = 0.0
            while t < length:
                end = min(length, t + SAMPLE_S)
                emergency = False
                for at, what, act in [p for p in plan if t <= p[0] < end]:
                    await rig.clock.run_until(T_START + at)
                    act(rig)
                    emergency |= what == "emergency"
                await rig.clock.run_until(T_START + end)
                _budget(rig, end - t, result, skip_steps=emergency)
                _trim_logs(rig.room)
                t = end
                samples.append(_self_sample(t))
                if not quiet and int(t) % 3600 == 0:
                    s = samples[-1]
                    print(
                        f"  virtual {t / 3600:4.1f} h after {time.perf_counter() - real0:5.0f} s"
                        f": {s.rss_mib:.1f} MiB, {s.tasks} tasks, {s.fds} fds",
                        flush=True,
                    )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    result.real_s = time.perf_counter() - real0
    return result


def _budget(rig: Rig, chunk_s: float, out: VirtualSoak, *, skip_steps: bool) -> None:
    """The fade budget of the last chunk (the emergency's own jump is not a fade)."""
    for rep in reports_for(rig.room, chunk_s):
        busiest, _ = rep.busiest(1.0)
        out.busiest_per_second = max(out.busiest_per_second, busiest)
        if skip_steps:
            out.emergency_chunks += 1
            continue
        level = rep.largest_step("level")
        if level is not None:
            name = f"{rep.device_id} ({'native' if rep.native else 'stepped'})"
            out.largest_level_step[name] = max(out.largest_level_step.get(name, 0.0), level[0])
        volume = rep.largest_volume_step()
        if volume is not None:
            out.largest_volume_step = max(out.largest_volume_step, volume[0])


# ---------------------------------------------------------------------------- real time


@dataclass
class RealSoak:
    growth: Growth
    minutes: float
    taps: int
    events_seen: int  # SSE messages the 20 tablets received in all
    reconnects: int


async def _tablet(url: str, headers: dict[str, str], seen: list[int], stop: asyncio.Event) -> int:
    """One tablet on the SSE stream until `stop`; reconnects counted."""
    reconnects = 0
    async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(30, read=None)) as http:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                async with http.stream("GET", url) as stream:
                    async for line in stream.aiter_lines():
                        if line.startswith("data:"):
                            seen[0] += 1
                        if stop.is_set():
                            break
            if not stop.is_set():
                reconnects += 1
                await asyncio.sleep(1.0)
    return reconnects


async def real_soak(
    minutes: float, *, quiet: bool = False, roomctl: Roomctl | None = None
) -> RealSoak:
    """`roomctl` (default: this working tree in a scratch venv) run for `minutes`."""
    install = roomctl or current()
    samples: list[Sample] = []
    taps = 0
    async with bench_room() as room:
        quick_fades(room)
        code, out = await cli(
            install, room.config, "token", "create", "soak", "--role", "facilitator"
        )
        match = re.search(r"shown only now:\n(\S+)", out)
        assert code == 0 and match is not None, out
        headers = {"Authorization": f"Bearer {match.group(1)}"}
        daemon = Daemon(install, room.config)
        await daemon.start()
        stop = asyncio.Event()
        seen = [0]
        base = f"http://127.0.0.1:{room.web_port}/api"
        tablets: list[asyncio.Task[int]] = []
        try:
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
                (await http.post("/sessions", json={"arc": "psilocybin"})).raise_for_status()
                (await http.post("/session/hold", json={})).raise_for_status()
                tablets = [
                    asyncio.create_task(_tablet(f"{base}/stream", headers, seen, stop))
                    for _ in range(TABLETS)
                ]
                began = time.monotonic()
                next_sample = 0.0
                while (now := time.monotonic() - began) < minutes * 60:
                    if now >= next_sample:
                        samples.append(_proc_sample(now, daemon.stats()))
                        next_sample += 30.0
                        if not quiet:
                            s = samples[-1]
                            print(
                                f"  real {now / 60:4.1f} min: {s.rss_mib:.1f} MiB, "
                                f"{s.fds} fds, {s.threads} threads, {seen[0]} SSE messages",
                                flush=True,
                            )
                    body = {"cue": "talk"} if taps % 2 == 0 else {}
                    verb = "cue" if taps % 2 == 0 else "cue-off"
                    (await http.post(f"/session/{verb}", json=body)).raise_for_status()
                    taps += 1
                    room.forget()
                    await asyncio.sleep(15.0)
                samples.append(_proc_sample(time.monotonic() - began, daemon.stats()))
                (await http.post("/session/end", json={})).raise_for_status()
        finally:
            stop.set()
            await asyncio.sleep(0)
            for t in tablets:
                t.cancel()
            results = await asyncio.gather(*tablets, return_exceptions=True)
            await daemon.stop()
    reconnects = sum(r for r in results if isinstance(r, int))
    return RealSoak(Growth(samples, min(60.0, minutes * 30)), minutes, taps, seen[0], reconnects)


def _proc_sample(at_s: float, stats: ProcStats) -> Sample:
    return Sample(at_s, stats.rss_mib, -1, stats.fds, stats.threads)


# ----------------------------------------------------------------------------- figures


def virtual_figures(v: VirtualSoak) -> list[Figure]:
    g = v.growth
    first = g.settled[0]
    steps = ", ".join(f"{k} {x:.2f} %" for k, x in sorted(v.largest_level_step.items()))
    worst_native = max((x for k, x in v.largest_level_step.items() if "native" in k), default=0)
    worst_other = max((x for k, x in v.largest_level_step.items() if "stepped" in k), default=0)
    hours = f"{v.session_s / 3600:g} h"
    return [
        Figure(
            f"soak, virtual {hours}: session played",
            f"in {v.real_s:.0f} s real, "
            f"{len(g.samples)} samples every {SAMPLE_S / 60:g} virtual min",
        ),
        Figure(
            f"soak, virtual {hours}: resident memory growth after the first hour (peak)",
            f"{g.rise('rss_mib'):+.1f} MiB ({g.peak_rise('rss_mib'):+.1f}) from "
            f"{first.rss_mib:.1f} MiB",
            f"< {RSS_GROWTH_MIB:g} MB",
            g.peak_rise("rss_mib") < RSS_GROWTH_MIB * 1e6 / 2**20,
        ),
        Figure(
            f"soak, virtual {hours}: asyncio tasks / open fds, first after the first hour → "
            "last (most)",
            f"{first.tasks} → {g.settled[-1].tasks} ({max(s.tasks for s in g.settled)}) / "
            f"{first.fds} → {g.settled[-1].fds} ({max(s.fds for s in g.settled)})",
            "no growth",
            g.rise("tasks") <= 0 and g.rise("fds") <= 0,
        ),
        Figure(
            f"soak, virtual {hours}: most commands to one device in one second",
            str(v.busiest_per_second),
            f"≤ {MAX_PER_SECOND}",
            v.busiest_per_second <= MAX_PER_SECOND,
        ),
        Figure(
            f"soak, virtual {hours}: largest brightness step per command (the emergency's "
            "jump left out)",
            steps,
            f"≤ {NATIVE_STEP_PCT:g} % native, ≤ {OTHER_STEP_PCT:g} % stepped",
            worst_native <= NATIVE_STEP_PCT + 1e-9 and worst_other <= OTHER_STEP_PCT + 1e-9,
        ),
        Figure(
            f"soak, virtual {hours}: largest volume step between SetVolume requests",
            str(v.largest_volume_step),
            f"≤ {MAX_VOLUME_STEP}",
            v.largest_volume_step <= MAX_VOLUME_STEP,
        ),
    ]


def real_figures(r: RealSoak) -> list[Figure]:
    g = r.growth
    first, last = g.settled[0], g.settled[-1]
    what = f"soak, real {r.minutes:g} min, {TABLETS} tablets on SSE"
    return [
        Figure(
            f"{what}: taps / SSE messages received / reconnects",
            f"{r.taps} / {r.events_seen} / {r.reconnects}",
        ),
        Figure(
            f"{what}: daemon resident memory growth after the first minute (peak)",
            f"{g.rise('rss_mib'):+.1f} MiB ({g.peak_rise('rss_mib'):+.1f}) from "
            f"{first.rss_mib:.1f} MiB",
            f"< {RSS_GROWTH_MIB:g} MB",
            g.peak_rise("rss_mib") < RSS_GROWTH_MIB * 1e6 / 2**20,
        ),
        Figure(
            f"{what}: daemon open fds / threads, first after the first minute → last (most)",
            f"{first.fds} → {last.fds} ({max(s.fds for s in g.settled)}) / "
            f"{first.threads} → {last.threads} ({max(s.threads for s in g.settled)})",
            "no growth",
            g.rise("fds") <= 0 and g.rise("threads") <= 0,
        ),
    ]


async def _main(hours: float, minutes: float) -> list[Figure]:
    figures: list[Figure] = []
    if hours > 0:
        print(f"\n== soak: {hours:g} virtual hours through the engine (lock-step clock) ==")
        figures += virtual_figures(await virtual_soak(hours))
    if minutes > 0:
        print(f"\n== soak: roomctl run for {minutes:g} real minutes, {TABLETS} tablets on SSE ==")
        figures += real_figures(await real_soak(minutes))
    return figures


def main(argv: Sequence[str]) -> int:
    from bench.__main__ import record_run

    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--virtual-hours", type=float, default=12.0)
    parser.add_argument("--real-minutes", type=float, default=10.0)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args(argv)
    return record_run(
        lambda: _main(args.virtual_hours, args.real_minutes),
        ["-m", "bench.soak", *argv],
        record=not args.no_record,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

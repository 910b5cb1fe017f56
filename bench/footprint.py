"""Footprint and latency of `roomctl run` on the 16-device bench room (`bench/room.py`), this
branch side by side with a baseline measured in the same run (main before this branch,
installed into a scratch venv).

- start-up to serving: from spawning `roomctl run` to READY=1 on a real NOTIFY_SOCKET datagram
  socket (the daemon sends it once the store, MQTT, drivers, engine and the web app serve);
- resident memory after start with the web app loaded: VmRSS of the daemon 5 s after READY;
- idle CPU: user + system time of the daemon over 60 s with no session (30 s with --quick), as a
  share of one core;
- CLI command to first device command: `roomctl session cue talk` spawned beside the daemon (a
  held psilocybin session), timed from the spawn to the first setter any emulator receives;
  then `cue-off` and a quiet second (the bench config's talk scene and minimum fades are 1 s /
  0 s so that the room is quiet again quickly: they change how long a fade lasts, not when its
  first command leaves);
- kill -9 to devices driven again: the daemon is killed with SIGKILL, `cue talk` is given while
  no daemon runs (written to the store), and a new `roomctl run` is spawned: the time from the
  spawn until every device the cue changes (14 of 16: the strips keep the arc) has received a
  command.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import Sequence

import yaml

from bench import Figure, median
from bench.room import (
    BenchRoom,
    Daemon,
    Roomctl,
    baseline,
    bench_room,
    cli,
    current,
    fmt_list,
)
from roomctl.model.library import PACKAGE_SCENES

__all__ = ["run"]

RSS_TARGET_MIB = 80.0
IDLE_TARGET = 0.01
STARTUP_TARGET_S = 1.0
CLI_TARGET_S = 0.5
RESTART_TARGET_S = 3.0
SETTLE_S = 5.0


# The third-party libraries `roomctl run` needs for this room and its faces, imported with
# nothing of roomctl's: the floor any roomctl of these libraries stands on.
LIBRARIES = (
    "yaml, sqlite3, pydantic, kasa, soco, aiomqtt, fastapi, uvicorn, jinja2, itsdangerous, "
    "multipart, apscheduler.schedulers.asyncio"
)
FLOOR = f"""
import {LIBRARIES}
from pydantic import BaseModel
class One(BaseModel):
    x: int
One(x=1)
print(open("/proc/self/status").read().split("VmRSS:")[1].split()[0])
"""


async def library_floor_mib(roomctl: Roomctl) -> float:
    """Resident memory of a process that only imports the libraries (median of 3)."""
    values: list[float] = []
    for _ in range(3):
        proc = await asyncio.create_subprocess_exec(
            roomctl.python, "-c", FLOOR, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        values.append(int(out.decode().strip()) / 1024)
    return median(values)


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-99 * len(ordered) // 100) - 1)]


def quick_fades(room: BenchRoom, names: Sequence[str] = ("talk",)) -> None:
    """The bench's copy of the shipped scenes, `names` fading in 1 s, and no minimum fades."""
    scenes = room.folder / "scenes"
    if not scenes.exists():
        shutil.copytree(PACKAGE_SCENES, scenes)
    for name in names:
        scene = scenes / f"{name}.yaml"  # edited as text: PyYAML would read `on:` as True
        text = scene.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^fade_s: \d+$", "fade_s: 1", text)
        text = re.sub(r"(?m)^audio_fade_s: \d+$", "audio_fade_s: 1", text)
        scene.write_text(text, encoding="utf-8")
    cfg = yaml.safe_load(room.config.read_text(encoding="utf-8"))
    cfg["scenes_dir"] = str(scenes)
    cfg["safety"]["min_fade"] = {"light_s": 0, "audio_s": 0}
    room.config.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


async def _quiet(room: BenchRoom, quiet_s: float, timeout_s: float = 60.0) -> None:
    """Until no emulator has received a setter for `quiet_s`."""
    began = time.monotonic()
    seen, since = room.device_commands(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        await asyncio.sleep(0.05)
        now = room.device_commands()
        if now != seen:
            seen, since = now, time.monotonic()
        if time.monotonic() - began > timeout_s:
            raise RuntimeError("the room never went quiet")


async def _check(roomctl: Roomctl, room: BenchRoom, *args: str) -> str:
    code, out = await cli(roomctl, room.config, *args)
    if code != 0:
        raise RuntimeError(f"roomctl {' '.join(args)}: exit {code}: {out.strip()}")
    return out


class Measured:
    def __init__(self) -> None:
        self.startup: list[float] = []
        self.rss_mib: list[float] = []
        self.idle: list[float] = []
        self.cli: list[float] = []
        self.restart_first: list[float] = []
        self.restart_all: list[float] = []


async def start_measure(roomctl: Roomctl, room: BenchRoom, m: Measured, idle_s: float) -> None:
    daemon = Daemon(roomctl, room.config)
    try:
        m.startup.append(await daemon.start())
        await asyncio.sleep(SETTLE_S)
        m.rss_mib.append(daemon.stats().rss_mib)
        if idle_s:
            before = daemon.stats().cpu_s
            await asyncio.sleep(idle_s)
            m.idle.append((daemon.stats().cpu_s - before) / idle_s)
    finally:
        await daemon.stop()


TALK_DEVICES = 14  # the cue talk changes every device but the two strips


async def first_command(room: BenchRoom, mono: float, wall: float, timeout_s: float) -> float:
    """Seconds from (`mono`, `wall`) to the first setter an emulator receives after it."""
    async with asyncio.timeout(timeout_s):
        while (first := room.first_command_after(mono, wall)) is None:  # noqa: ASYNC110 - polls a log
            await asyncio.sleep(0.002)
    return first


async def session_measure(roomctl: Roomctl, room: BenchRoom, m: Measured, tries: int) -> None:
    daemon = Daemon(roomctl, room.config)
    await daemon.start()
    try:
        await _check(roomctl, room, "session", "start", "psilocybin")
        await _check(roomctl, room, "session", "hold")
        await _quiet(room, 2.0)
        for _ in range(tries):
            room.forget()
            mono, wall = time.monotonic(), time.time()
            await _check(roomctl, room, "session", "cue", "talk")
            m.cli.append(await first_command(room, mono, wall, 10))
            await _check(roomctl, room, "session", "cue-off")
            await _quiet(room, 1.0)
        for _ in range(max(2, tries // 10)):  # kill -9, a command while down, restart
            await daemon.kill()
            await _check(roomctl, room, "session", "cue", "talk")
            room.forget()
            daemon = Daemon(roomctl, room.config)
            mono, wall = time.monotonic(), time.time()
            start = asyncio.create_task(daemon.start())
            m.restart_first.append(await first_command(room, mono, wall, 30))
            async with asyncio.timeout(30):
                while len(room.commanded(mono, wall)) < TALK_DEVICES:  # noqa: ASYNC110
                    await asyncio.sleep(0.002)
            m.restart_all.append(time.monotonic() - mono)
            await start
            await _check(roomctl, room, "session", "cue-off")
            await _quiet(room, 1.0)
        await _check(roomctl, room, "session", "end")
    finally:
        await daemon.stop()


def _figures(label: str, m: Measured, idle_s: float) -> list[Figure]:
    out = [
        Figure(
            f"footprint ({label}): start-up, exec → READY=1, median of {len(m.startup)}",
            f"{median(m.startup):.2f} s ({fmt_list(m.startup, ' s', 2)})",
            f"≤ {STARTUP_TARGET_S:g} s",
            median(m.startup) <= STARTUP_TARGET_S,
        ),
        Figure(
            f"footprint ({label}): resident memory {SETTLE_S:g} s after READY, web app loaded",
            f"{median(m.rss_mib):.1f} MiB ({fmt_list(m.rss_mib)})",
            f"≤ {RSS_TARGET_MIB:g} MiB",
            median(m.rss_mib) <= RSS_TARGET_MIB,
        ),
    ]
    if m.idle:
        out.append(
            Figure(
                f"footprint ({label}): idle CPU over {idle_s:g} s, no session, 16 devices",
                f"{max(m.idle) * 100:.2f} % of a core "
                f"({fmt_list([v * 100 for v in m.idle], ' %', 2)})",
                f"≤ {IDLE_TARGET * 100:g} %",
                max(m.idle) <= IDLE_TARGET,
            )
        )
    if m.cli:
        out.append(
            Figure(
                f"latency ({label}): `roomctl session cue talk` → first device command, "
                f"p50 / p99 of {len(m.cli)}",
                f"{median(m.cli):.3f} s / {p99(m.cli):.3f} s",
                f"p99 ≤ {CLI_TARGET_S:g} s",
                p99(m.cli) <= CLI_TARGET_S,
            )
        )
    if m.restart_all:
        out.append(
            Figure(
                f"latency ({label}): kill -9, then restart → first device command / "
                f"changed devices commanded (of {len(m.restart_all)})",
                f"{fmt_list(m.restart_first, ' s', 2)} / {fmt_list(m.restart_all, ' s', 2)}",
                f"≤ {RESTART_TARGET_S:g} s",
                max(m.restart_all) <= RESTART_TARGET_S,
            )
        )
    return out


async def run(*, quick: bool = False, versions: Sequence[Roomctl] | None = None) -> list[Figure]:
    installs = list(versions) if versions is not None else [baseline(), current()]
    idle_s = 30.0 if quick else 60.0
    starts = 2 if quick else 3
    tries = 10 if quick else 30
    print(f"\n== footprint: `roomctl run` on 16 emulated devices: {[i.label for i in installs]} ==")
    results = {i.label: Measured() for i in installs}
    async with bench_room() as room:
        quick_fades(room)
        await _check(installs[-1], room, "check")
        for n in range(starts):
            for install in installs:
                await start_measure(install, room, results[install.label], idle_s if n == 0 else 0)
                got = results[install.label]
                print(f"  {install.label}: start {n + 1}: {got.startup[-1]:.2f} s, "
                      f"{got.rss_mib[-1]:.1f} MiB", flush=True)  # fmt: skip
        for install in installs:
            await session_measure(install, room, results[install.label], tries)
            print(f"  {install.label}: cli p99 {p99(results[install.label].cli):.3f} s", flush=True)
    figures: list[Figure] = []
    for install in installs:
        figures += _figures(install.label, results[install.label], idle_s)
    floor = await library_floor_mib(installs[-1])
    figures.append(
        Figure(
            "footprint: resident memory of a process that only imports the libraries "
            f"(no roomctl): {LIBRARIES}",
            f"{floor:.1f} MiB",
        )
    )
    return figures


if __name__ == "__main__":
    import sys

    from bench import print_table

    figs = asyncio.run(run(quick="--quick" in sys.argv[1:]))
    print_table([[f.measure, f.value, f.target or "–", f.verdict] for f in figs],
                ["measure", "value", "target", "met?"])  # fmt: skip

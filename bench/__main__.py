"""Run the benchmarks, print a table, and append a dated section to bench/RESULTS.md.

.venv/bin/python -m bench                  # all, recorded (about 15 minutes)
.venv/bin/python -m bench --quick          # fewer rounds, the first 2:30 of the arc
.venv/bin/python -m bench --only fade      # one benchmark (fanout | fade | timeline |
                                           #   emergency | web | footprint | vendor)
.venv/bin/python -m bench --no-record      # print only
.venv/bin/python -m bench --baseline REF   # compare with REF (default main's merge base)
.venv/bin/python -m bench.soak             # the soak: 12 virtual hours, 10 real minutes
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import shlex
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bench import (
    Figure,
    emergency,
    fade_budget,
    fanout,
    footprint,
    machine_line,
    print_table,
    timeline,
    vendor,
    web,
)

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

HEADER = """\
# Benchmark results

Appended by `/opt/venv/bin/python -m bench` (see `bench/__init__.py`); newest at the bottom.
Benchmarks, not tests: a figure that misses its target is recorded as it is (**NO**).

How the figures are made:

- **fan-out** (`bench/fanout.py`): 16 emulated devices (8 Kasa lights of five models, 4
  standalone Sonos speakers, 4 Zigbee2MQTT lights through a Mosquitto started by the bench),
  each answering every request 50 ms late (Kasa `faults.latency_s`, Sonos `latency_s`; the
  Zigbee2MQTT light emulator has no latency knob, so a bench subclass delays its state report,
  the acknowledgement the driver waits for, by 50 ms).  Real drivers from
  `roomctl.devices.factory.build_device`.  "Engine" is the time from `Engine.wake()` (after the
  desired state changed) until `Engine.health()[id].landed` is the new target for every device
  (polled every 1 ms), as a multiple of the slowest device's own median time for one command
  alone.  "gather" is `asyncio.gather` of `apply_state` for all 16 without the engine (what
  concurrency itself costs here); "naive" is `await apply_state(...)` in a loop.  Measured
  twice: emulators in a separate process, and on the bench's own event loop.  Engine read-back
  off; rounds 1 s apart (the engine's 2-commands-a-second limit never applies).
- **timeline** (`bench/timeline.py`): `Timeline.at()` on the psilocybin arc with 0, 50, 200
  and 1000 events in the log (cues, overrides, holds, notes): the first call folds the log, later
  calls copy that fold and advance it (the engine asks about many moments per round).
- **fade budget** (`bench/fade_budget.py`): the psilocybin arc (8:30 plus one minute) through
  SessionControl, the real Engine (daemon settings) and drivers into emulators of
  config.example.yaml's room (+ a Kasa dimmer).  Lock-step virtual clock: session time stands
  still while any device call is in flight and jumps to the next deadline when every engine
  worker sleeps, so commands take no session time and the run takes seconds; the emulators
  (fades, logs) run on the same clock.  Counted from the emulators' logs (Kasa `.commands`,
  Sonos `.log` without Get*/Browse, Zigbee2MQTT `/set` messages); wire requests at one instant
  form one command.  The session-start command is left out.  Times are session h:mm:ss (arc
  time = session time - 0:30).
- **emergency** (`bench/emergency.py`): `roomctl session emergency` spawned as a new process
  beside a running daemon (demo room, real drivers, emulators on the bench's loop), timed from
  the spawn until the emulated Kasa lamp reports 100 % (polled every 2 ms); ≥ 20 tries, cleared
  and settled between tries.
- **web** (`bench/web.py`): through real HTTP on the daemon's loop with a bearer token: 20
  tablets on the SSE stream, 200 taps alternating cue talk / cue off 0.7 s apart, timed to the
  first setter an emulated Kasa light receives (its own log) and to the state on all 20
  tablets; and `POST /api/session/emergency` to the emulated lamp at 100 % with every Kasa
  device answering 50 ms late.  Clients share the daemon's loop (their work is in the figures).
- **footprint** (`bench/footprint.py`, room in `bench/room.py`): `roomctl run` as its own
  process on the fan-out room's 16 emulated devices (the emulators and Mosquitto in the bench's
  process), each figure for this branch and for main where the branch left it, both installed
  (not editable) into scratch venvs: spawn → READY=1 on a real NOTIFY_SOCKET datagram socket;
  VmRSS 5 s after READY (web app, MQTT API and every driver loaded); CPU time over 60 s with no
  session; `roomctl session cue talk` spawned beside a held session → the first setter any
  emulator receives (30 tries; the bench's talk scene and minimum fades are 1 s / 0 s so the
  room is quiet again between tries); kill -9 of the daemon, `cue talk` given while it is down,
  a new `roomctl run` → the first device command and every device the cue changes commanded.
- **vendor** (`bench/vendor.py`): the shipped `calm` scene on the same 16-device room, from a
  bench scene that differs on every channel, (a) as a shell script of the vendors' tools one
  after another (`kasa` per setting, soco-cli's `sonos` per speaker, `mosquitto_pub` per
  Zigbee2MQTT light), (b) `roomctl apply calm --transition 0`, (c) `POST
  /api/scenes/calm/apply` with a bearer token in a held session until all 16 devices received a
  command; 0 and 50 ms of device latency.  (c) does not change the speakers' source (a session
  overrides only volume), so it is compared with the script without `play_fav`.
- **soak** (`bench/soak.py`, its own command `python -m bench.soak`): see its docstring.
"""


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _record(
    figures: Sequence[Figure], argv: Sequence[str], elapsed_s: float, load: tuple[str, str]
) -> None:
    now = dt.datetime.now(dt.UTC).astimezone()
    command = shlex.join([".venv/bin/python", *argv])
    lines = [
        "",
        f"## {now:%Y-%m-%d %H:%M %Z}",
        "",
        f"- Machine: {machine_line()}",
        f"- Command: `{command}` ({elapsed_s:.0f} s)",
        f"- Load average (1/5/15 min) before: {load[0]}, after: {load[1]} "
        "(other work on the machine shows here; the fan-out figures are sensitive to it)",
        "",
        "| measure | value | target | met? |",
        "|---|---|---|---|",
    ]
    lines += [f"| {f.measure} | {f.value} | {f.target or '–'} | {f.verdict} |" for f in figures]
    missed = [f.measure for f in figures if f.met is False]
    lines += ["", f"Missed: {len(missed)} of {sum(f.met is not None for f in figures)} targets."]
    text = "\n".join(lines) + "\n"
    if not RESULTS.exists():
        RESULTS.write_text(HEADER, encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(text)
    print(f"\nappended to {RESULTS}")


async def _run(quick: bool, only: str | None) -> list[Figure]:
    figures: list[Figure] = []
    if only in (None, "fanout"):
        figures += await fanout.run(quick=quick)
    if only in (None, "fade"):
        figures += await fade_budget.run(quick=quick)
    if only in (None, "timeline"):
        figures += timeline.run(quick=quick)
    if only in (None, "emergency"):
        figures += await emergency.run(quick=quick)
    if only in (None, "web"):
        figures += await web.run(quick=quick)
    if only in (None, "footprint"):
        figures += await footprint.run(quick=quick)
    if only in (None, "vendor"):
        figures += await vendor.run(quick=quick)
    return figures


def record_run(
    make: Callable[[], Awaitable[list[Figure]]], argv: Sequence[str], *, record: bool
) -> int:
    """Run `make()`, print its table and append it to RESULTS.md with the machine, the load
    and the command (`argv`, after the interpreter)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    load_before = _load()
    print(f"machine: {machine_line()}; load average {load_before}")
    started = time.perf_counter()

    async def go() -> list[Figure]:
        return await make()

    figures = asyncio.run(go())
    elapsed = time.perf_counter() - started
    print()
    print_table(
        [[f.measure, f.value, f.target or "–", f.verdict] for f in figures],
        ["measure", "value", "target", "met?"],
    )
    if record:
        _record(figures, argv, elapsed, (load_before, _load()))
    return 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, a shorter arc")
    parser.add_argument(
        "--only",
        choices=("fanout", "fade", "timeline", "emergency", "web", "footprint", "vendor"),
        help="run one benchmark",
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument(
        "--baseline", metavar="REF", help="the git ref to compare with (default: main)"
    )
    args = parser.parse_args(argv)
    if args.baseline:
        os.environ["ROOMCTL_BENCH_BASELINE"] = args.baseline
    return record_run(
        lambda: _run(args.quick, args.only), ["-m", "bench", *argv], record=not args.no_record
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

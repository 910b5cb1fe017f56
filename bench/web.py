"""The web app's two figures, through real HTTP on the daemon's loop (demo room, real engine
and drivers, emulators on the bench's loop, a Mosquitto for the MQTT devices):

- **tap → first device command**: 20 tablets hold the live stream (`/api/stream`, SSE) open;
  200 taps alternate `POST /api/session/cue {"cue": "talk"}` and `POST /api/session/cue-off`
  (bearer token).  Timed from just before the request is sent until the first new setter
  reaches any emulated Kasa light (the emulator's own log, no device latency), and until all 20
  tablets have received a state showing the change.  Taps 0.7 s apart (the engine never sends
  one device two commands within 0.5 s).
- **emergency tap → lamp**: `POST /api/session/emergency` until the emulated Kasa lamp reports
  100 %, every Kasa device answering 50 ms late; cleared (1 s fade back) between tries.

The 20 tablets run in their own process (`bench/tablets.py`), as tablets are separate machines
in the room; the tapping client and the emulators share the daemon's loop, so their work is in
the figures.  "loop stall" is the longest a 5 ms ticker on the daemon's loop was late during
the taps (what any tap waiting at that moment waited too).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import yaml

from bench import Figure, median
from roomctl.clock import SystemClock
from roomctl.control.daemon import Daemon
from roomctl.engine.reconciler import EngineSettings
from roomctl.model.address import HostPort
from roomctl.model.library import load_library
from roomctl.sim.demo import DemoRoom
from roomctl.web.server import WebService

__all__ = ["run"]

TABLETS = 20
TAP_TARGET_S = 0.020
EMERGENCY_TARGET_S = 1.0
KASA_LIGHTS = ("lamp", "reading", "strip")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def _until(condition: Callable[[], bool], timeout_s: float) -> float:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout_s:
            raise TimeoutError
        await asyncio.sleep(0.001)
    return time.monotonic() - began


@contextlib.asynccontextmanager
async def _site(latency_s: float) -> AsyncIterator[tuple[DemoRoom, Daemon, str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="roomctl-bench-web-"))
    async with DemoRoom.start(SystemClock(), folder) as room:
        for emu in room.kasa.values():
            emu.faults.latency_s = latency_s
        cfg = room.config()
        cfg["safety"] = {
            **cfg["safety"],
            "min_fade": {"light_s": 0, "audio_s": 0},
            "emergency": {"clear_fade_s": 1},
        }
        config = folder / "bench.yaml"
        config.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        daemon = Daemon(load_library(config), SystemClock(), settings=EngineSettings(readback_s=0))
        service = WebService(HostPort("127.0.0.1", 0))
        daemon.services.append(("web", service))
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(service.listening.wait(), 30)
        assert daemon.store is not None and daemon.session is not None
        _, token = daemon.store.create_token("bench", "facilitator")
        daemon.session.start("psilocybin", by="bench")
        try:
            yield room, daemon, f"http://127.0.0.1:{service.port}", token
        finally:
            stop.set()
            await task


class _Tablets:
    """The tablets' process and the newest state each has been shown, and when."""

    def __init__(self, count: int) -> None:
        self.cue: list[str | None] = ["?"] * count
        self.emergency = [False] * count
        self.at = [0.0] * count

    async def follow(self, url: str, token: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.tablets", url, token, str(len(self.cue)),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            async for line in proc.stdout:
                n, at, cue, emergency = line.decode().split()
                i = int(n)
                self.cue[i] = None if cue == "-" else cue
                self.emergency[i], self.at[i] = emergency == "1", float(at)
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()

    def all_show(self, cue: str | None) -> bool:
        return all(c == cue for c in self.cue)


class _Stalls:
    """How late a 5 ms ticker on this loop runs: the loop's longest stall."""

    def __init__(self) -> None:
        self.worst = 0.0

    async def tick(self) -> None:
        while True:
            began = time.monotonic()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.monotonic() - began - 0.005)


def _setters(room: DemoRoom) -> int:
    return sum(len(room.kasa[d].commands) for d in KASA_LIGHTS)


def _more_setters(room: DemoRoom, before: int) -> bool:
    return _setters(room) > before


def _first_after(room: DemoRoom, count: int) -> float:
    records = [c for d in KASA_LIGHTS for c in room.kasa[d].commands]
    records.sort(key=lambda c: c.t)
    return records[count].t if len(records) > count else math.inf


async def tap_figures(quick: bool) -> list[Figure]:
    taps = 60 if quick else 200
    command_s: list[float] = []
    sse_s: list[float] = []
    stalls = _Stalls()
    async with _site(0.0) as (room, _daemon, url, token):
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as http:
            tablets = _Tablets(TABLETS)
            reader = asyncio.create_task(tablets.follow(url, token))
            await _until(lambda: all(c != "?" for c in tablets.cue), 30)
            await asyncio.sleep(3)  # the first scene under way
            ticker = asyncio.create_task(stalls.tick())
            for i in range(taps):
                await asyncio.sleep(0.7)
                want = "talk" if i % 2 == 0 else None
                before = _setters(room)
                began = time.monotonic()
                if want:
                    r = await http.post("/api/session/cue", json={"cue": "talk"})
                else:
                    r = await http.post("/api/session/cue-off")
                r.raise_for_status()
                await _until(functools.partial(tablets.all_show, want), 10)
                sse_s.append(max(tablets.at) - began)
                with contextlib.suppress(TimeoutError):
                    await _until(functools.partial(_more_setters, room, before), 2)
                    command_s.append(_first_after(room, before) - began)
            ticker.cancel()
            direct_s = await _direct_taps(room, _daemon, taps // 4)
            reader.cancel()
            await asyncio.gather(reader, ticker, return_exceptions=True)
    p50, p99 = median(command_s), _pct(command_s, 0.99)
    s50, s99 = median(sse_s), _pct(sse_s, 0.99)
    print(
        f"tap → first Kasa command: {len(command_s)} of {taps} taps, p50 {p50 * 1e3:.1f} ms, "
        f"p99 {p99 * 1e3:.1f} ms; tap → SSE on all {TABLETS}: p50 {s50 * 1e3:.1f} ms, "
        f"p99 {s99 * 1e3:.1f} ms; longest loop stall {stalls.worst * 1e3:.1f} ms"
    )
    n = f"{len(command_s)} of {taps} taps, {TABLETS} tablets on SSE"
    d50, d99 = median(direct_s), _pct(direct_s, 0.99)
    print(f"SessionControl.command in process → first command: p50 {d50 * 1e3:.1f} ms, "
          f"p99 {d99 * 1e3:.1f} ms")  # fmt: skip
    return [
        Figure(f"web: tap → first device command, p50 ({n})", f"{p50 * 1e3:.1f} ms"),
        Figure(
            f"web: tap → first device command, p99 ({n})",
            f"{p99 * 1e3:.1f} ms",
            f"≤ {TAP_TARGET_S * 1e3:g} ms",
            p99 <= TAP_TARGET_S,
        ),
        Figure(f"web: tap → SSE update on all {TABLETS} tablets, p50", f"{s50 * 1e3:.1f} ms"),
        Figure(f"web: tap → SSE update on all {TABLETS} tablets, p99", f"{s99 * 1e3:.1f} ms"),
        Figure("web: longest loop stall during the taps", f"{stalls.worst * 1e3:.1f} ms"),
        Figure(
            f"for comparison, no HTTP: SessionControl.command → first device command, p50 "
            f"/ p99 ({len(direct_s)} taps, same session, tablets on SSE)",
            f"{d50 * 1e3:.1f} ms / {d99 * 1e3:.1f} ms",
        ),
    ]


async def _direct_taps(room: DemoRoom, daemon: Daemon, taps: int) -> list[float]:
    """The same taps given in the daemon's process without HTTP (what the web adds)."""
    from roomctl.model.events import CueOff, CueOn

    control = daemon.session
    assert control is not None
    out: list[float] = []
    for i in range(taps):
        await asyncio.sleep(0.7)
        before = _setters(room)
        began = time.monotonic()
        control.command(CueOn(cue="talk") if i % 2 == 0 else CueOff(), by="bench")
        with contextlib.suppress(TimeoutError):
            await _until(functools.partial(_more_setters, room, before), 2)
            out.append(_first_after(room, before) - began)
    return out


async def emergency_figures(quick: bool) -> list[Figure]:
    tries = 10 if quick else 30
    took: list[float] = []
    async with _site(0.05) as (room, _daemon, url, token):
        lamp = room.kasa["lamp"]
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as http:
            await _until(lambda: lamp.state["on"] and lamp.state["brightness"] < 90, 30)
            for _ in range(tries):
                await asyncio.sleep(0.3)
                began = time.monotonic()
                (await http.post("/api/session/emergency")).raise_for_status()
                await _until(lambda: lamp.state["brightness"] == 100, 10)
                took.append(time.monotonic() - began)
                (await http.post("/api/session/clear-emergency")).raise_for_status()
                await _until(lambda: lamp.state["brightness"] < 97, 20)
    p50, worst = median(took), max(took)
    print(f"emergency tap → lamp at 100 % (50 ms devices): p50 {p50:.3f} s, max {worst:.3f} s")
    return [
        Figure(
            f"web: emergency tap → lamp at 100 %, 50 ms devices, p50 ({tries} tries)",
            f"{p50:.3f} s",
        ),
        Figure(
            f"web: emergency tap → lamp at 100 %, 50 ms devices, max ({tries} tries)",
            f"{worst:.3f} s",
            f"≤ {EMERGENCY_TARGET_S:g} s",
            worst <= EMERGENCY_TARGET_S,
        ),
    ]


async def run(quick: bool = False) -> list[Figure]:
    return [*await tap_figures(quick), *await emergency_figures(quick)]

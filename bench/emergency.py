"""Emergency latency from the command line: `roomctl session emergency` run as a new process
beside a running daemon, timed from the moment the process is spawned until the emulated Kasa
lamp reports the emergency level (100 %, polled every 2 ms).  The daemon (real engine, real
drivers) and the demo room's emulators share the bench's event loop; a Mosquitto serves the
MQTT devices.  Between tries the emergency is cleared (a 1 s fade back: the bench room's minimum
light fade is 0) and the next try starts once the lamp is on its way down."""

from __future__ import annotations

import asyncio
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from bench import Figure, median
from roomctl.clock import SystemClock
from roomctl.control.daemon import Daemon
from roomctl.engine.reconciler import EngineSettings
from roomctl.model.library import load_library
from roomctl.sim.demo import DemoRoom

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def _cli(config: Path, *argv: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roomctl", "session", *argv, "--config", str(config),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    return await proc.wait()


async def _until(condition: Callable[[], bool], timeout_s: float) -> float:
    began = time.perf_counter()
    while not condition():
        if time.perf_counter() - began > timeout_s:
            raise TimeoutError
        await asyncio.sleep(0.002)
    return time.perf_counter() - began


async def run(quick: bool = False) -> list[Figure]:
    tries = 20 if quick else 30
    folder = Path(tempfile.mkdtemp(prefix="roomctl-bench-emergency-"))
    async with DemoRoom.start(SystemClock(), folder) as room:
        cfg = room.config()
        cfg["safety"] = {
            **cfg["safety"],
            "min_fade": {"light_s": 0, "audio_s": 0},
            "emergency": {"clear_fade_s": 1},
        }
        config = folder / "bench.yaml"
        config.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        daemon = Daemon(load_library(config), SystemClock(), settings=EngineSettings(readback_s=0))
        stop = asyncio.Event()
        task = asyncio.create_task(daemon.run(stop))
        await asyncio.wait_for(daemon.ready.wait(), 15)
        assert daemon.session is not None
        daemon.session.start("psilocybin", by="bench")
        lamp = room.kasa["lamp"]
        await _until(lambda: lamp.state["on"] and lamp.state["brightness"] < 90, 20)
        took: list[float] = []
        for _ in range(tries):
            await asyncio.sleep(0.3)
            began = time.perf_counter()
            spawn = asyncio.create_task(_cli(config, "emergency"))
            await _until(lambda: lamp.state["brightness"] == 100, 10)
            took.append(time.perf_counter() - began)
            await spawn
            await _cli(config, "clear-emergency")
            await _until(lambda: lamp.state["brightness"] < 97, 20)  # on its way back
        stop.set()
        await task
    # for comparison: a full start of the command line (everything imported), `--version`
    started = time.perf_counter()
    for _ in range(5):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "roomctl", "--version", stdout=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        await proc.wait()
    full_start = (time.perf_counter() - started) / 5
    p50, p99, worst = median(took), _pct(took, 0.99), max(took)
    print(
        f"emergency CLI → lamp at 100 %: {tries} tries, p50 {p50:.3f} s, p99 {p99:.3f} s, "
        f"max {worst:.3f} s (full CLI start {full_start:.3f} s)"
    )
    return [
        Figure(f"emergency latency CLI → lamp, p50 ({tries} tries)", f"{p50:.3f} s"),
        Figure(f"emergency latency CLI → lamp, p99 ({tries} tries)", f"{p99:.3f} s"),
        Figure(
            f"emergency latency CLI → lamp, max ({tries} tries)",
            f"{worst:.3f} s",
            f"≤ {TARGET_S:g} s",
            worst <= TARGET_S,
        ),
        Figure("`roomctl --version` process (full import, for comparison)", f"{full_start:.3f} s"),
    ]

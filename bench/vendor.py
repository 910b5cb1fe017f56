"""The same scene change three ways on the 16-device bench room (`bench/room.py`), in one run,
with 0 and 50 ms of device latency:

(a) the vendors' own command-line tools called one after another from a shell script, as a
    technically minded clinic would do it without roomctl: `kasa` (python-kasa's CLI, one call
    per setting: `light brightness`, `light temperature`, `light hsv`), `sonos` (soco-cli, one
    call per speaker with its two actions chained by `:`, the speakers on Sonos' port 1400) and
    `mosquitto_pub` (Debian's mosquitto-clients) for the Zigbee2MQTT lights; timed from the
    script's start to its end (each tool returns once its device answered);
(b) `roomctl apply calm --transition 0` (no session: straight to the devices, waiting for every
    device), timed as a process;
(c) the daemon's API: `POST /api/scenes/calm/apply` with a bearer token during a held session,
    timed from the request until every one of the 16 devices has received its first command
    (the session turns the scene into manual overrides that fade; the source of a playing
    speaker is not something a session overrides, so (c) sets the volume only: the vendor
    script without its `play_fav` is timed too, as the like-for-like baseline for (c)).

The scene is the shipped `calm` (lamp zone 20 % at 2700 K, ceiling off, strips hue 30 / 70 %
at 10 %, speakers "Calm Waters" at 18).  Before every timed try the room is put in
`bench-reset` (untimed): a bench scene with every channel calm sets somewhere else and the
volume at 24, above calm's, so that calm lowers it.  A rise is paced by the safety's
`max_volume_rise_per_10s` (one step every 1.7 s), which the vendor tools know nothing of;
through the API the speakers' first step would wait for it.  The tools run from this
interpreter's venv (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench import Figure, median
from bench.footprint import quick_fades
from bench.room import BenchRoom, Daemon, Roomctl, bench_room, cli, current, set_latency
from roomctl.model.config import KasaDeviceConfig, SonosDeviceConfig, Z2MLightConfig

__all__ = ["run"]

SCENE, RESET, RESET_VOLUME = "calm", "bench-reset", 24
RESET_YAML = """\
name: bench-reset
title: Bench reset (every channel calm changes is elsewhere; the volume above calm's)
fade_s: 1
audio_fade_s: 1
lights:
  lamp: {on: true, brightness_pct: 45, color_temp_k: 4000}
  ceiling: {on: true, brightness_pct: 30, color_temp_k: 2700}
  accent: {hue: 200, saturation: 40, brightness_pct: 25}
music:
  speakers: {favorite: "Settling In", volume: 24}
"""
TARGET = 5.0
BIN = Path(sys.executable).parent
KASA_TYPE = {
    "color_bulb": "bulb",
    "white_bulb": "bulb",
    "dimmable_bulb": "bulb",
    "dimmer": "dimmer",
    "strip": "lightstrip",
}


def vendor_script(room: BenchRoom, *, music: bool = True) -> str:
    """The calm scene as a clinic's shell script of vendor tool calls, one after another."""
    lines = ["#!/bin/sh", "set -e"]
    kasa, sonos = shlex.quote(str(BIN / "kasa")), shlex.quote(str(BIN / "sonos"))
    pub = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
    for cfg in room.emulators.configs:
        if isinstance(cfg, KasaDeviceConfig):
            where = f"--host {cfg.host.host} --port {cfg.host.port}"
            base = f"{kasa} {where} --type {KASA_TYPE[str(cfg.model)]} light"
            if cfg.model == "strip":
                lines.append(f"{base} hsv 30 70 10")
                continue
            lines.append(f"{base} brightness 20 --transition 0")
            if cfg.model in ("color_bulb", "white_bulb"):
                lines.append(f"{base} temperature 2700")
        elif isinstance(cfg, SonosDeviceConfig):
            host = cfg.host.host
            if music:
                lines.append(f"{sonos} {host} play_fav 'Calm Waters' : {host} volume 18")
            else:
                lines.append(f"{sonos} {host} volume 18")
        elif isinstance(cfg, Z2MLightConfig):
            lines.append(
                f"{pub} -h {room.broker.host} -p {room.broker.port} -t {cfg.topic}/set "
                """-m '{"state": "OFF"}'"""
            )
    return "\n".join(lines) + "\n"


def _shows_calm(room: BenchRoom, *, music: bool = True) -> list[str]:
    """What the emulators show that is not the calm scene (empty: the scene arrived)."""
    wrong: list[str] = []
    for k in room.emulators.kasa:
        s = k.state
        want = 10 if k.model == "strip" else 20
        if not s["on"] or s["brightness"] != want:
            wrong.append(f"{k.host}: {s['on']} {s['brightness']} %")
    for sp in room.emulators.sonos:
        if sp.volume != 18 or (music and not sp.current_title.startswith("Calm Waters")):
            wrong.append(f"{sp.speaker.host}: {sp.volume} {sp.current_title!r}")
    return wrong


async def _timed(argv: Sequence[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    _, err = await proc.communicate()
    took = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]}: exit {proc.returncode}: {err.decode()[-500:]}")
    return took


async def _reset(roomctl: Roomctl, room: BenchRoom) -> None:
    code, out = await cli(roomctl, room.config, "apply", RESET, "--transition", "0")
    if code != 0:
        raise RuntimeError(f"roomctl apply {RESET}: {out}")
    await asyncio.sleep(0.3)


async def _through_api(roomctl: Roomctl, room: BenchRoom, tries: int) -> list[float]:
    code, out = await cli(roomctl, room.config, "token", "create", f"bench-{time.time_ns()}",
                          "--role", "facilitator")  # fmt: skip
    match = re.search(r"shown only now:\n(\S+)", out)
    if code != 0 or match is None:
        raise RuntimeError(f"roomctl token create: {out}")
    headers = {"Authorization": f"Bearer {match.group(1)}"}
    daemon = Daemon(roomctl, room.config)
    await daemon.start()
    took: list[float] = []
    base = f"http://127.0.0.1:{room.web_port}/api"
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            (await http.post("/sessions", json={"arc": "psilocybin"})).raise_for_status()
            (await http.post("/session/hold", json={})).raise_for_status()
            for _ in range(tries):
                (await http.post(f"/scenes/{RESET}/apply")).raise_for_status()
                await asyncio.sleep(2.0)  # the lights' 1 s fades are over
                async with asyncio.timeout(60):  # and the paced rise to 24
                    while any(sp.volume != RESET_VOLUME for sp in room.emulators.sonos):  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)
                mono, wall = time.monotonic(), time.time()
                (await http.post(f"/scenes/{SCENE}/apply")).raise_for_status()
                async with asyncio.timeout(30):
                    while len(room.commanded(mono, wall)) < len(room.emulators.configs):  # noqa: ASYNC110
                        await asyncio.sleep(0.002)
                took.append(time.monotonic() - mono)
                firsts = room.commanded(mono, wall)
                print("    API: first command per device (ms): " + ", ".join(
                    f"{k} {v * 1000:.0f}" for k, v in sorted(firsts.items(), key=lambda i: i[1])
                ), flush=True)  # fmt: skip
            for _ in range(120):  # the session's fades (its own pace for a drop) have ended
                if not (wrong := _shows_calm(room, music=False)):
                    break
                await asyncio.sleep(1.0)
            else:
                raise RuntimeError(f"the API left the room not calm: {wrong}")
            (await http.post("/session/end", json={})).raise_for_status()
    finally:
        await daemon.stop()
    return took


async def measure(room: BenchRoom, roomctl: Roomctl, latency_s: float, tries: int) -> list[Figure]:
    set_latency(room, latency_s)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = room.folder / "vendor-calm.sh"
    script.write_text(vendor_script(room), encoding="utf-8")
    no_music = room.folder / "vendor-calm-no-music.sh"
    no_music.write_text(vendor_script(room, music=False), encoding="utf-8")
    vendor: list[float] = []
    vendor_lights: list[float] = []
    apply: list[float] = []
    for _ in range(tries):
        await _reset(roomctl, room)
        vendor.append(await _timed(["/bin/sh", str(script)], env))
        wrong = _shows_calm(room)
        if wrong:
            raise RuntimeError(f"the vendor script left the room not calm: {wrong}")
        await _reset(roomctl, room)
        vendor_lights.append(await _timed(["/bin/sh", str(no_music)], env))
        await _reset(roomctl, room)
        argv = roomctl.argv("apply", SCENE, "--transition", "0", "--config", str(room.config))
        apply.append(await _timed(argv, env))
        wrong = _shows_calm(room)
        if wrong:
            raise RuntimeError(f"roomctl apply left the room not calm: {wrong}")
    api = await _through_api(roomctl, room, tries * 2)
    lat = f"{latency_s * 1000:.0f} ms devices"
    v, vl, a, p = median(vendor), median(vendor_lights), median(apply), median(api)
    calls = sum(1 for line in vendor_script(room).splitlines()[2:])
    print(f"  {lat}: vendor {v:.2f} s ({calls} calls), vendor without play_fav {vl:.2f} s, "
          f"roomctl apply {a:.2f} s, API {p * 1000:.0f} ms", flush=True)  # fmt: skip
    return [
        Figure(
            f"vendor ({lat}): the vendors' CLIs, {calls} calls one after another, median of "
            f"{tries}",
            f"{v:.2f} s ({', '.join(f'{x:.2f}' for x in vendor)})",
        ),
        Figure(
            f"vendor ({lat}): `roomctl apply {SCENE}` ({roomctl.label}), median of {tries}",
            f"{a:.2f} s ({', '.join(f'{x:.2f}' for x in apply)}) = x{v / a:.1f} faster",
            f"≥ x{TARGET:g}",
            v / a >= TARGET,
        ),
        Figure(
            f"vendor ({lat}): the vendor script without play_fav (lights and volume, as the API "
            "sets them), median",
            f"{vl:.2f} s",
        ),
        Figure(
            f"vendor ({lat}): `POST /api/scenes/{SCENE}/apply` → all 16 devices commanded, "
            f"median of {len(api)}",
            f"{p * 1000:.0f} ms (max {max(api) * 1000:.0f} ms) = x{vl / p:.0f} faster than the "
            "script without play_fav",
            f"≥ x{TARGET:g}",
            vl / p >= TARGET,
        ),
    ]


async def run(*, quick: bool = False, roomctl: Roomctl | None = None) -> list[Figure]:
    tries = 2 if quick else 3
    install = roomctl or current()
    print(f"\n== vendor comparison: the {SCENE} scene on 16 emulated devices, {tries} tries ==")
    figures: list[Figure] = []
    async with bench_room() as room:
        quick_fades(room, ("talk", SCENE))
        (room.folder / "scenes" / f"{RESET}.yaml").write_text(RESET_YAML, encoding="utf-8")
        for latency_s in (0.0, 0.05):
            figures += await measure(room, install, latency_s, tries)
    return figures


if __name__ == "__main__":
    from bench import print_table

    figs = asyncio.run(run(quick="--quick" in sys.argv[1:]))
    print_table([[f.measure, f.value, f.target or "–", f.verdict] for f in figs],
                ["measure", "value", "target", "met?"])  # fmt: skip

"""The 16-device bench room and `roomctl` as its own process, for the footprint, soak and
vendor benchmarks.

The room is the fan-out benchmark's (8 Kasa lights of five models, 4 Sonos speakers, 4
Zigbee2MQTT lights behind a Mosquitto started here), the emulators on this process's event
loop, the Sonos speakers on their own port 1400 (each on its own 127.0.14.x) so that soco-cli
finds them.  Zones follow the shipped scenes: colour and white bulbs, the dimmable bulb and the
dimmer are `lamp`, the strips `accent`, the Zigbee2MQTT lights `ceiling`, the speakers
`speakers`.

`Roomctl` is one installation of roomctl to measure: this working tree (`current()`) or
`main` as it was before this branch (`baseline()`), each installed as a wheel would be (not
editable) into a scratch venv under the temporary directory.  `Daemon` runs `roomctl run` in
a child process with a real NOTIFY_SOCKET datagram socket (as systemd's Type=notify sees it)
and reads the child's resident memory, CPU time, threads and open files from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.fanout import Emulators, start_emulators
from roomctl.model.library import PACKAGE_SCENES
from roomctl.sim.broker import Broker

__all__ = [
    "BenchRoom",
    "Daemon",
    "ProcStats",
    "Roomctl",
    "baseline",
    "bench_room",
    "current",
    "free_port",
    "proc_stats",
]

ROOT = Path(__file__).resolve().parent.parent
SONOS_PORT = 1400
SONOS_NET = "127.0.14"  # not the fan-out bench's 127.0.0.x: both may run at once
ZONES = {
    "color_bulb": "lamp",
    "white_bulb": "lamp",
    "dimmable_bulb": "lamp",
    "dimmer": "lamp",
    "strip": "accent",
}


@dataclass(frozen=True)
class Roomctl:
    """One installation of roomctl: the interpreter that imports it, and what to call it."""

    label: str
    python: str

    def argv(self, *args: str) -> list[str]:
        return [self.python, "-m", "roomctl", *args]


def _venv(name: str, src: Path) -> str:
    """A scratch venv `name` (made once, with roomctl's dependencies) with `src` installed in
    it as a wheel would be, not editable (an editable install adds its own import hook)."""
    venv = Path(tempfile.gettempdir()) / f"roomctl-bench-venv-{name}"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making a scratch venv for {name} in {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(src)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(src)],
        check=True,
        capture_output=True,
    )
    return str(python)


def current() -> Roomctl:
    """This working tree, installed into a scratch venv."""
    return Roomctl("this branch", _venv("branch", ROOT))


def baseline(ref: str | None = None) -> Roomctl:
    """`ref` where this branch left it (the merge base: before this branch's changes),
    installed into a scratch venv.  `ref` defaults to $ROOMCTL_BENCH_BASELINE or main (set it
    to the commit a session started from when working on main itself)."""
    ref = ref or os.environ.get("ROOMCTL_BENCH_BASELINE", "main")
    commit = subprocess.run(
        ["git", "merge-base", "HEAD", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    src = Path(tempfile.gettempdir()) / f"roomctl-bench-src-{commit[:12]}"
    if not (src / "pyproject.toml").exists():
        src.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True,
                                 check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return Roomctl(f"{ref} ({commit[:7]})", _venv(f"base-{commit[:12]}", src))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class BenchRoom:
    folder: Path
    config: Path
    emulators: Emulators
    broker: Broker
    web_port: int

    def device_commands(self) -> int:
        """Setter requests every emulator has received so far."""
        emu = self.emulators
        return (
            sum(len(k.commands) for k in emu.kasa)
            + sum(sum(not r.action.startswith(("Get", "Browse")) for r in s.log) for s in emu.sonos)
            + sum(sum(c.topic.endswith("/set") for c in z.commands) for z in emu.z2m)
        )

    def first_command_after(self, mono: float, wall: float) -> float | None:
        """Seconds from (`mono`, `wall`: the same instant on both clocks; Kasa and Sonos log
        monotonic time, Zigbee2MQTT wall time) to the first setter any emulator received after
        it; None if none did."""
        firsts: list[float] = []
        for k in self.emulators.kasa:
            firsts += [r.t - mono for r in k.commands if r.t >= mono]
        for s in self.emulators.sonos:
            firsts += [
                r.at_s - mono
                for r in s.log
                if r.at_s >= mono and not r.action.startswith(("Get", "Browse"))
            ]
        for z in self.emulators.z2m:
            firsts += [c.at - wall for c in z.commands if c.at >= wall and c.topic.endswith("/set")]
        return min(firsts, default=None)

    def commanded(self, mono: float, wall: float) -> dict[str, float]:
        """The devices (by config id) that have received a setter since (`mono`, `wall`), with
        the seconds from then to their first."""
        emu, out = self.emulators, dict[str, float]()
        ids = iter(cfg.id for cfg in emu.configs)  # kasa, then sonos, then z2m, as started
        for k, dev_id in zip(emu.kasa, ids, strict=False):
            kasa = [r.t - mono for r in k.commands if r.t >= mono]
            if kasa:
                out[dev_id] = min(kasa)
        for s, dev_id in zip(emu.sonos, ids, strict=False):
            sonos = [
                r.at_s - mono
                for r in s.log
                if r.at_s >= mono and not r.action.startswith(("Get", "Browse"))
            ]
            if sonos:
                out[dev_id] = min(sonos)
        for z, dev_id in zip(emu.z2m, ids, strict=False):
            z2m = [c.at - wall for c in z.commands if c.at >= wall and c.topic.endswith("/set")]
            if z2m:
                out[dev_id] = min(z2m)
        return out

    def forget(self) -> None:
        """Empty the emulators' logs (a long run would otherwise grow them)."""
        for k in self.emulators.kasa:
            k.commands.clear()
        for s in self.emulators.sonos:
            s.log.clear()
        for z in self.emulators.z2m:
            z.commands.clear()


def room_config(emu: Emulators, broker: Broker, folder: Path, web_port: int) -> dict[str, Any]:
    devices: list[dict[str, Any]] = []
    for cfg in emu.configs:
        entry = cfg.model_dump(mode="json", exclude_defaults=True)
        entry["id"], entry["driver"] = cfg.id, cfg.driver
        model = entry.get("model")
        entry["zone"] = (
            ZONES.get(str(model), "lamp")
            if cfg.driver == "kasa"
            else {"sonos": "speakers", "z2m_light": "ceiling"}[cfg.driver]
        )
        devices.append(entry)
    return {
        "room": {"id": "bench16", "name": "Bench room of 16 devices"},
        "devices": devices,
        "safety": {"floor_lights": [devices[0]["id"]]},
        "storage": {"path": str(folder / "roomctl.db")},
        "mqtt": {"host": broker.host, "port": broker.port},
        "web": {"host": "127.0.0.1", "port": web_port},
        "scenes_dir": str(PACKAGE_SCENES),
    }


@contextlib.asynccontextmanager
async def bench_room(latency_s: float = 0.0) -> AsyncIterator[BenchRoom]:
    folder = Path(tempfile.mkdtemp(prefix="roomctl-bench16-"))
    async with (
        Broker.start() as broker,
        start_emulators(
            broker.host, broker.port, latency_s, sonos_port=SONOS_PORT, sonos_net=SONOS_NET
        ) as emu,
    ):
        web_port = free_port()
        config = folder / "config.yaml"
        cfg = room_config(emu, broker, folder, web_port)
        config.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        yield BenchRoom(folder, config, emu, broker, web_port)


def set_latency(room: BenchRoom, latency_s: float) -> None:
    for k in room.emulators.kasa:
        k.faults.latency_s = latency_s
    for s in room.emulators.sonos:
        s.latency_s = latency_s
    for z in room.emulators.z2m:
        z.latency_s = latency_s


# ----------------------------------------------------------------------------- /proc


@dataclass(frozen=True)
class ProcStats:
    rss_kib: int
    cpu_s: float  # user + system
    threads: int
    fds: int

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / 1024


def proc_stats(pid: int | str = "self") -> ProcStats:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    after_name = stat.rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu_s = (int(after_name[11]) + int(after_name[12])) / ticks  # utime, stime
    return ProcStats(
        rss_kib=int(fields["VmRSS"].split()[0]),
        cpu_s=cpu_s,
        threads=int(fields["Threads"]),
        fds=sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir()),
    )


# --------------------------------------------------------------------------- the daemon


class Daemon:
    """`roomctl run` in a child process with a NOTIFY_SOCKET; `started()` waits for READY=1."""

    def __init__(self, roomctl: Roomctl, config: Path, env: dict[str, str] | None = None) -> None:
        self.roomctl = roomctl
        self.config = config
        self.env = env or {}
        self.proc: asyncio.subprocess.Process | None = None
        self._notify_path = config.parent / f"notify-{os.getpid()}-{time.monotonic_ns()}.sock"
        self._sock: socket.socket | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout_s: float = 30.0) -> float:
        """Spawn `roomctl run`; seconds from the spawn to READY=1 on the notification socket."""
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify_path.unlink(missing_ok=True)
        self._sock.bind(str(self._notify_path))
        self._sock.setblocking(False)
        env = {**os.environ, "NOTIFY_SOCKET": str(self._notify_path), **self.env}
        env.pop("PYTHONPATH", None)
        began = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            *self.roomctl.argv("run", "--config", str(self.config)),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, env=env, cwd=self.config.parent,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout_s):
            while True:
                recv = asyncio.ensure_future(loop.sock_recv(self._sock, 4096))
                waiter = asyncio.ensure_future(self.proc.wait())
                done, _ = await asyncio.wait({recv, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if recv not in done:
                    recv.cancel()
                    raise RuntimeError(f"roomctl run ended with {self.proc.returncode}")
                waiter.cancel()
                if "READY=1" in recv.result().decode().split("\n"):
                    return time.perf_counter() - began

    def stats(self) -> ProcStats:
        return proc_stats(self.pid)

    async def kill(self) -> None:
        """kill -9, as a power cut or the OOM killer would."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self, timeout_s: float = 15.0) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                async with asyncio.timeout(timeout_s):
                    await self.proc.wait()
            except TimeoutError:
                await self.kill()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._notify_path.unlink(missing_ok=True)


async def cli(roomctl: Roomctl, config: Path, *args: str) -> tuple[int, str]:
    """One `roomctl ARGS --config CONFIG` process; (exit code, stdout + stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = await asyncio.create_subprocess_exec(
        *roomctl.argv(*args, "--config", str(config)),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=env, cwd=config.parent,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


def fmt_list(values: Sequence[float], unit: str = "", digits: int = 1) -> str:
    return ", ".join(f"{v:.{digits}f}{unit}" for v in values)

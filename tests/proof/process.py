"""`roomctl run` as a real process beside the test's emulators: started with a systemd
notification socket of the test's own (READY=1 says it serves), stopped with SIGTERM or killed
with SIGKILL, its log kept in a file the test can read."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.daemon_support import ROOT

READY_TIMEOUT_S = 30.0  # a loaded machine: Python, pydantic, python-kasa, SoCo, uvicorn


@dataclass
class DaemonProcess:
    proc: asyncio.subprocess.Process
    log: Path
    launched_at: float  # time.monotonic() when the process was started
    ready_at: float  # time.monotonic() when it said READY=1

    @classmethod
    async def start(cls, config: Path, log: Path, *extra: str) -> DaemonProcess:
        """`roomctl run --config CONFIG --listen 127.0.0.1:0 EXTRA`, once it is ready."""
        notify = log.with_suffix(".notify")
        notify.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(notify))
        sock.setblocking(False)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(notify)}
        env.pop("ROOMCTL_CONFIG", None)
        launched = time.monotonic()
        with log.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "roomctl", "run", "--config", str(config),
                "--listen", "127.0.0.1:0", *extra,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, env=env,
            )  # fmt: skip
        try:
            await asyncio.wait_for(_ready(sock, proc), READY_TIMEOUT_S)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        finally:
            sock.close()
        return cls(proc, log, launched, time.monotonic())

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> int:
        """SIGTERM, then the exit code (killed if it does not end within 15 s)."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        assert self.proc.returncode is not None
        return self.proc.returncode

    def log_lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()


async def _ready(sock: socket.socket, proc: asyncio.subprocess.Process) -> None:
    loop = asyncio.get_running_loop()
    while True:
        if proc.returncode is not None:
            raise AssertionError(f"roomctl run ended with {proc.returncode} before READY")
        try:
            message = await asyncio.wait_for(loop.sock_recv(sock, 4096), 0.5)
        except TimeoutError:
            continue
        if b"READY=1" in message.split(b"\n"):
            return

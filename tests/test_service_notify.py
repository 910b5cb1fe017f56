"""sd_notify through a real NOTIFY_SOCKET datagram socket, as systemd's `Type=notify` sees it:
READY=1 only once the daemon serves (and every face in `Daemon.serving` listens), WATCHDOG=1 at
half of WATCHDOG_USEC from the event loop, STOPPING=1 on stop.  Once in-process, once through
`roomctl run` itself (the service registered by the command, stopped by SIGTERM)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from roomctl.clock import SystemClock
from roomctl.control.notify import Notifier, notify_service, watchdog_interval_s
from tests.daemon_support import ROOT, stop_daemon
from tests.faults import start


def empty_room(where: Path) -> Path:
    """A room without devices or broker: only the store, the engine and the services."""
    cfg = {"room": {"id": "svc", "name": "Service"}, "storage": {"path": str(where / "r.db")}}
    path = where / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


@pytest.fixture
def systemd_socket(tmp_path: Path) -> Iterator[socket.socket]:
    """A datagram socket standing in for systemd's notification socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.setblocking(False)
    try:
        yield sock
    finally:
        sock.close()


async def messages(sock: socket.socket, until_field: str, timeout_s: float = 15.0) -> list[str]:
    """Datagrams received until one holds `until_field` (each message's fields joined by |)."""
    got: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 4096), 0.5)
        except TimeoutError:
            continue
        got.append("|".join(data.decode().split("\n")))
        if until_field in data.decode().split("\n"):
            return got
    pytest.fail(f"no {until_field} within {timeout_s:g} s; got {got}")


def test_watchdog_interval_is_half_the_timeout_and_only_for_its_process() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}, 42) == 15.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 42) == 15.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 42) is None
    assert watchdog_interval_s({}, 42) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "soon"}, 42) is None


def test_a_notifier_without_a_listener_says_so_once_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "nobody.sock"))
    assert not notifier.send("READY=1")
    assert not notifier.send("WATCHDOG=1")
    notifier.close()
    assert sum("notification socket" in r.getMessage() for r in caplog.records) == 1


async def test_ready_waits_for_the_faces_then_the_watchdog_pings_and_stopping_is_sent(
    tmp_path: Path, systemd_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a ping every 0.1 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    web_listening = asyncio.Event()

    async def web_face(daemon: object) -> None:  # a face that listens a moment after start
        await asyncio.sleep(0.3)
        web_listening.set()
        await asyncio.Event().wait()

    config = empty_room(tmp_path)
    from roomctl.control.daemon import Daemon
    from roomctl.model.library import load_library

    daemon = Daemon(load_library(config), SystemClock())
    daemon.serving["web"] = web_listening
    daemon.services += [("sd-notify", notify_service), ("web", web_face)]
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    try:
        got = await messages(systemd_socket, "READY=1")
        assert web_listening.is_set(), "READY=1 came before the web face listened"
        ready = got[-1]
        assert "STATUS=room svc: no session running" in ready
        assert f"MAINPID={os.getpid()}" in ready
        pings = 0
        for _ in range(3):
            pings += "WATCHDOG=1" in (await messages(systemd_socket, "WATCHDOG=1"))[-1]
        assert pings == 3
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    tail = await messages(systemd_socket, "STOPPING=1")
    assert tail[-1].startswith("STOPPING=1")


async def test_a_hung_event_loop_stops_the_watchdog_pings(
    tmp_path: Path, systemd_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    config = empty_room(tmp_path)
    run = await start(config, SystemClock())
    task = asyncio.create_task(notify_service(run.daemon))
    try:
        await messages(systemd_socket, "WATCHDOG=1")
        time.sleep(1.0)  # noqa: ASYNC251 - the loop hangs: nothing may be pinged meanwhile
        queued: list[bytes] = []
        while True:
            try:
                queued.append(systemd_socket.recv(4096))
            except BlockingIOError:
                break
        assert len(queued) <= 1, queued  # at most the ping that was due as it hung
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await stop_daemon(run)


async def test_roomctl_run_tells_systemd_ready_pings_and_stops_on_sigterm(
    tmp_path: Path, systemd_socket: socket.socket
) -> None:
    config = empty_room(tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        "WATCHDOG_USEC": "400000",
    }
    env.pop("WATCHDOG_PID", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roomctl", "run", "--config", str(config),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        got = await messages(systemd_socket, "READY=1", 60)
        assert any("MAINPID=" in m for m in got)
        await messages(systemd_socket, "WATCHDOG=1")
        proc.send_signal(signal.SIGTERM)
        await messages(systemd_socket, "STOPPING=1")
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        assert "Traceback" not in err.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

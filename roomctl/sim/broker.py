"""A private Mosquitto broker for tests and the demo, started without root.

    async with Broker.start() as broker:          # a free loopback port
        bus = MqttBus(MqttConfig(host=broker.host, port=broker.port), "roomctl-demo")
        ...
        await broker.restart()                    # fault test: the broker goes away and back

Mosquitto runs as a child process with a generated configuration (one loopback listener,
anonymous access, no persistence) in a temporary directory.  For tests of the harder cases it
can ask for passwords (`users={"name": "password"}`), speak TLS only (`tls=BrokerTls(...)`,
files made by the test) and bridge `roomctl/#` both ways to other brokers (`bridges=[other]`,
Mosquitto's own `connection` bridge).  The process is driven with plain
`subprocess` and polled, so a broker started in one event loop can be stopped or restarted
from another (a session-wide pytest fixture used by function-scoped tests).

An embedded Python broker (amqtt 0.12) was evaluated as a fallback and rejected: it delivered a
retained message to a client that had not subscribed to its topic, and its broadcast loop died
after a client disconnected abruptly, so later connections timed out.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import hashlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from roomctl.errors import RoomctlError

__all__ = ["Bridge", "Broker", "BrokerError", "BrokerTls", "find_mosquitto", "password_line"]

log = logging.getLogger(__name__)

# Debian installs mosquitto in /usr/sbin, which is not on an ordinary user's PATH.
_EXTRA_DIRS = (
    "/usr/sbin",
    "/usr/local/sbin",
    "/opt/homebrew/sbin",
    "/usr/local/opt/mosquitto/sbin",
)
_INSTALL_HINT = (
    "Mosquitto (the MQTT broker) is not installed: install it with "
    "`sudo apt-get install mosquitto` (Debian, Raspberry Pi OS, Ubuntu) or "
    "`brew install mosquitto` (macOS)"
)


class BrokerError(RoomctlError):
    """The test/demo broker cannot be found or started."""


def find_mosquitto(extra_dirs: tuple[str, ...] = _EXTRA_DIRS) -> str:
    """The path of the mosquitto executable; BrokerError with an install hint when missing."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for directory in extra_dirs:
        candidate = Path(directory) / "mosquitto"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise BrokerError(_INSTALL_HINT)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_in_use(host: str, port: int) -> bool:
    """True when something listens on host:port (connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM when the process that started it dies,
    also by SIGKILL (Linux prctl PR_SET_PDEATHSIG); None where there is no prctl."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: go now
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


@dataclass(frozen=True)
class BrokerTls:
    """The broker's TLS listener: its certificate and key, and the CA its clients trust."""

    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class Bridge:
    """A Mosquitto bridge from this broker to `host:port`, carrying `topic` both ways."""

    host: str
    port: int
    topic: str = "roomctl/#"


def password_line(username: str, password: str, salt: bytes | None = None) -> str:
    """One line of a Mosquitto 2 password file (PBKDF2-SHA512, as `mosquitto_passwd` writes)."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101, 64)
    b64 = base64.b64encode
    return f"{username}:$7$101${b64(salt).decode()}${b64(digest).decode()}"


def _config(
    host: str,
    port: int,
    *,
    password_file: Path | None = None,
    tls: BrokerTls | None = None,
    bridges: Sequence[Bridge] = (),
) -> str:
    lines = [f"listener {port} {host}"]
    if tls is not None:
        lines += [f"cafile {tls.ca}", f"certfile {tls.cert}", f"keyfile {tls.key}"]
    for n, bridge in enumerate(bridges):
        lines += [
            f"connection bridge-{port}-{n}",
            f"address {bridge.host}:{bridge.port}",
            f"topic {bridge.topic} both 1",
            "cleansession true",
            "try_private true",
            "restart_timeout 1 5",
            "start_type automatic",
        ]
    access = (
        ["allow_anonymous true"]
        if password_file is None
        else ["allow_anonymous false", f"password_file {password_file}"]
    )
    return "\n".join(
        [
            *lines,
            # run as whoever starts it: as root, mosquitto would otherwise switch to its own
            # user, and a change of user clears the parent-death signal
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            *access,
            "persistence false",
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "",
        ]
    )


class Broker:
    """One Mosquitto process on `host:port`.  Use `Broker.start()` (an async context manager)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        executable: str | None = None,
        users: Mapping[str, str] | None = None,
        tls: BrokerTls | None = None,
        bridges: Sequence[Bridge] = (),
    ) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.executable = executable or find_mosquitto()
        self._dir = Path(tempfile.mkdtemp(prefix="roomctl-mosquitto-"))
        self._conf = self._dir / "mosquitto.conf"
        password_file = None
        if users is not None:
            password_file = self._dir / "passwords"
            lines = [password_line(name, secret) for name, secret in users.items()]
            password_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
            password_file.chmod(0o600)
        config = _config(
            self.host, self.port, password_file=password_file, tls=tls, bridges=bridges
        )
        self._conf.write_text(config, encoding="utf-8")
        self._log_path = self._dir / "mosquitto.log"
        self._log: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"Broker({self.host}:{self.port}, running={self.running})"

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        executable: str | None = None,
        users: Mapping[str, str] | None = None,
        tls: BrokerTls | None = None,
        bridges: Sequence[Bridge] = (),
    ) -> AsyncIterator[Broker]:
        """Start a broker, yield it once it accepts connections, stop it (and clean up) after."""
        broker = cls(host, port, executable=executable, users=users, tls=tls, bridges=bridges)
        try:
            await broker.launch()
            yield broker
        finally:
            await broker.close()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def launch(self, timeout_s: float = 5.0) -> None:
        """Start the process (if not running) and wait until it accepts connections."""
        if self.running:
            return
        if _port_in_use(self.host, self.port):  # else the readiness probe would meet the other
            raise BrokerError(f"mosquitto on {self.host}:{self.port}: the port is already in use")
        self._log = self._log_path.open("ab")
        self._proc = subprocess.Popen(  # noqa: ASYNC220 - polled below, never waited on blocking
            [self.executable, "-c", str(self._conf)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # dies with this process, also after `kill -9` (the demo's broker must not linger);
            # the signal comes when the starting *thread* ends: start brokers from long-lived ones
            preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509
        )
        await self._wait_ready(timeout_s)
        log.info("Mosquitto listening on %s:%d (pid %d)", self.host, self.port, self._proc.pid)

    async def stop(self, *, kill: bool = False) -> None:
        """Stop the process: SIGTERM (clean), or SIGKILL with `kill=True` (a crash)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            if not await self._wait_exit(proc, 3.0):
                proc.kill()
                await self._wait_exit(proc, 3.0)
        if self._log is not None:
            self._log.close()
            self._log = None

    async def restart(self, *, down_s: float = 0.0, kill: bool = False) -> None:
        """Stop, stay down for `down_s` seconds, start again on the same port."""
        await self.stop(kill=kill)
        if down_s > 0:
            await asyncio.sleep(down_s)
        await self.launch()

    async def close(self) -> None:
        """Stop and remove the temporary directory."""
        await self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def log_text(self) -> str:
        """What mosquitto logged (errors, warnings, notices)."""
        try:
            return self._log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    async def _wait_ready(self, timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                await self.stop()
                raise BrokerError(
                    f"mosquitto on {self.host}:{self.port} exited at start: {self._last_line()}"
                )
            if await self._accepts():
                return
            if asyncio.get_running_loop().time() > deadline:
                await self.stop()
                raise BrokerError(
                    f"mosquitto on {self.host}:{self.port} did not accept connections "
                    f"within {timeout_s:g} s"
                )
            await asyncio.sleep(0.02)

    async def _accepts(self) -> bool:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), timeout=0.5
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    @staticmethod
    async def _wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
        for _ in range(int(timeout_s / 0.02)):
            if proc.poll() is not None:
                return True
            await asyncio.sleep(0.02)
        return proc.poll() is not None

    def _last_line(self) -> str:
        lines = [line for line in self.log_text().splitlines() if line.strip()]
        return lines[-1] if lines else "no output"

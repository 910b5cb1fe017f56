"""Telling systemd how the daemon is: READY, WATCHDOG pings, STATUS and STOPPING.

The sd_notify protocol is one datagram per message on the unix socket named by `NOTIFY_SOCKET`
(`@name` is Linux's abstract namespace), so this needs no library.  Registered as one of the
daemon's services (`Daemon.services`), it runs on the daemon's own event loop:

- READY=1 once the daemon serves: the store is open, the MQTT bus connected or retrying in the
  background (both before services start), and every face that must be listening first (the web
  app) has set its event in `Daemon.serving`;
- WATCHDOG=1 every half of `WATCHDOG_USEC`, from a task on the event loop itself: a loop that
  hangs stops the pings, and systemd restarts the service (`WatchdogSec=` in the unit);
- STOPPING=1 when the daemon is told to stop.

Without `NOTIFY_SOCKET` (not started by systemd as `Type=notify`) it does nothing.  A message
that cannot be sent is logged once and never stops the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roomctl.control.daemon import Daemon

__all__ = ["Notifier", "notify_service", "watchdog_interval_s"]

log = logging.getLogger(__name__)


def watchdog_interval_s(env: Mapping[str, str], pid: int) -> float | None:
    """How often to ping systemd's watchdog (half its timeout), or None when it is off or
    meant for another process (`WATCHDOG_PID`)."""
    usec = env.get("WATCHDOG_USEC", "")
    owner = env.get("WATCHDOG_PID", "")
    if owner and owner != str(pid):
        return None
    try:
        timeout_s = int(usec) / 1_000_000
    except ValueError:
        return None
    return timeout_s / 2 if timeout_s > 0 else None


class Notifier:
    """Sends sd_notify messages to `address` (the value of `NOTIFY_SOCKET`)."""

    def __init__(self, address: str) -> None:
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._sock.setblocking(False)
        self._failing = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Notifier | None:
        address = (os.environ if env is None else env).get("NOTIFY_SOCKET", "")
        return cls(address) if address else None

    def send(self, *fields: str) -> bool:
        """One message of `KEY=value` fields; False (logged once) when it cannot be sent."""
        message = "\n".join(fields).encode()
        try:
            self._sock.sendto(message, self.address)
        except OSError as exc:
            if not self._failing:
                log.warning("systemd notification socket: %s", exc.strerror or exc)
            self._failing = True
            return False
        self._failing = False
        return True

    def close(self) -> None:
        self._sock.close()


async def notify_service(daemon: Daemon) -> None:
    """The daemon service: READY when serving, watchdog pings, STOPPING when stopped."""
    notifier = Notifier.from_env()
    if notifier is None:
        return
    try:
        await daemon.ready.wait()
        for name, event in list(daemon.serving.items()):
            if not event.is_set():
                log.info("waiting for %s before telling systemd the room is ready", name)
                await event.wait()
        notifier.send("READY=1", f"STATUS={status_line(daemon)}", f"MAINPID={os.getpid()}")
        log.info("systemd told: ready")
        every = watchdog_interval_s(os.environ, os.getpid())
        while True:
            if every is None:
                await asyncio.sleep(3600)
                continue
            await asyncio.sleep(every)  # real time: the watchdog measures the real loop
            notifier.send("WATCHDOG=1")
    except asyncio.CancelledError:  # the daemon is stopping (its services are cancelled)
        notifier.send("STOPPING=1", "STATUS=stopping")
        raise
    finally:
        notifier.close()


def status_line(daemon: Daemon) -> str:
    """A short status for `systemctl status`: no client, label or note, only ids."""
    room = daemon.lib.room.room.id
    session = daemon.session.session if daemon.session is not None else None
    what = f"following session {session.id}" if session is not None else "no session running"
    extra = f"; database read-only: {daemon.read_only}" if daemon.read_only else ""
    return f"room {room}: {what}{extra}"

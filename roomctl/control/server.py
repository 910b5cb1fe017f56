"""The daemon's command socket: a unix socket beside the session database (mode 0600), so a
command given on the command line acts in the running daemon at once, stamped with the daemon's
clock, instead of waiting for the daemon to notice it in the store.

Protocol: one JSON object per line each way.

    {"op": "command", "kind": "emergency_on", "data": {}, "by": "alice"}
    {"op": "status", "json": false}
    {"op": "refresh"}          # another process wrote to the store: look now
    → {"ok": true, "status": "psilocybin 0:12  phase settle  [EMERGENCY]", "recorded": true}
    → {"ok": false, "error": "the arc is not held"}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from roomctl.control.session import SessionControl
from roomctl.control.status import format_status
from roomctl.errors import RoomctlError
from roomctl.model.events import EventKind

__all__ = ["CommandServer"]

log = logging.getLogger(__name__)
MAX_LINE = 64 * 1024


class CommandServer:
    def __init__(
        self, control: SessionControl, paths: list[Path], on_change: Callable[[], None]
    ) -> None:
        self.control = control
        self.paths = paths
        self.path: Path | None = None
        self._on_change = on_change
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on the first path that works; a daemon without a socket still runs."""
        problems: list[str] = []
        for path in self.paths:
            with contextlib.suppress(OSError):
                path.unlink()  # a stale socket: the lock says no other daemon runs
            old = os.umask(0o177)
            try:
                self._server = await asyncio.start_unix_server(
                    self._serve, path=str(path), limit=MAX_LINE
                )
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror or exc}")
                continue
            finally:
                os.umask(old)
            path.chmod(0o600)
            self.path = path
            log.info("commands on %s", path)
            return
        log.error("no command socket (%s); commands reach the daemon through the store", problems)

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                answer = self.handle(line)
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
            log.warning("command socket: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def handle(self, line: bytes) -> dict[str, Any]:
        try:
            return self._dispatch(_request(line))
        except RoomctlError as exc:
            return {"ok": False, "error": str(exc)}
        except (ValueError, KeyError, TypeError) as exc:
            return {"ok": False, "error": f"bad request: {exc}"}
        except Exception as exc:  # a bug: the daemon goes on, the caller hears about it
            log.exception("command socket: request failed")
            return {"ok": False, "error": f"internal error: {exc}"}

    def _dispatch(self, request: dict[str, Any]) -> dict[str, Any]:
        control = self.control
        op = request.get("op")
        if op == "refresh":
            if control.refresh():
                self._on_change()
            return {"ok": True}
        if op == "status":
            control.refresh()
            return {"ok": True, "status": format_status(control, bool(request.get("json")))}
        if op != "command":
            raise ValueError(f"unknown op {op!r}")
        kind = EventKind(request["kind"])
        by = str(request.get("by") or "cli")
        data = request.get("data") or {}
        if not isinstance(data, dict):
            raise TypeError("data must be an object")
        answer: dict[str, Any] = {"ok": True, "recorded": True}
        if kind in (EventKind.EMERGENCY_ON, EventKind.EMERGENCY_CLEAR):
            outcome = control.emergency(kind is EventKind.EMERGENCY_ON, by=by)
            answer |= {"recorded": outcome.recorded, "error": outcome.error}
        else:
            control.command(kind, data, by=by)
        answer["status"] = format_status(control)
        return answer


def _request(line: bytes) -> dict[str, Any]:
    request = json.loads(line)
    if not isinstance(request, dict):
        raise TypeError("a request is a JSON object")
    return request

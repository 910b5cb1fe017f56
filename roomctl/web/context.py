"""What every route of the web app reaches: the daemon (its store, session control, hub and
room state), the signing secret, the login throttle and the colour preview."""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from roomctl.control.daemon import Daemon
from roomctl.control.session import SessionControl
from roomctl.errors import StoreError
from roomctl.mqtt.overview import ClinicOverview
from roomctl.store.store import Store
from roomctl.web.preview import RoomPreview
from roomctl.web.throttle import LoginThrottle

__all__ = ["Web", "load_secret", "web_of"]

SECRET_BYTES = 32


def load_secret(path: Path) -> bytes:
    """The install's cookie-signing secret, made once (0600) beside the database."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create the web secret {path}: {exc.strerror}") from exc
    else:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(SECRET_BYTES))
    try:
        text = path.read_text(encoding="ascii").strip()
        value = bytes.fromhex(text)
    except (OSError, ValueError) as exc:
        raise StoreError(f"the web secret {path} cannot be read ({exc}); delete it") from exc
    if len(value) < 16:
        raise StoreError(f"the web secret {path} is too short; delete it to make a new one")
    return value


@dataclass
class Web:
    daemon: Daemon
    secret: bytes
    preview: RoomPreview
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    overview: ClinicOverview | None = None  # the clinic's rooms on the broker (with MQTT)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    min_update_s: float = 0.25  # SSE: at most a few updates per second
    settle_s: float = 0.01  # SSE: let the engine's commands leave before the tablets are told
    ping_s: float = 15.0
    _state: tuple[int, str] | None = None

    def state_json(self, version: int) -> str:
        """The room state as JSON, built once per hub version for every stream."""
        cached = self._state
        if cached is None or cached[0] != version:
            cached = self._state = (version, self.daemon.state().model_dump_json())
        return cached[1]

    @property
    def store(self) -> Store:
        assert self.daemon.store is not None
        return self.daemon.store

    @property
    def control(self) -> SessionControl:
        assert self.daemon.session is not None
        return self.daemon.session


def web_of(request: Request) -> Web:
    web = request.app.state.web
    assert isinstance(web, Web)
    return web

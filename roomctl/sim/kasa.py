"""A loopback emulator of TP-Link Kasa IOT devices that speaks the real legacy protocol.

Each :class:`KasaEmulator` listens on a TCP port on 127.0.0.x and answers python-kasa exactly
as a bulb, light strip, dimmer or plug would: length-prefixed XOR frames on persistent
connections, many request/response pairs per connection.  Faults can be switched on and off
while clients are connected (see :class:`KasaFaults`), and everything the device was told is
logged with timestamps in :attr:`KasaEmulator.commands`.

Example::

    async with KasaEmulator("color_bulb", host="127.0.0.2") as bulb:
        light = KasaLight(KasaDeviceConfig(id="lamp", zone="room", driver="kasa",
                                           host=bulb.address))
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from roomctl.sim.kasa_device import CommandRecord, EmulatedKasaDevice
from roomctl.sim.kasa_profiles import PROFILES, Model
from roomctl.sim.kasa_protocol import FrameError, decrypt, encode_frame, encrypt, read_request
from roomctl.sim.service import Emulated

__all__ = ["CommandRecord", "KasaEmulator", "KasaFaults", "Model"]

_LOGGER = logging.getLogger(__name__)
_HANDLER_GRACE_S = 0.2  # how long stop() lets a connection handler finish by itself


class _DiscoveryResponder(asyncio.DatagramProtocol):
    """Legacy UDP discovery: the same cipher without the length prefix, sysinfo in reply."""

    def __init__(self, emulator: KasaEmulator) -> None:
        self._emulator = emulator
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        emulator = self._emulator
        if emulator.faults.silent or not emulator.listening or self._transport is None:
            return
        try:
            request = json.loads(decrypt(data))
        except ValueError:
            return
        if isinstance(request, dict) and "system" in request:
            reply = emulator.device.handle({"system": {"get_sysinfo": {}}})
            self._transport.sendto(encrypt(json.dumps(reply).encode()), addr)


@dataclass
class KasaFaults:
    """Misbehaviour switched on at run time; every field takes effect on the next request."""

    latency_s: float = 0.0
    """Real-time delay before each request is handled and answered."""
    drop_next: int = 0
    """Close the connection instead of answering the next N requests."""
    drop_after_apply: bool = False
    """A dropped request is applied first, as if only the reply were lost."""
    error_code: int | None = None
    """Setters are answered with this err_code and not applied; queries still work."""
    silent: bool = False
    """Accept connections and read requests, but never answer (a hung device)."""

    def clear(self) -> None:
        """Back to a well-behaved device."""
        self.latency_s = 0.0
        self.drop_next = 0
        self.drop_after_apply = False
        self.error_code = None
        self.silent = False


class KasaEmulator(Emulated):
    """One emulated Kasa device on `host`:`port` (port 0 picks a free port at start)."""

    def __init__(
        self,
        model: Model,
        host: str = "127.0.0.1",
        port: int = 0,
        alias: str | None = None,
        *,
        time_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model: Model = model
        self.host = host
        self.device = EmulatedKasaDevice(
            model, alias=alias or f"Emulated {PROFILES[model].model}", time_fn=time_fn
        )
        self.faults = KasaFaults()
        self.requests = 0
        self.connections_accepted = 0
        self._port = port
        self._server: asyncio.Server | None = None
        self._discovery: asyncio.DatagramTransport | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._conn_ids = itertools.count(1)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening; afterwards :attr:`port` and :attr:`address` are known."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._serve, self.host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        await self._start_discovery()
        _LOGGER.debug("Kasa emulator %s (%s) listening on %s", self.alias, self.model, self.address)

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        await self._stop_listening()
        await self._drop_connections()

    async def refuse_connections(self) -> None:
        """Go away like an unplugged device: stop listening and drop open connections."""
        _LOGGER.debug("Kasa emulator %s refusing connections", self.alias)
        await self.stop()

    async def accept_connections(self) -> None:
        """Come back on the same address after :meth:`refuse_connections`."""
        await self.start()

    # -- what tests read ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the emulator has no port before start()")
        return self._port

    @property
    def address(self) -> str:
        """``host:port``, usable as KasaDeviceConfig.host."""
        return f"{self.host}:{self.port}"

    @property
    def alias(self) -> str:
        return self.device.alias

    @property
    def listening(self) -> bool:
        return self._server is not None

    @property
    def open_connections(self) -> int:
        return len(self._writers)

    @property
    def state(self) -> dict[str, Any]:
        """on, brightness, color_temp, hue, saturation (interpolated now) and fading."""
        return self.device.state

    def change_at_device(self, *, on: bool | None = None, **settings: int) -> None:
        """A change made by hand (a dimmer at the wall, the Kasa app): no command is logged."""
        lamp = self.device.lamp
        if lamp is None:
            raise ValueError(f"the {self.device.profile.model} has no light to change")
        lamp.command(on=on, changes=settings, transition_s=0.0)

    @property
    def commands(self) -> list[CommandRecord]:
        """Every setter received, in order, with the emulator-clock time it arrived."""
        return self.device.commands

    # -- connections -------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._writers.add(writer)
        self.connections_accepted += 1
        conn = next(self._conn_ids)
        _LOGGER.debug("Kasa emulator %s: connection %d opened", self.alias, conn)
        try:
            while (request := await read_request(reader)) is not None:
                self.requests += 1
                if not await self._answer(request, writer):
                    _LOGGER.debug("Kasa emulator %s: dropping connection %d", self.alias, conn)
                    break
        except (FrameError, ConnectionError, asyncio.IncompleteReadError) as exc:
            _LOGGER.debug("Kasa emulator %s: connection %d: %s", self.alias, conn, exc)
        except asyncio.CancelledError:
            # Only stop() cancels a handler; end quietly, as Python 3.11's stream callback
            # logs a cancelled handler task as an error.
            _LOGGER.debug("Kasa emulator %s: connection %d cancelled", self.alias, conn)
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    async def _answer(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> bool:
        """Handle one request under the current faults; False to drop the connection."""
        faults = self.faults
        if faults.silent:
            return True
        if faults.drop_next > 0:
            faults.drop_next -= 1
            if faults.drop_after_apply:
                self.device.handle(request, reject_setters=faults.error_code)
            return False
        if faults.latency_s > 0:
            await asyncio.sleep(faults.latency_s)
        response = self.device.handle(request, reject_setters=self.faults.error_code)
        writer.write(encode_frame(response))
        await writer.drain()
        return True

    async def _start_discovery(self) -> None:
        """Answer legacy UDP discovery on the same port number (python-kasa's `port=`)."""
        loop = asyncio.get_running_loop()
        try:
            self._discovery, _ = await loop.create_datagram_endpoint(
                lambda: _DiscoveryResponder(self), local_addr=(self.host, self.port)
            )
        except OSError as exc:
            _LOGGER.warning(
                "Kasa emulator %s: no UDP discovery on %s: %s", self.alias, self.address, exc
            )

    async def _stop_listening(self) -> None:
        if self._discovery is not None:
            self._discovery.close()
            self._discovery = None
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _drop_connections(self) -> None:
        """Close every connection; handlers end on the EOF (or are cancelled if stuck)."""
        for writer in list(self._writers):
            writer.close()
        handlers = list(self._handlers)
        if not handlers:
            return
        _, stuck = await asyncio.wait(handlers, timeout=_HANDLER_GRACE_S)
        for task in stuck:
            task.cancel()
        if stuck:
            await asyncio.wait(stuck)

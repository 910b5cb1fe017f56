"""The network side of the Sonos emulator: a minimal HTTP/1.1 server for UPnP SOAP on asyncio,
a log of every action received, and faults injected at run time.

One request per connection (``Connection: close``), as SoCo opens a new connection per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Protocol

from roomctl.clock import Clock
from roomctl.sim.sonos_xml import (
    ServiceSpec,
    SoapCall,
    UpnpError,
    parse_soap,
    service_by_control_url,
    soap_fault,
    soap_response,
)

__all__ = ["ActionRecord", "FaultPlan", "Router", "UpnpServer"]

_LOG = logging.getLogger(__name__)
_MAX_BODY = 1 << 20
_XML = 'text/xml; charset="utf-8"'


class Router(Protocol):
    """What the server asks the device model: documents to GET and actions to run."""

    def http_get(self, path: str) -> str | None: ...

    def soap_call(self, service: ServiceSpec, call: SoapCall) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One SOAP action as received: when (clock.monotonic()), what, and how it was answered."""

    at_s: float
    service: str
    action: str
    arguments: dict[str, str]
    outcome: str  # "ok", "fault <code>" or "silent"

    @property
    def fault_code(self) -> int | None:
        return int(self.outcome.split()[1]) if self.outcome.startswith("fault") else None


@dataclass
class FaultPlan:
    """Faults to inject.  Change them at any time; they apply to the next request."""

    latency_s: float = 0.0
    _next_codes: deque[int] = field(default_factory=deque)
    _by_action: dict[str, list[int | None]] = field(default_factory=dict)
    _silence: asyncio.Event | None = None

    def fail_next(self, count: int = 1, code: int = 701) -> None:
        """Answer the next `count` SOAP calls, whatever they are, with UPnP error `code`."""
        self._next_codes.extend([code] * count)

    def fail_action(self, action: str, code: int = 701, count: int | None = None) -> None:
        """Answer `action` with UPnP error `code`, `count` times or until cleared."""
        self._by_action[action] = [code, count]

    @property
    def silent(self) -> bool:
        return self._silence is not None

    def set_silent(self, silent: bool) -> None:
        """While silent, requests are read but never answered; ending it drops them."""
        if silent and self._silence is None:
            self._silence = asyncio.Event()
        elif not silent and self._silence is not None:
            self._silence.set()
            self._silence = None

    async def wait_for_voice(self) -> None:
        if self._silence is not None:
            await self._silence.wait()

    def clear(self) -> None:
        self.latency_s = 0.0
        self._next_codes.clear()
        self._by_action.clear()
        self.set_silent(False)

    def take(self, action: str) -> int | None:
        """The error code to answer `action` with now, if any (consumes one use)."""
        rule = self._by_action.get(action)
        if rule is not None:
            code, remaining = rule
            if remaining is not None:
                rule[1] = remaining - 1
                if remaining <= 1:
                    del self._by_action[action]
            return code
        return self._next_codes.popleft() if self._next_codes else None


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _BadRequestError(Exception):
    def __init__(self, status: HTTPStatus) -> None:
        self.status = status
        super().__init__(status.phrase)


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as err:
        raise _BadRequestError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE) from err
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise _BadRequestError(HTTPStatus.BAD_REQUEST)
    headers: dict[str, str] = {}
    for line in filter(None, header_lines):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise _BadRequestError(HTTPStatus.LENGTH_REQUIRED)
    length_text = headers.get("content-length", "0")
    if not length_text.isdigit() or int(length_text) > _MAX_BODY:
        raise _BadRequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    body = await reader.readexactly(int(length_text))
    return _Request(parts[0].upper(), parts[1].partition("?")[0], headers, body)


def _http(status: HTTPStatus, body: bytes = b"", content_type: str = _XML) -> bytes:
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\nServer: Linux UPnP/1.0 Sonos/79.1-56030 (ZPS18)\r\n\r\n"
    )
    return head.encode("latin-1") + body


class UpnpServer:
    """Serves one emulated speaker on host:port; can go offline and come back on the same port."""

    def __init__(self, name: str, host: str, port: int, clock: Clock, router: Router) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.faults = FaultPlan()
        self.log: list[ActionRecord] = []
        # Every HTTP request answered, in order: "GET <path>" or the SOAP action's name.
        self.requests: list[str] = []
        self._clock = clock
        self._router = router
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        _LOG.debug("Sonos emulator %s: listening on %s:%d", self.name, self.host, self.port)

    async def stop(self) -> None:
        """Stop listening (connections are refused) and drop every open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        _LOG.debug("Sonos emulator %s: stopped listening", self.name)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            reply = await self._answer(reader)
            if reply is not None:
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            _LOG.debug("Sonos emulator %s: client went away", self.name)
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> bytes | None:
        try:
            request = await _read_request(reader)
        except _BadRequestError as err:
            return _http(err.status)
        if request is None:
            return None
        if self.faults.silent:
            self._note_silent(request)
            await self.faults.wait_for_voice()
            return None
        if self.faults.latency_s > 0:
            await self._clock.sleep(self.faults.latency_s)
        if request.method == "GET":
            self.requests.append(f"GET {request.path}")
            document = self._router.http_get(request.path)
            if document is None:
                return _http(HTTPStatus.NOT_FOUND)
            return _http(HTTPStatus.OK, document.encode())
        if request.method == "POST":
            return self._soap(request)
        return _http(HTTPStatus.METHOD_NOT_ALLOWED)

    def _note_silent(self, request: _Request) -> None:
        service = service_by_control_url(request.path)
        if request.method == "POST" and service is not None:
            with contextlib.suppress(UpnpError):
                call = parse_soap(request.body)
                self._record(service, call, "silent")

    def _soap(self, request: _Request) -> bytes:
        service = service_by_control_url(request.path)
        if service is None:
            return _http(HTTPStatus.NOT_FOUND)
        try:
            call = parse_soap(request.body)
        except UpnpError as err:
            return _http(HTTPStatus.INTERNAL_SERVER_ERROR, soap_fault(err))
        try:
            values = self._run(service, call, request.headers.get("soapaction", ""))
        except UpnpError as err:
            self._record(service, call, f"fault {err.code}")
            return _http(HTTPStatus.INTERNAL_SERVER_ERROR, soap_fault(err))
        self._record(service, call, "ok")
        return _http(HTTPStatus.OK, soap_response(service, call.action, values))

    def _run(self, service: ServiceSpec, call: SoapCall, soap_action: str) -> dict[str, str]:
        spec = service.actions.get(call.action)
        header_action = soap_action.strip('"').rpartition("#")[2]
        if spec is None or (header_action and header_action != call.action):
            raise UpnpError(401, f"{service.name} has no action {call.action}")
        missing = [name for name in spec.inputs if name not in call.arguments]
        if missing:
            raise UpnpError(402, f"missing {', '.join(missing)}")
        code = self.faults.take(call.action)
        if code is not None:
            raise UpnpError(code, "injected fault")
        try:
            values = self._router.soap_call(service, call)
            return {name: values[name] for name in spec.outputs}
        except UpnpError:
            raise
        except Exception as err:
            _LOG.exception("Sonos emulator %s: %s failed", self.name, call.action)
            raise UpnpError(501, f"emulator error: {err}") from err

    def _record(self, service: ServiceSpec, call: SoapCall, outcome: str) -> None:
        record = ActionRecord(
            self._clock.monotonic(), service.name, call.action, call.arguments, outcome
        )
        self.log.append(record)
        self.requests.append(call.action)
        _LOG.debug("Sonos emulator %s: %s.%s -> %s", self.name, service.name, call.action, outcome)

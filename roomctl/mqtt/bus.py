"""One shared MQTT connection for the daemon, on aiomqtt 2.x.

Drivers subscribe with a callback and publish through the bus; they never see aiomqtt.  The bus
keeps the connection up: when the broker goes away it reconnects in the background with jittered,
capped exponential backoff, subscribes every filter again and publishes the birth message.

The connection speaks MQTT 5 and tags every subscription with a subscription identifier, so a
message is handed exactly to the callbacks of the filters it matched, also when filters overlap.

Publishing while disconnected raises :class:`BrokerUnavailableError` at once; a publish that is in
flight when the connection drops fails as soon as the drop is seen.  Nothing waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from roomctl.clock import Clock, SystemClock
from roomctl.errors import RoomctlError
from roomctl.model.config import MqttConfig
from roomctl.retry import Backoff

__all__ = [
    "Backoff",
    "BrokerUnavailableError",
    "MessageHandler",
    "MqttBus",
    "Subscription",
    "tls_context",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
# Reconnect tries start at half a second and are never more than this apart: a broker back
# after a long outage (a restart, a power cut of the switch) is found within seconds, and one
# connection attempt every few seconds costs nothing on a LAN.
RECONNECT_MAX_S = 5.0
MessageHandler = Callable[[str, bytes], Awaitable[None] | None]
ConnectListener = Callable[[], Awaitable[None]]


class BrokerUnavailableError(RoomctlError):
    """The MQTT broker cannot be reached, or the connection dropped during an operation."""


class Subscription:
    """One handler on one topic filter.  Awaiting it waits for the broker's acknowledgement;
    `await cancel()` removes it."""

    def __init__(self, bus: MqttBus, topic_filter: str, handler: MessageHandler) -> None:
        self.bus = bus
        self.topic_filter = topic_filter
        self.handler = handler
        self.acknowledged: asyncio.Task[None] | None = None

    def __await__(self) -> Generator[Any, None, Subscription]:
        if self.acknowledged is not None:
            yield from asyncio.shield(self.acknowledged).__await__()
        return self

    async def cancel(self) -> None:
        await self.bus.unsubscribe(self)


@dataclass
class _Filter:
    sub_id: int
    subscriptions: list[Subscription] = field(default_factory=list)


@dataclass
class _Connection:
    client: aiomqtt.Client
    lost: asyncio.Event = field(default_factory=asyncio.Event)


def _reason(exc: BaseException) -> str:
    """A short lower-case reason from an aiomqtt/paho/OS error ("connection refused")."""
    text = re.sub(r"^\s*\[(errno|code:?)\s*-?\d+\]\s*", "", str(exc), flags=re.IGNORECASE)
    text = text.strip().rstrip(".") or type(exc).__name__
    if text.lower() == "operation timed out":
        return "no answer (timed out)"
    return text[0].lower() + text[1:]


class MqttBus:
    """The daemon's MQTT connection.

    `will` is published (retained, QoS 1) by the broker when the connection dies and by
    `close()`; `birth` is published (retained) on every connect, e.g. an availability pair
    ``("roomctl/room/availability", "offline")`` / ``(..., "online")``.
    """

    def __init__(
        self,
        config: MqttConfig,
        client_id: str,
        will: tuple[str, str | bytes] | None = None,
        *,
        birth: tuple[str, str | bytes] | None = None,
        timeout_s: float = 5.0,
        backoff: Backoff | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.client_id = client_id
        self.address = str(config.address)
        self._will = will
        self._birth = birth
        self._timeout_s = timeout_s
        self._backoff = backoff or Backoff(initial_s=0.5, max_s=RECONNECT_MAX_S)
        self._clock: Clock = clock or SystemClock()
        self._filters: dict[str, _Filter] = {}
        self._next_sub_id = 1
        self._listeners: list[ConnectListener] = []
        self._conn: _Connection | None = None
        self._up = asyncio.Event()
        self._main: asyncio.Task[None] | None = None
        self._tg: asyncio.TaskGroup | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.lost.is_set()

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        """Return once connected; BrokerUnavailableError after `timeout_s` (None: wait as long)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._up.wait()
        except TimeoutError:
            raise BrokerUnavailableError(f"MQTT broker {self.address}: not connected") from None

    async def start(self, *, required: bool = True) -> None:
        """Connect once (raising BrokerUnavailableError with one readable line), then keep it up.

        With `required=False` a broker that does not answer is not an error: it is logged, and
        the bus keeps trying in the background (publishing fails fast until it connects)."""
        if self._main is not None:
            return
        try:
            conn = await self._connect()
            try:
                await self._open_session(conn)
            except BaseException:
                await self._dispose(conn)
                raise
        except BrokerUnavailableError as exc:
            if required:
                raise
            log.warning("%s; MQTT devices are unavailable until it answers (retrying)", exc)
            self._main = asyncio.create_task(self._run(None), name=f"mqtt-bus:{self.client_id}")
            return
        self._main = asyncio.create_task(self._run(conn), name=f"mqtt-bus:{self.client_id}")
        log.info("MQTT broker %s: connected as %s", self.address, self.client_id)

    async def close(self) -> None:
        """Publish the will (a clean goodbye), disconnect and stop reconnecting.  Never raises."""
        main, self._main = self._main, None
        if main is not None:
            main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await main
        conn, self._conn = self._conn, None
        self._up.clear()
        if conn is None:
            return
        if not conn.lost.is_set() and self._will is not None:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                topic, payload = self._will
                await conn.client.publish(topic, payload, qos=1, retain=True, timeout=1.0)
        await self._dispose(conn)
        log.info("MQTT broker %s: disconnected %s", self.address, self.client_id)

    def add_connect_listener(self, listener: ConnectListener) -> None:
        """Run `listener` after every (re)connect, e.g. to publish retained state again."""
        self._listeners.append(listener)

    # -- publish / subscribe ----------------------------------------------------------------

    async def publish(
        self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 1
    ) -> None:
        """Publish; with QoS 1 returns once the broker has it.  BrokerUnavailableError otherwise."""
        conn = self._require()
        try:
            await self._guarded(
                conn,
                conn.client.publish(
                    topic, payload, qos=qos, retain=retain, timeout=self._timeout_s
                ),
            )
        except aiomqtt.MqttError as exc:
            raise BrokerUnavailableError(
                f"MQTT broker {self.address}: publish to {topic} failed: {_reason(exc)}"
            ) from None

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> Subscription:
        """Call `handler(topic, payload)` for every message matching `topic_filter`.

        Registers at once and stays registered across reconnects.  `await bus.subscribe(...)`
        returns once the broker acknowledged the subscription (retained messages follow); when
        not connected, the subscription is made as soon as the bus connects.  A handler that
        raises is logged and skipped; a coroutine handler runs as its own task.
        """
        sub = Subscription(self, topic_filter, handler)
        entry = self._filters.get(topic_filter)
        if entry is None:
            entry = self._filters[topic_filter] = _Filter(self._next_sub_id)
            self._next_sub_id += 1
        entry.subscriptions.append(sub)
        conn = self._conn
        if conn is not None and not conn.lost.is_set():
            sub.acknowledged = asyncio.create_task(
                self._subscribe_now(conn, topic_filter, entry.sub_id),
                name=f"mqtt-subscribe:{topic_filter}",
            )
        return sub

    async def _subscribe_now(self, conn: _Connection, topic_filter: str, sub_id: int) -> None:
        try:
            await self._guarded(conn, self._subscribe(conn, topic_filter, sub_id))
        except (aiomqtt.MqttError, BrokerUnavailableError) as exc:
            log.warning("MQTT subscribe %s deferred to the next connect: %s", topic_filter, exc)

    async def unsubscribe(self, sub: Subscription) -> None:
        entry = self._filters.get(sub.topic_filter)
        if entry is None or sub not in entry.subscriptions:
            return
        entry.subscriptions.remove(sub)
        if entry.subscriptions:
            return
        del self._filters[sub.topic_filter]
        conn = self._conn
        if conn is not None and not conn.lost.is_set():
            with contextlib.suppress(aiomqtt.MqttError, BrokerUnavailableError):
                await self._guarded(
                    conn, conn.client.unsubscribe(sub.topic_filter, timeout=self._timeout_s)
                )

    # -- connection management ---------------------------------------------------------------

    def _require(self) -> _Connection:
        conn = self._conn
        if conn is None or conn.lost.is_set():
            raise BrokerUnavailableError(f"MQTT broker {self.address}: not connected")
        return conn

    async def _guarded(self, conn: _Connection, op: Coroutine[Any, Any, T]) -> T:
        """Run `op`, failing fast with BrokerUnavailableError if the connection drops meanwhile."""
        op_task = asyncio.ensure_future(op)
        lost_task = asyncio.ensure_future(conn.lost.wait())
        try:
            await asyncio.wait((op_task, lost_task), return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost_task.cancel()
            if not op_task.done():
                op_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await op_task
        if op_task.cancelled():
            raise BrokerUnavailableError(f"MQTT broker {self.address}: connection lost")
        return op_task.result()

    def _client(self) -> aiomqtt.Client:
        cfg = self.config
        will = None
        if self._will is not None:
            will = aiomqtt.Will(self._will[0], self._will[1], qos=1, retain=True)
        return aiomqtt.Client(
            cfg.address.host,
            cfg.address.port_or(1883),
            username=cfg.username,
            password=cfg.password.get_secret_value() if cfg.password else None,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            will=will,
            keepalive=cfg.keepalive_s,
            timeout=self._timeout_s,
            tls_context=tls_context(cfg),
            # Small messages, latency matters: no Nagle delay (paho does not set it).
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )

    async def _connect(self) -> _Connection:
        client = self._client()
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            raise BrokerUnavailableError(f"MQTT broker {self.address}: {_reason(exc)}") from None
        return _Connection(client)

    async def _open_session(self, conn: _Connection) -> None:
        """Subscribe every filter and publish the birth message; then the bus is up."""
        try:
            await asyncio.gather(
                *(self._subscribe(conn, f, e.sub_id) for f, e in list(self._filters.items()))
            )
            if self._birth is not None:
                topic, payload = self._birth
                await conn.client.publish(topic, payload, qos=1, retain=True)
        except aiomqtt.MqttError as exc:
            raise BrokerUnavailableError(
                f"MQTT broker {self.address}: session setup failed: {_reason(exc)}"
            ) from None
        self._conn = conn
        self._up.set()

    async def _subscribe(self, conn: _Connection, topic_filter: str, sub_id: int) -> None:
        props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
        props.SubscriptionIdentifier = sub_id
        codes = await conn.client.subscribe(
            topic_filter, qos=1, properties=props, timeout=self._timeout_s
        )
        if any(_code(code) >= 0x80 for code in codes):
            log.error("MQTT broker %s refused the subscription to %s", self.address, topic_filter)

    async def _run(self, conn: _Connection | None) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tg.create_task(self._keep_connected(conn), name=f"mqtt-connection:{self.client_id}")
        except* Exception:  # a bug, not a broker problem: say so loudly
            log.exception("MQTT bus %s stopped", self.client_id)
        finally:
            self._tg = None

    async def _keep_connected(self, conn: _Connection | None) -> None:
        if conn is None:  # started without a broker
            conn, attempts = await self._reconnect()
            log.info("MQTT broker %s: connected (attempt %d)", self.address, attempts)
        while True:
            for listener in list(self._listeners):
                what = f"MQTT connect listener {listener!r}"
                self._spawn(_logged(listener(), what), "mqtt-connect-listener")
            await self._pump(conn)
            log.warning("MQTT broker %s: connection lost; reconnecting", self.address)
            conn, attempts = await self._reconnect()
            log.info("MQTT broker %s: connected again (attempt %d)", self.address, attempts)

    async def _pump(self, conn: _Connection) -> None:
        """Hand every message to its handlers until the connection drops."""
        try:
            async for message in conn.client.messages:
                self._dispatch(message)
        except aiomqtt.MqttError as exc:
            log.debug("MQTT broker %s: %s", self.address, _reason(exc))
        self._up.clear()
        await self._dispose(conn)

    async def _reconnect(self) -> tuple[_Connection, int]:
        self._backoff.reset()
        attempts = 0
        while True:
            await self._clock.sleep(self._backoff.next_delay())
            attempts += 1
            try:
                conn = await self._connect()
            except BrokerUnavailableError as exc:
                log.debug("%s (attempt %d)", exc, attempts)
                continue
            try:
                await self._open_session(conn)
            except BaseException as exc:  # also on cancellation: never leak a connection
                await self._dispose(conn)
                if not isinstance(exc, BrokerUnavailableError):
                    raise
                log.debug("%s (attempt %d)", exc, attempts)
                continue
            return conn, attempts

    async def _dispose(self, conn: _Connection) -> None:
        conn.lost.set()
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError, OSError):
            await conn.client.__aexit__(None, None, None)

    # -- dispatch ----------------------------------------------------------------------------

    def _dispatch(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = bytes(message.payload) if isinstance(message.payload, bytes | bytearray) else b""
        for sub in self._matching(topic, message.properties):
            try:
                result = sub.handler(topic, payload)
            except Exception:
                log.exception("MQTT handler for %s failed on %s", sub.topic_filter, topic)
                continue
            if inspect.isawaitable(result):
                what = f"MQTT handler for {sub.topic_filter} on {topic}"
                self._spawn(_logged(result, what), f"mqtt-handler:{topic}")

    def _matching(self, topic: str, props: Properties | None) -> list[Subscription]:
        ids: list[int] = list(getattr(props, "SubscriptionIdentifier", None) or [])
        entries = [e for e in self._filters.values() if e.sub_id in ids]
        if not ids:  # a broker without subscription identifiers: match the filters ourselves
            entries = [e for f, e in self._filters.items() if aiomqtt.Topic(topic).matches(f)]
        return [sub for e in entries for sub in e.subscriptions]

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        if self._tg is None:  # only called from tasks inside the group
            coro.close()
            return
        self._tg.create_task(coro, name=name)


def tls_context(config: MqttConfig) -> ssl.SSLContext | None:
    """The TLS context for `config.tls` (None: plain TCP).  The broker's certificate is always
    verified, against `tls.ca` or the system's CAs; a missing or unreadable file is named."""
    tls = config.tls
    if tls is None:
        return None
    try:
        context = ssl.create_default_context(cafile=tls.ca)
        if tls.cert is not None:
            context.load_cert_chain(tls.cert, tls.key)
    except (OSError, ssl.SSLError) as exc:
        raise BrokerUnavailableError(
            f"MQTT broker {config.address}: TLS files (mqtt.tls): {_reason(exc)}"
        ) from None
    return context


def _code(code: int | ReasonCode) -> int:
    return code if isinstance(code, int) else int(code.value)


async def _logged(awaitable: Awaitable[None], what: str) -> None:
    """Await a handler or listener; log (never propagate) what it raises."""
    try:
        await awaitable
    except BrokerUnavailableError as exc:  # the broker went away meanwhile: not a fault here
        log.warning("%s: %s", what, exc)
    except Exception:
        log.exception("%s failed", what)

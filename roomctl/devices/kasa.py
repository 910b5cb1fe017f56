"""TP-Link Kasa bulbs, light strips, dimmers and plugs, through python-kasa.

Thin adapters: python-kasa does all protocol work.  Each driver keeps ONE long-lived
``kasa.Device`` per physical device (python-kasa serialises queries on it and reconnects its
transport by itself).  Every call into the library runs inside :meth:`_KasaLink.edge`, which
bounds it by the configured ``timeout_s`` and translates library exceptions into
:class:`DeviceUnreachable` (no answer, refused, dropped) or :class:`DeviceRejected` (the device
answered with an error), naming the device and the operation.  No library type leaves here.
Only python-kasa's own exceptions and socket errors are translated: anything else (a bug in
this driver, a value outside the library's range) leaves as it is, for the engine to log with
its traceback; it is never reported as the device refusing.  Values arrive quantized
(engine/steps.py); this driver only translates units.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Iterator
from typing import Self

from aiohttp import ClientConnectionError
from kasa import Credentials, DeviceType, Discover, KasaException, Module
from kasa import Device as KasaDevice
from kasa import DeviceConfig as KasaDeviceParams
from kasa import DeviceError as KasaDeviceError
from kasa import Light as KasaLightModule
from kasa import LightState as KasaLightState
from kasa.exceptions import SMART_RETRYABLE_ERRORS

from roomctl.devices.base import Light, Switch
from roomctl.errors import DeviceError, DeviceRejected, DeviceUnreachable
from roomctl.model.device_config import KasaDeviceConfig, KasaModel, RelayConfig
from roomctl.model.state import LightState

__all__ = ["KasaLight", "KasaSwitch"]

_LOGGER = logging.getLogger(__name__)


# Library exceptions (anywhere in the cause chain) that mean "no answer": retried by the engine.
_NO_ANSWER: tuple[type[BaseException], ...] = (
    TimeoutError,  # also asyncio's and kasa's TimeoutError
    OSError,  # refused, reset, unreachable network
    EOFError,  # asyncio.IncompleteReadError: the connection dropped mid-reply
    ClientConnectionError,  # python-kasa's HTTP transports (aiohttp): dropped, refused
)
# With credentials, start() discovers the device (UDP) before it connects.
_DISCOVERY_DEADLINE_FACTOR = 2


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it, outermost first (as a traceback would show them)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None


def _reason(exc: BaseException) -> str:
    chain = list(_causes(exc))
    outer, root = chain[0], chain[-1]
    text = str(outer) or type(outer).__name__
    if root is not outer and str(root) and str(root) not in text:
        text = f"{text} ({type(root).__name__}: {root})"
    return text


def _no_answer(exc: BaseException) -> bool:
    if isinstance(exc, _NO_ANSWER):
        return True
    # A session or transport error the library itself would retry (KLAP, SMART).
    return isinstance(exc, KasaDeviceError) and exc.error_code in SMART_RETRYABLE_ERRORS


def translate(device_id: str, operation: str, exc: BaseException) -> DeviceError:
    """The roomctl error for a library exception raised during `operation`."""
    if any(_no_answer(cause) for cause in _causes(exc)):
        return DeviceUnreachable(device_id, operation, _reason(exc))
    return DeviceRejected(device_id, operation, _reason(exc))


def _detected_model(dev: KasaDevice) -> KasaModel:
    """What the device really is, in the terms of KasaDeviceConfig.model."""
    kind = dev.device_type
    light = dev.modules.get(Module.Light)
    if kind is DeviceType.LightStrip:
        return "strip"
    if light is None or kind in (DeviceType.Plug, DeviceType.Strip):
        return "plug"
    if kind in (DeviceType.Dimmer, DeviceType.WallSwitch):
        return "dimmer"
    if light.has_feature("hsv"):
        return "color_bulb"
    if light.has_feature("color_temp"):
        return "white_bulb"
    return "dimmable_bulb"


class _KasaLink:
    """One python-kasa Device for one physical device: connect, close, and the error edge."""

    def __init__(self, config: KasaDeviceConfig) -> None:
        self.device_id = config.id
        self.config = config
        self.host, self.port = config.host.host, config.host.port
        self._dev: KasaDevice | None = None
        self._connect_lock = asyncio.Lock()

    @property
    def connected(self) -> KasaDevice | None:
        return self._dev

    @contextlib.asynccontextmanager
    async def edge(self, operation: str, *, deadline_s: float | None = None) -> AsyncIterator[None]:
        """Bound the block by the deadline and translate whatever the library raises."""
        deadline_s = deadline_s or self.config.timeout_s
        deadline = asyncio.timeout(deadline_s)
        try:
            async with deadline:
                yield
        except DeviceError:
            raise
        except (KasaException, TimeoutError) as exc:  # kasa's TimeoutError is both
            # Our own deadline, or python-kasa turning its cancellation into its own timeout.
            if not isinstance(exc, KasaException) or deadline.expired():
                reason = f"no answer from {self.config.host} within {deadline_s:g} s"
                _LOGGER.debug("Kasa %s: %s: %s", self.device_id, operation, reason)
                raise DeviceUnreachable(self.device_id, operation, reason) from exc
            raise self._translated(operation, exc) from exc
        except (OSError, EOFError) as exc:  # sockets
            raise self._translated(operation, exc) from exc

    def _translated(self, operation: str, exc: Exception) -> DeviceError:
        _LOGGER.debug("Kasa %s: %s failed: %r", self.device_id, operation, exc)
        return translate(self.device_id, operation, exc)

    async def device(self) -> KasaDevice:
        """The connected device, connecting first if start() has not succeeded yet."""
        return self._dev if self._dev is not None else await self.start()

    async def start(self) -> KasaDevice:
        """Connect once; later calls (also concurrent ones) get the same device."""
        async with self._connect_lock:
            if self._dev is not None:
                return self._dev
            factor = _DISCOVERY_DEADLINE_FACTOR if self.config.credentials else 1
            async with self.edge("connect", deadline_s=self.config.timeout_s * factor):
                dev = await self._connect()
            self._check_model(dev)
            self._dev = dev
        _LOGGER.info(
            "Kasa %s: connected to %s %r at %s", self.device_id, dev.model, dev.alias, self.address
        )
        return dev

    async def _connect(self) -> KasaDevice:
        # python-kasa's per-attempt timeout is whole seconds; edge() enforces timeout_s itself.
        timeout = max(1, math.ceil(self.config.timeout_s))
        creds = self.config.credentials
        if creds is None:
            params = KasaDeviceParams(host=self.host, port_override=self.port, timeout=timeout)
            return await KasaDevice.connect(config=params)
        # KLAP and other authenticated transports: discovery tells which one the device speaks.
        dev = await Discover.discover_single(
            self.host,
            port=self.port,
            timeout=timeout,
            discovery_timeout=timeout,
            credentials=Credentials(creds.username, creds.password.get_secret_value()),
        )
        if dev is None:
            raise DeviceUnreachable(self.device_id, "connect", f"nothing found at {self.address}")
        try:
            await dev.update()
        except BaseException:
            await dev.disconnect()
            raise
        return dev

    def _check_model(self, dev: KasaDevice) -> None:
        """Warn only when a configured model contradicts the device; without one, the device
        says what it is (logged at debug)."""
        detected = _detected_model(dev)
        if self.config.model is None:
            _LOGGER.debug(
                "Kasa %s: the device at %s is a %s", self.device_id, self.address, detected
            )
        elif detected != self.config.model:
            _LOGGER.warning(
                "Kasa %s: configured as %s, but the %s at %s is a %s; using what it can do",
                self.device_id,
                self.config.model,
                dev.model,
                self.address,
                detected,
            )

    async def close(self) -> None:
        dev, self._dev = self._dev, None
        if dev is None:
            return
        try:
            await dev.disconnect()
        except Exception:  # close() never raises
            _LOGGER.debug("Kasa %s: error while disconnecting", self.device_id, exc_info=True)

    @property
    def address(self) -> str:
        return str(self.config.host)


def _light_module(dev: KasaDevice) -> KasaLightModule | None:
    return dev.modules.get(Module.Light)


class KasaLight(Light):
    """A Kasa bulb, light strip or dimmer (a plug configured as a light switches on/off)."""

    def __init__(self, config: KasaDeviceConfig) -> None:
        super().__init__(config.id)
        self.config = config
        self._link = _KasaLink(config)

    async def start(self) -> None:
        await self._link.start()

    async def close(self) -> None:
        await self._link.close()

    def describe(self) -> str:
        dev = self._link.connected
        model = _detected_model(dev) if dev is not None else self.config.model or "light"
        return f"{self.device_id}: Kasa {model} at {self._link.address}"

    @property
    def supports_color_temp(self) -> bool:
        """From the device once connected; from the configured model before."""
        return self._has("color_temp", self.config.has_color_temp)

    @property
    def supports_hue(self) -> bool:
        return self._has("hsv", self.config.has_hue)

    @property
    def color_temp_range_k(self) -> tuple[int, int] | None:
        """The device's colour-temperature range (None before start or without one)."""
        dev = self._link.connected
        light = _light_module(dev) if dev is not None else None
        feature = light.get_feature("color_temp") if light is not None else None
        return None if feature is None else (feature.minimum_value, feature.maximum_value)

    @property
    def brightness_levels(self) -> int:
        """100 (whole percent); 1 for a device without brightness (a plug: on is full)."""
        dev = self._link.connected
        if dev is None:
            return 100
        light = _light_module(dev)
        return 100 if light is not None and light.has_feature("brightness") else 1

    def _has(self, feature: str, configured: bool) -> bool:
        dev = self._link.connected
        if dev is None:
            return configured
        light = _light_module(dev)
        return light is not None and light.has_feature(feature)

    async def set_light(self, state: LightState, transition_s: float) -> None:
        """One request: colour temperature or HSV together with brightness, faded natively."""
        dev = await self._link.device()
        transition_ms = max(0, round(transition_s * 1000))
        async with self._link.edge("set_light"):
            light = _light_module(dev)
            if light is None:
                await dev.set_state(state.on)
            elif not state.on:
                await light.set_state(KasaLightState(light_on=False, transition=transition_ms))
            else:
                await self._show(light, state, transition_ms)

    async def _show(self, light: KasaLightModule, state: LightState, transition_ms: int) -> None:
        brightness = None  # whole percent: python-kasa's unit
        if state.brightness_pct is not None and light.has_feature("brightness"):
            brightness = round(state.brightness_pct)
        if state.color_temp_k is not None and light.has_feature("color_temp"):
            await light.set_color_temp(
                state.color_temp_k, brightness=brightness, transition=transition_ms
            )
        elif state.hue is not None and light.has_feature("hsv"):
            saturation = 100 if state.saturation is None else round(state.saturation)
            await light.set_hsv(round(state.hue), saturation, brightness, transition=transition_ms)
        elif brightness is not None:
            await light.set_brightness(brightness, transition=transition_ms)
        else:
            await light.set_state(KasaLightState(light_on=True, transition=transition_ms))

    async def read_light(self) -> LightState:
        """Fresh from the device (update() first); mid-fade it shows the intermediate values."""
        dev = await self._link.device()
        async with self._link.edge("read_light"):
            await dev.update()
            light = _light_module(dev)
            if light is None:
                return LightState(on=dev.is_on, brightness_pct=100.0 if dev.is_on else None)
            return self._reading(light)

    @staticmethod
    def _reading(light: KasaLightModule) -> LightState:
        now = light.state
        if not now.light_on:
            return LightState(on=False)
        brightness = float(now.brightness) if now.brightness is not None else None
        if light.has_feature("color_temp") and now.color_temp:  # 0 means colour mode
            return LightState(on=True, brightness_pct=brightness, color_temp_k=now.color_temp)
        if light.has_feature("hsv") and now.hue is not None and now.saturation is not None:
            return LightState(
                on=True,
                brightness_pct=brightness,
                hue=float(now.hue),
                saturation=float(now.saturation),
            )
        return LightState(on=True, brightness_pct=brightness)


class KasaSwitch(Switch):
    """A Kasa plug: a lamp on a socket, or a heater relay."""

    def __init__(self, config: KasaDeviceConfig) -> None:
        super().__init__(config.id)
        self.config = config
        self._link = _KasaLink(config)

    @classmethod
    def for_relay(
        cls, device_id: str, zone: str, relay: RelayConfig, *, timeout_s: float = 5.0
    ) -> Self:
        """A relay thermostat's heater plug (``heater: {type: kasa, host: ...}``)."""
        if relay.type != "kasa" or relay.host is None:
            raise ValueError(f"{device_id}: relay of type {relay.type!r} is not a Kasa plug")
        config = KasaDeviceConfig(
            id=device_id,
            zone=zone,
            driver="kasa",
            host=relay.host,
            model="plug",
            timeout_s=timeout_s,
        )
        return cls(config)

    async def start(self) -> None:
        await self._link.start()

    async def close(self) -> None:
        await self._link.close()

    def describe(self) -> str:
        return f"{self.device_id}: Kasa plug at {self._link.address}"

    async def set_on(self, on: bool) -> None:
        dev = await self._link.device()
        async with self._link.edge("set_on" if on else "set_off"):
            await dev.set_state(on)

    async def read_on(self) -> bool:
        dev = await self._link.device()
        async with self._link.edge("read_on"):
            await dev.update()
            return dev.is_on

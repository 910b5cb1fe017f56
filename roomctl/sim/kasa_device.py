"""An emulated Kasa IOT device: its state, its sysinfo, and its answer to each command.

No I/O here: :meth:`EmulatedKasaDevice.handle` turns one decoded request into one response.
Modules the model lacks answer ``{"err_code": -1, "err_msg": "module not support"}``, unknown
commands of a known module ``-2 "member not support"``, bad values ``-3``.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roomctl.sim.kasa_lamp import Lamp, LampReading
from roomctl.sim.kasa_profiles import (
    CLOUD_INFO,
    DIMMER_BEHAVIOR,
    DIMMER_PARAMETERS,
    PROFILES,
    TIMEZONE_INDEX_UTC,
    Model,
    device_time,
)
from roomctl.sim.kasa_protocol import is_setter

__all__ = [
    "ERR_INVALID_ARGUMENT",
    "ERR_MEMBER_NOT_SUPPORTED",
    "ERR_MODULE_NOT_SUPPORTED",
    "CommandRecord",
    "EmulatedKasaDevice",
]

Params = dict[str, Any]
Handler = Callable[[Params], Params]

ERR_MODULE_NOT_SUPPORTED = -1
ERR_MEMBER_NOT_SUPPORTED = -2
ERR_INVALID_ARGUMENT = -3
_PRESET_LEVELS = (100, 75, 50, 25)


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """One setter the device received; `t` is the emulator's clock, err_code 0 if applied."""

    t: float
    target: str
    command: str
    params: Params
    err_code: int


class _RejectedError(Exception):
    def __init__(self, err_code: int, err_msg: str) -> None:
        super().__init__(err_msg)
        self.err_code = err_code
        self.err_msg = err_msg


def _error(err_code: int, err_msg: str) -> Params:
    return {"err_code": err_code, "err_msg": err_msg}


def _int_param(params: Params, key: str, low: int, high: int) -> int | None:
    if key not in params:
        return None
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _RejectedError(ERR_INVALID_ARGUMENT, f"invalid argument {key}={value!r}")
    return value


def _required(params: Params, key: str, low: int, high: int) -> int:
    value = _int_param(params, key, low, high)
    if value is None:
        raise _RejectedError(ERR_INVALID_ARGUMENT, f"missing argument {key}")
    return value


class EmulatedKasaDevice:
    """The state and command handlers of one emulated device."""

    def __init__(self, model: Model, *, alias: str, time_fn: Callable[[], float]) -> None:
        self.model: Model = model
        self.profile = PROFILES[model]
        self.alias = alias
        self.led_off = 0
        self.commands: list[CommandRecord] = []
        self._time = time_fn
        digest = hashlib.sha256(f"{model}/{alias}".encode()).hexdigest().upper()
        self._mac = "50:C7:BF:" + ":".join(digest[i : i + 2] for i in range(0, 6, 2))
        self._device_id = digest[:40]
        self._relay_on = True
        self._on_since = time_fn()
        self.lamp: Lamp | None = None
        if self.profile.kind != "plug":
            ct = 2700 if self.profile.color_temp_range else 0
            self.lamp = Lamp(time_fn, on=True, brightness=50, color_temp=ct)
        self._modules = self._module_table()

    @property
    def state(self) -> dict[str, Any]:
        """What the device reports now: on, brightness, color_temp, hue, saturation, fading.

        Channels the model lacks are None; an off light reports the brightness it returns to.
        """
        if self.lamp is None:
            none = dict.fromkeys(("brightness", "color_temp", "hue", "saturation"))
            return {"on": self._relay_on, **none, "fading": False}
        now = self.lamp.read()
        colour = self.profile.is_color
        return {
            "on": now.lit,
            "brightness": now.brightness,
            "color_temp": now.color_temp if self.profile.color_temp_range else None,
            "hue": now.hue if colour else None,
            "saturation": now.saturation if colour else None,
            "fading": self.lamp.fading(),
        }

    # -- requests ----------------------------------------------------------------------------

    def handle(self, request: Params, *, reject_setters: int | None = None) -> Params:
        """Answer one request; with `reject_setters`, setters fail with that err_code."""
        response: Params = {}
        for target, commands in request.items():
            if target == "context":  # child ids: the emulated devices have no children
                continue
            module = self._modules.get(target)
            if module is None or not isinstance(commands, dict):
                response[target] = _error(ERR_MODULE_NOT_SUPPORTED, "module not support")
                continue
            response[target] = {
                command: self._run(target, module.get(command), command, params, reject_setters)
                for command, params in commands.items()
            }
        return response

    def _run(
        self,
        target: str,
        handler: Handler | None,
        command: str,
        params: Any,
        reject_setters: int | None,
    ) -> Params:
        params = params if isinstance(params, dict) else {}
        if handler is None:
            result = _error(ERR_MEMBER_NOT_SUPPORTED, "member not support")
        elif reject_setters is not None and is_setter(command):
            result = _error(reject_setters, "command rejected")
        else:
            try:
                result = {**handler(params), "err_code": 0}
            except _RejectedError as exc:
                result = _error(exc.err_code, exc.err_msg)
        if is_setter(command):
            record = CommandRecord(self._time(), target, command, params, result["err_code"])
            self.commands.append(record)
        return result

    def _module_table(self) -> dict[str, dict[str, Handler]]:
        rules: dict[str, Handler] = {
            "get_rules": lambda _: {"rule_list": [], "enable": 0, "version": 2},
            "get_next_action": lambda _: {"type": -1},
        }
        stats: dict[str, Handler] = {
            "get_daystat": lambda _: {"day_list": []},
            "get_monthstat": lambda _: {"month_list": []},
        }
        emeter: dict[str, Handler] = {"get_realtime": self._realtime, **stats}
        clock: dict[str, Handler] = {
            "get_time": lambda _: device_time(),
            "get_timezone": lambda _: {"index": TIMEZONE_INDEX_UTC},
        }
        cloud: dict[str, Handler] = {"get_info": lambda _: copy.deepcopy(CLOUD_INFO)}
        system: dict[str, Handler] = {
            "get_sysinfo": lambda _: self._sysinfo(),
            "set_dev_alias": self._set_alias,
        }
        if self.profile.kind in ("bulb", "strip"):
            return {
                "system": system,
                "smartlife.iot.common.system": {"set_dev_alias": self._set_alias},
                self.profile.service: {
                    self.profile.light_setter: self._set_light_state,
                    "get_light_state": lambda _: self._light_state(),
                },
                "smartlife.iot.common.emeter": emeter,
                "smartlife.iot.common.schedule": rules | stats,
                "smartlife.iot.common.timesetting": clock,
                "smartlife.iot.common.cloud": cloud,
            }
        system |= {"set_relay_state": self._set_relay_state, "set_led_off": self._set_led_off}
        table = {
            "system": system,
            "schedule": rules | stats,
            "anti_theft": rules,
            "time": clock,
            "cnCloud": cloud,
        }
        if self.profile.kind == "dimmer":
            table["smartlife.iot.dimmer"] = {
                "set_dimmer_transition": self._set_dimmer_transition,
                "set_brightness": self._set_dimmer_brightness,
                "get_dimmer_parameters": lambda _: copy.deepcopy(DIMMER_PARAMETERS),
                "get_default_behavior": lambda _: copy.deepcopy(DIMMER_BEHAVIOR),
            }
        if self.profile.has_emeter:
            table["emeter"] = emeter
        return table

    # -- sysinfo -----------------------------------------------------------------------------

    def _sysinfo(self) -> Params:
        info: Params = {
            "sw_ver": self.profile.sw_ver,
            "hw_ver": "1.0",
            "model": self.profile.model,
            "alias": self.alias,
            "deviceId": self._device_id,
            "oemId": self._device_id[:32],
            "hwId": self._device_id[8:40],
            "rssi": -48,
            "latitude_i": 0,
            "longitude_i": 0,
        }
        if self.profile.kind in ("bulb", "strip"):
            return info | self._bulb_sysinfo()
        return info | self._switch_sysinfo()

    def _bulb_sysinfo(self) -> Params:
        ct_range = self.profile.color_temp_range
        preset_ct = ct_range[0] if ct_range else 0
        info: Params = {
            "mic_type": "IOT.SMARTBULB",
            "mic_mac": self._mac.replace(":", ""),
            "description": self.profile.description,
            "dev_state": "normal",
            "is_factory": False,
            "disco_ver": "1.0",
            "ctrl_protocols": {"name": "Linkie", "version": "1.0"},
            "active_mode": "none",
            "is_dimmable": 1,
            "is_color": int(self.profile.is_color),
            "is_variable_color_temp": int(ct_range is not None),
            "light_state": self._light_state(),
            "preferred_state": [
                {"index": i, "hue": 0, "saturation": 0, "color_temp": preset_ct, "brightness": b}
                for i, b in enumerate(_PRESET_LEVELS)
            ],
        }
        if self.profile.kind == "strip":
            info["length"] = 16
            effect = {"enable": 0, "name": "", "brightness": 100, "custom": 0, "id": ""}
            info["lighting_effect_state"] = effect
        return info

    def _switch_sysinfo(self) -> Params:
        on = self._is_on()
        info: Params = {
            "mic_type": "IOT.SMARTPLUGSWITCH",
            "mac": self._mac,
            "dev_name": self.profile.description,
            "relay_state": int(on),
            "on_time": int(self._time() - self._on_since) if on else 0,
            "active_mode": "none",
            "feature": "TIM:ENE" if self.profile.has_emeter else "TIM",
            "updating": 0,
            "icon_hash": "",
            "led_off": self.led_off,
            "next_action": {"type": -1},
        }
        if self.lamp is not None:  # the dimmer
            info["brightness"] = self.lamp.read().brightness
            info["preferred_state"] = [
                {"index": i, "brightness": b} for i, b in enumerate(_PRESET_LEVELS)
            ]
        return info

    def _light_state(self, reading: LampReading | None = None) -> Params:
        now = reading or self._require_lamp().read()
        ct = now.color_temp if self.profile.color_temp_range else 0
        hue, saturation = (now.hue, now.saturation) if self.profile.is_color else (0, 0)
        channels = {
            "mode": "normal",
            "hue": hue,
            "saturation": saturation,
            "color_temp": ct,
            "brightness": now.brightness,
        }
        if now.lit:
            return {"on_off": 1, **channels}
        return {"on_off": 0, "dft_on_state": channels}

    def _is_on(self) -> bool:
        return self.lamp.read().lit if self.lamp is not None else self._relay_on

    def _require_lamp(self) -> Lamp:
        if self.lamp is None:
            raise _RejectedError(ERR_MEMBER_NOT_SUPPORTED, "member not support")
        return self.lamp

    # -- setters -----------------------------------------------------------------------------

    def _set_light_state(self, params: Params) -> Params:
        """Bulbs' transition_light_state and strips' set_light_state; answers the target."""
        lamp = self._require_lamp()
        on_off = _int_param(params, "on_off", 0, 1)
        brightness = _int_param(params, "brightness", 0, 100)
        transition_ms = _int_param(params, "transition_period", 0, 3_600_000) or 0
        changes = self._color_changes(params)
        on = None if on_off is None else bool(on_off)
        if brightness == 0:
            on = False
        elif brightness is not None:
            changes["brightness"] = brightness
        lamp.command(on=on, changes=changes, transition_s=transition_ms / 1000)
        return self._light_state(LampReading(lit=lamp.on, **lamp.settings()))

    def _color_changes(self, params: Params) -> dict[str, int]:
        changes: dict[str, int] = {}
        ct_range = self.profile.color_temp_range
        ct = _int_param(params, "color_temp", 0, 20_000)
        if ct and (ct_range is None or not ct_range[0] <= ct <= ct_range[1]):
            raise _RejectedError(ERR_INVALID_ARGUMENT, f"invalid argument color_temp={ct}")
        if ct is not None and ct_range is not None:
            changes["color_temp"] = ct
        hue = _int_param(params, "hue", 0, 360)
        saturation = _int_param(params, "saturation", 0, 100)
        if not self.profile.is_color:
            if hue or saturation:
                raise _RejectedError(ERR_INVALID_ARGUMENT, "invalid argument: no colour")
            return changes
        if hue is not None:
            changes["hue"] = hue
        if saturation is not None:
            changes["saturation"] = saturation
        return changes

    def _set_dimmer_transition(self, params: Params) -> Params:
        lamp = self._require_lamp()
        brightness = _required(params, "brightness", 0, 100)
        transition_s = _required(params, "duration", 1, 3_600_000) / 1000
        if brightness == 0:
            lamp.command(on=False, changes={}, transition_s=transition_s)
        else:
            self._note_on()
            lamp.command(on=True, changes={"brightness": brightness}, transition_s=transition_s)
        return {}

    def _set_dimmer_brightness(self, params: Params) -> Params:
        brightness = _required(params, "brightness", 1, 100)
        self._require_lamp().command(on=None, changes={"brightness": brightness}, transition_s=0)
        return {}

    def _set_relay_state(self, params: Params) -> Params:
        on = bool(_required(params, "state", 0, 1))
        if on:
            self._note_on()
        if self.lamp is not None:
            self.lamp.command(on=on, changes={}, transition_s=0)
        else:
            self._relay_on = on
        return {}

    def _note_on(self) -> None:
        if not self._is_on():
            self._on_since = self._time()

    def _set_led_off(self, params: Params) -> Params:
        self.led_off = _required(params, "off", 0, 1)
        return {}

    def _set_alias(self, params: Params) -> Params:
        alias = params.get("alias")
        if not isinstance(alias, str) or not alias:
            raise _RejectedError(ERR_INVALID_ARGUMENT, "missing argument alias")
        self.alias = alias
        return {}

    # -- queries -----------------------------------------------------------------------------

    def _realtime(self, _: Params) -> Params:
        scale = self.lamp.read().brightness / 100 if self.lamp is not None else 1.0
        power_mw = round(self.profile.power_w * 1000 * scale) if self._is_on() else 0
        if self.profile.kind != "plug":
            return {"power_mw": power_mw}
        current_ma = round(power_mw / 230)
        return {
            "voltage_mv": 230_000,
            "current_ma": current_ma,
            "power_mw": power_mw,
            "total_wh": 0,
        }

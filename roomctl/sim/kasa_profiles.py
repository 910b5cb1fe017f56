"""The hardware the Kasa emulator can be: model names, capabilities and fixed answers.

The shapes follow what python-kasa reads from real KL130 / KL120 / KL110 bulbs, the KL430 strip,
the HS220 dimmer and the HS103 / KP115 plugs; the values are this project's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "CLOUD_INFO",
    "DIMMER_BEHAVIOR",
    "DIMMER_PARAMETERS",
    "PROFILES",
    "TIMEZONE_INDEX_UTC",
    "Kind",
    "Model",
    "Profile",
    "device_time",
]

Model = Literal[
    "color_bulb", "white_bulb", "dimmable_bulb", "strip", "dimmer", "plug", "plug_energy"
]
Kind = Literal["bulb", "strip", "dimmer", "plug"]

_BULB_FW = "1.8.11 Build 191113 Rel.105336"


@dataclass(frozen=True, slots=True)
class Profile:
    """What one hardware model is and can do."""

    kind: Kind
    model: str
    description: str
    sw_ver: str = _BULB_FW
    is_color: bool = False
    color_temp_range: tuple[int, int] | None = None
    has_emeter: bool = False
    power_w: float = 10.0  # at full brightness, or the load on a plug

    @property
    def service(self) -> str:
        """The light service module of a bulb or strip."""
        return "smartlife.iot.lightStrip" if self.kind == "strip" else _BULB_SERVICE

    @property
    def light_setter(self) -> str:
        return "set_light_state" if self.kind == "strip" else "transition_light_state"


_BULB_SERVICE = "smartlife.iot.smartbulb.lightingservice"

PROFILES: dict[Model, Profile] = {
    "color_bulb": Profile(
        "bulb",
        "KL130(EU)",
        "Smart Wi-Fi LED Bulb with Color Changing",
        is_color=True,
        color_temp_range=(2500, 9000),
        has_emeter=True,
    ),
    "white_bulb": Profile(
        "bulb",
        "KL120(EU)",
        "Smart Wi-Fi LED Bulb with Tunable White Light",
        color_temp_range=(2700, 6500),
        has_emeter=True,
    ),
    "dimmable_bulb": Profile(
        "bulb", "KL110(EU)", "Smart Wi-Fi LED Bulb with Dimmable Light", has_emeter=True
    ),
    "strip": Profile(
        "strip",
        "KL430(US)",
        "Kasa Smart Light Strip, Multicolor",
        "1.0.10 Build 200522 Rel.104340",
        is_color=True,
        color_temp_range=(2500, 9000),
        has_emeter=True,
        power_w=12.0,
    ),
    "dimmer": Profile(
        "dimmer", "HS220(US)", "Smart Wi-Fi Dimmer", "1.5.7 Build 180912 Rel.104837", power_w=60.0
    ),
    "plug": Profile(
        "plug", "HS103(US)", "Smart Wi-Fi Plug Lite", "1.0.17 Build 200529 Rel.151224", power_w=60.0
    ),
    "plug_energy": Profile(
        "plug",
        "KP115(EU)",
        "Smart Wi-Fi Plug Mini",
        "1.0.16 Build 210205 Rel.163735",
        has_emeter=True,
        power_w=1500.0,
    ),
}

TIMEZONE_INDEX_UTC = 40  # Africa/Monrovia: UTC all year

CLOUD_INFO: dict[str, Any] = {
    "username": "",
    "server": "n-devs.tplinkcloud.com",
    "binded": 0,
    "cld_connection": 0,
    "illegalType": -1,
    "stopConnect": -1,
    "tcspStatus": -1,
    "fwDlPage": "",
    "tcspInfo": "",
    "fwNotifyType": 0,
}

DIMMER_PARAMETERS: dict[str, Any] = {
    "minThreshold": 11,
    "fadeOnTime": 0,
    "fadeOffTime": 0,
    "gentleOnTime": 3000,
    "gentleOffTime": 10000,
    "rampRate": 30,
    "bulb_type": 1,
}

DIMMER_BEHAVIOR: dict[str, Any] = {
    "long_press": {"mode": "instant_on_off"},
    "double_click": {"mode": "gentle_on_off"},
    "hard_on": {"mode": "last_status"},
    "soft_on": {"mode": "last_status"},
}


def device_time() -> dict[str, Any]:
    """The answer to get_time: the device clock, in the UTC zone of TIMEZONE_INDEX_UTC."""
    now = datetime.now(UTC)
    return {
        "year": now.year,
        "month": now.month,
        "mday": now.day,
        "hour": now.hour,
        "min": now.minute,
        "sec": now.second,
    }

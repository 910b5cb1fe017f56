"""The room's configuration: devices (their models in `device_config`), zones, safety limits,
storage, MQTT and web settings.

All models are frozen and forbid unknown keys, so a typo is an error, not a silent default.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator

from roomctl.model.address import HostPort, HostPortField
from roomctl.model.device_config import (
    DeviceConfig,
    DeviceKind,
    Frozen,
    Ident,
    KasaCredentials,
    KasaDeviceConfig,
    RelayThermostatConfig,
    SonosDeviceConfig,
    Z2MLightConfig,
    Z2MThermostatConfig,
)

__all__ = [
    "ClockConfig",
    "DeviceConfig",
    "DeviceKind",
    "EmergencyConfig",
    "EngineConfig",
    "FadeLimits",
    "HeatConfig",
    "HostPort",
    "IdleConfig",
    "KasaCredentials",
    "KasaDeviceConfig",
    "MqttConfig",
    "MqttTls",
    "MusicConfig",
    "MusicSourceConfig",
    "RelayThermostatConfig",
    "RoomConfig",
    "RoomInfo",
    "SafetyConfig",
    "SonosDeviceConfig",
    "StorageConfig",
    "TemperatureBand",
    "WebConfig",
    "Z2MLightConfig",
    "Z2MThermostatConfig",
]

class RoomInfo(Frozen):
    id: Ident
    name: str = Field(min_length=1)


class TemperatureBand(Frozen):
    min: float = Field(ge=10, le=30)
    max: float = Field(ge=10, le=30)

    @model_validator(mode="after")
    def _ordered(self) -> TemperatureBand:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class FadeLimits(Frozen):
    """The shortest fades allowed (seconds); only an emergency changes faster."""

    light_s: float = Field(default=30, ge=0, le=3600)
    audio_s: float = Field(default=5, ge=0, le=3600)


class EmergencyConfig(Frozen):
    """What the emergency layer shows: bright neutral light, music paused."""

    brightness_pct: float = Field(default=100, ge=1, le=100)
    color_temp_k: int = Field(default=4000, ge=2000, le=6500)
    clear_fade_s: float = Field(default=60, ge=0, le=3600)


class IdleConfig(Frozen):
    """The safe light with no session: every light goes to it (over `fade_s`) when the daemon
    starts without a session and when it stops with none running.  Never dark: it is at least
    the session floor (`min_brightness_pct`)."""

    brightness_pct: float = Field(default=30, ge=1, le=100)
    color_temp_k: int = Field(default=2700, ge=2000, le=6500)
    fade_s: float = Field(default=10, ge=0, le=600)
    on_start: bool = True
    on_stop: bool = True


class SafetyConfig(Frozen):
    """Limits that nothing but the emergency layer may cross."""

    min_brightness_pct: float = Field(default=5.0, ge=1, le=50)
    # Lights that never go below min_brightness_pct or off during a session.
    # Default: the first light.
    floor_lights: tuple[Ident, ...] = ()
    max_volume: int = Field(default=60, ge=0, le=100)
    max_volume_rise_per_10s: float = Field(default=6, gt=0, le=100)
    temperature_c: TemperatureBand = TemperatureBand(min=18, max=24)
    min_fade: FadeLimits = FadeLimits()
    emergency: EmergencyConfig = EmergencyConfig()
    idle: IdleConfig = IdleConfig()

    @model_validator(mode="after")
    def _idle_not_dark(self) -> SafetyConfig:
        if self.idle.brightness_pct < self.min_brightness_pct:
            raise ValueError(
                f"idle.brightness_pct ({self.idle.brightness_pct:g}) is below "
                f"min_brightness_pct ({self.min_brightness_pct:g}): the safe light is never "
                "dimmer than the session floor"
            )
        return self


Tag = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]


class MusicSourceConfig(Frozen):
    """A source the room's music comes from, with tags that client preferences can rule out:
    `{favorite: "Peak", tags: {vocals: true, nature: false}}`.  A source carries a tag when the
    tag is true; a tag it does not name, it does not carry."""

    favorite: str | None = None
    playlist: str | None = None
    uri: str | None = None
    tags: dict[Tag, bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> MusicSourceConfig:
        given = [k for k in ("favorite", "playlist", "uri") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give one of favorite, playlist or uri"
                + (f", not {' and '.join(given)}" if given else "")
            )
        return self

    @property
    def kind(self) -> Literal["favorite", "playlist", "uri"]:
        return "favorite" if self.favorite else "playlist" if self.playlist else "uri"

    @property
    def name(self) -> str:
        return self.favorite or self.playlist or self.uri or ""

    @property
    def carried(self) -> frozenset[str]:
        """The tags this source carries."""
        return frozenset(t for t, on in self.tags.items() if on)


class MusicConfig(Frozen):
    """The room's music sources and their tags; where a client's headphones play."""

    sources: tuple[MusicSourceConfig, ...] = ()
    # A player zone for the client's headphones: a session with headphones plays there.
    headphones_zone: Ident | None = None

    @model_validator(mode="after")
    def _unique(self) -> MusicConfig:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"music source {', '.join(map(repr, dupes))} is listed twice")
        return self

    def source(self, name: str) -> MusicSourceConfig | None:
        """The configured source of this name (a favourite, playlist or URI), if any."""
        return next((s for s in self.sources if s.name == name), None)


class HeatConfig(Frozen):
    """The room's answer to heat: while a session's heat alert is on (the room above the arc's
    `heat_alert_c`, else the safety maximum), the `cooling` switches (a fan on a Kasa plug) are
    on and every thermostat is at the band's minimum; the alert clears once the room has been
    back under the threshold for `clear_after_s`."""

    cooling: tuple[Ident, ...] = ()
    clear_after_s: float = Field(default=300, ge=0, le=3600)


class StorageConfig(Frozen):
    path: str = "roomctl.db"
    # Sessions that ended longer ago than this are deleted for good (a daily job, audited);
    # null keeps them forever.  Default: five years.
    retention_days: int | None = Field(default=1826, ge=1, le=36500)


class MqttTls(Frozen):
    """TLS to the broker: `ca` verifies the broker's certificate (the system's CAs when left
    out); `cert` and `key` are this client's own certificate, for brokers that ask for one."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @model_validator(mode="after")
    def _pair(self) -> MqttTls:
        if (self.cert is None) != (self.key is None):
            raise ValueError("give both cert and key, or neither")
        return self


Topic = Annotated[str, Field(pattern=r"^[^#+/\s][^#+\s]*[^#+/\s]$|^[^#+/\s]$")]


class MqttConfig(Frozen):
    """The broker: `host` may carry the port (`broker.local:1884`); else `port` applies."""

    host: HostPortField = HostPort("127.0.0.1")
    port: int = Field(default=1883, gt=0, lt=65536)
    username: str | None = None
    password: SecretStr | None = None
    tls: MqttTls | None = None
    base_topic: Topic = "roomctl"  # the room's topics: <base_topic>/<room id>/...
    discovery_prefix: Topic = "homeassistant"  # Home Assistant's discovery prefix
    discovery: bool = True  # announce the room to Home Assistant
    keepalive_s: int = Field(default=30, ge=5, le=600)

    @model_validator(mode="after")
    def _one_port(self) -> MqttConfig:
        given = self.host.port
        if given is not None and "port" in self.model_fields_set and given != self.port:
            raise ValueError(f"two ports: host {self.host} and port {self.port}; give one")
        return self

    @property
    def address(self) -> HostPort:
        """The broker's host and port (from `host`, else `port`)."""
        return HostPort(self.host.host, self.host.port_or(self.port))


class WebConfig(Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, gt=0, lt=65536)


class EngineConfig(Frozen):
    """How roomctl drives the devices."""

    # A device at rest is read every few seconds for its health; those readings also show
    # changes made at a wall switch or in the Sonos app, and it is read at least this often for
    # them (0: never look for manual changes).  With adopt_manual_changes a change that differs
    # from everything roomctl sent becomes a manual override.
    readback_s: float = Field(default=30, ge=0, le=3600)
    adopt_manual_changes: bool = True
    # A light far off its curve (first contact, back from an outage) gets there over this long.
    catch_up_s: float = Field(default=10, ge=0, le=600)


class ClockConfig(Frozen):
    """A faster clock for demonstrations and rehearsals: session time `start` at real time
    `anchor` (epoch seconds), running `speed` times faster.  Leave out for real sessions."""

    speed: float = Field(ge=1, le=10000)
    start: float
    anchor: float


class RoomConfig(Frozen):
    room: RoomInfo
    devices: tuple[DeviceConfig, ...] = ()
    # Zones that scenes may address although no device of this room is in them (e.g. "accent").
    zones: tuple[Ident, ...] = ()
    safety: SafetyConfig = SafetyConfig()
    music: MusicConfig = MusicConfig()
    heat: HeatConfig = HeatConfig()
    storage: StorageConfig = StorageConfig()
    mqtt: MqttConfig | None = None
    web: WebConfig = WebConfig()
    scenes_dir: str = "scenes"
    engine: EngineConfig = EngineConfig()
    clock: ClockConfig | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> RoomConfig:
        seen: set[str] = set()
        for dev in self.devices:
            if dev.id in seen:
                raise ValueError(f"device id {dev.id!r} is used twice")
            seen.add(dev.id)
        for fan in self.heat.cooling:
            kinds = {d.id: d.kind for d in self.devices}
            if fan not in kinds:
                raise ValueError(f"heat.cooling: no device {fan!r}; devices: {', '.join(kinds)}")
            if kinds[fan] is not DeviceKind.SWITCH:
                hint = ""
                dev = self.device(fan)
                if isinstance(dev, KasaDeviceConfig) and dev.model is None:
                    hint = " (a Kasa plug without `model: plug` is driven as an on/off light)"
                raise ValueError(
                    f"heat.cooling: {fan!r} is a {kinds[fan].value}, not a switch{hint}"
                )
        zone = self.music.headphones_zone
        if zone is not None:
            players = sorted({d.zone for d in self.devices if d.kind is DeviceKind.PLAYER})
            if zone not in players:
                raise ValueError(
                    f"music.headphones_zone {zone!r} holds no player; "
                    f"player zones: {', '.join(players) or 'none'}"
                )
        return self

    def device(self, device_id: str) -> DeviceConfig:
        for dev in self.devices:
            if dev.id == device_id:
                return dev
        raise KeyError(device_id)

    def zone_members(self, zone: str) -> list[DeviceConfig]:
        return [d for d in self.devices if d.zone == zone]

    @property
    def all_zones(self) -> set[str]:
        return {d.zone for d in self.devices} | set(self.zones)

    @property
    def floor_light_ids(self) -> tuple[str, ...]:
        if self.safety.floor_lights:
            return self.safety.floor_lights
        lights = [d.id for d in self.devices if d.kind is DeviceKind.LIGHT]
        return tuple(lights[:1])

    @property
    def needs_mqtt(self) -> bool:
        for d in self.devices:
            if isinstance(d, Z2MLightConfig | Z2MThermostatConfig):
                return True
            if isinstance(d, RelayThermostatConfig):
                return True
        return False

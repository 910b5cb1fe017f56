"""The UPnP documents a Sonos speaker serves: services and their SCPDs, SOAP envelopes and faults,
the device description and the ZoneGroupState topology.

SoCo fetches an SCPD only for calls it makes without an argument list (GetHouseholdID,
GetZoneGroupState), but every service gets one so generic UPnP tools work too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "SERVICES",
    "ActionSpec",
    "DeviceIdentity",
    "ServiceSpec",
    "SoapCall",
    "UpnpError",
    "ZoneMember",
    "device_description",
    "parse_soap",
    "scpd",
    "service_by_control_url",
    "soap_fault",
    "soap_response",
    "zone_group_state",
]

_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="utf-8"?>'
    f'<s:Envelope xmlns:s="{_SOAP_ENV}" '
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
)
_ENVELOPE_CLOSE = "</s:Body></s:Envelope>"

# Descriptions of the UPnP error codes a test or a fault injection is likely to use.
UPNP_ERROR_TEXT = {
    401: "Invalid Action",
    402: "Invalid Args",
    501: "Action Failed",
    701: "Transition not available",
    711: "Illegal seek target",
    714: "Illegal MIME-type",
    800: "Command not supported on a group member",
}


class UpnpError(Exception):
    """Raised by an action handler; answered as HTTP 500 with a UPnP fault."""

    def __init__(self, code: int, description: str = "") -> None:
        self.code = code
        self.description = description or UPNP_ERROR_TEXT.get(code, "")
        super().__init__(f"UPnP error {code} {self.description}".strip())


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    control_url: str
    actions: dict[str, ActionSpec]

    @property
    def service_type(self) -> str:
        return f"urn:schemas-upnp-org:service:{self.name}:1"

    @property
    def scpd_url(self) -> str:
        return f"/xml/{self.name}1.xml"


def _service(name: str, control_url: str, *actions: ActionSpec) -> ServiceSpec:
    return ServiceSpec(name, control_url, {a.name: a for a in actions})


def _a(name: str, inputs: str = "", outputs: str = "") -> ActionSpec:
    return ActionSpec(name, tuple(inputs.split()), tuple(outputs.split()))


_ID = "InstanceID"
_CH = "InstanceID Channel"

SERVICES: tuple[ServiceSpec, ...] = (
    _service(
        "RenderingControl",
        "/MediaRenderer/RenderingControl/Control",
        _a("GetVolume", _CH, "CurrentVolume"),
        _a("SetVolume", f"{_CH} DesiredVolume"),
        _a("GetMute", _CH, "CurrentMute"),
        _a("SetMute", f"{_CH} DesiredMute"),
        _a("SetRelativeVolume", f"{_CH} Adjustment", "NewVolume"),
        _a(
            "RampToVolume",
            f"{_CH} RampType DesiredVolume ResetVolumeAfter ProgramURI",
            "RampTime",
        ),
        _a("GetBass", _ID, "CurrentBass"),
        _a("GetTreble", _ID, "CurrentTreble"),
        _a("GetLoudness", _CH, "CurrentLoudness"),
        _a("GetOutputFixed", _ID, "CurrentFixed"),
    ),
    _service(
        "GroupRenderingControl",
        "/MediaRenderer/GroupRenderingControl/Control",
        _a("GetGroupVolume", _ID, "CurrentVolume"),
        _a("SetGroupVolume", f"{_ID} DesiredVolume"),
        _a("SetRelativeGroupVolume", f"{_ID} Adjustment", "NewVolume"),
        _a("GetGroupMute", _ID, "CurrentMute"),
        _a("SetGroupMute", f"{_ID} DesiredMute"),
        _a("SnapshotGroupVolume", _ID),
    ),
    _service(
        "AVTransport",
        "/MediaRenderer/AVTransport/Control",
        _a("SetAVTransportURI", f"{_ID} CurrentURI CurrentURIMetaData"),
        _a("Play", f"{_ID} Speed"),
        _a("Pause", _ID),
        _a("Stop", _ID),
        _a("Next", _ID),
        _a("Previous", _ID),
        _a("Seek", f"{_ID} Unit Target"),
        _a(
            "AddURIToQueue",
            f"{_ID} EnqueuedURI EnqueuedURIMetaData DesiredFirstTrackNumberEnqueued EnqueueAsNext",
            "FirstTrackNumberEnqueued NumTracksAdded NewQueueLength",
        ),
        _a("RemoveAllTracksFromQueue", _ID),
        _a("GetTransportInfo", _ID, "CurrentTransportState CurrentTransportStatus CurrentSpeed"),
        _a(
            "GetPositionInfo",
            _ID,
            "Track TrackDuration TrackMetaData TrackURI RelTime AbsTime RelCount AbsCount",
        ),
        _a(
            "GetMediaInfo",
            _ID,
            "NrTracks MediaDuration CurrentURI CurrentURIMetaData NextURI NextURIMetaData "
            "PlayMedium RecordMedium WriteStatus",
        ),
        _a("GetTransportSettings", _ID, "PlayMode RecQualityMode"),
        _a("SetPlayMode", f"{_ID} NewPlayMode"),
        _a("GetCrossfadeMode", _ID, "CrossfadeMode"),
        _a("SetCrossfadeMode", f"{_ID} CrossfadeMode"),
        _a("GetCurrentTransportActions", _ID, "Actions"),
        _a(
            "BecomeCoordinatorOfStandaloneGroup",
            _ID,
            "DelegatedGroupCoordinatorID NewGroupID",
        ),
    ),
    _service(
        "ContentDirectory",
        "/MediaServer/ContentDirectory/Control",
        _a(
            "Browse",
            "ObjectID BrowseFlag Filter StartingIndex RequestedCount SortCriteria",
            "Result NumberReturned TotalMatches UpdateID",
        ),
    ),
    _service(
        "DeviceProperties",
        "/DeviceProperties/Control",
        _a("GetHouseholdID", "", "CurrentHouseholdID"),
        _a("GetZoneAttributes", "", "CurrentZoneName CurrentIcon CurrentConfiguration"),
    ),
    _service(
        "ZoneGroupTopology",
        "/ZoneGroupTopology/Control",
        _a("GetZoneGroupState", "", "ZoneGroupState"),
        _a(
            "GetZoneGroupAttributes",
            "",
            "CurrentZoneGroupName CurrentZoneGroupID CurrentZonePlayerUUIDsInGroup",
        ),
    ),
)


def service_by_control_url(path: str) -> ServiceSpec | None:
    return next((s for s in SERVICES if s.control_url == path), None)


def scpd(service: ServiceSpec) -> str:
    """The service description: every argument is a string tied to its own state variable."""
    actions: list[str] = []
    variables: dict[str, None] = {}
    for action in service.actions.values():
        args = [(name, "in") for name in action.inputs]
        args += [(name, "out") for name in action.outputs]
        arg_xml = ""
        for name, direction in args:
            variable = f"A_ARG_TYPE_{name}"
            variables[variable] = None
            arg_xml += (
                f"<argument><name>{name}</name><direction>{direction}</direction>"
                f"<relatedStateVariable>{variable}</relatedStateVariable></argument>"
            )
        actions.append(
            f"<action><name>{action.name}</name><argumentList>{arg_xml}</argumentList></action>"
        )
    state = "".join(
        f'<stateVariable sendEvents="no"><name>{v}</name><dataType>string</dataType>'
        "</stateVariable>"
        for v in variables
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<scpd xmlns="urn:schemas-upnp-org:service-1-0">'
        "<specVersion><major>1</major><minor>0</minor></specVersion>"
        f"<actionList>{''.join(actions)}</actionList>"
        f"<serviceStateTable>{state}</serviceStateTable></scpd>"
    )


@dataclass(frozen=True, slots=True)
class SoapCall:
    action: str
    arguments: dict[str, str]


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def parse_soap(body: bytes) -> SoapCall:
    """The action and arguments of a SOAP request; UpnpError 402 when it is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as err:
        raise UpnpError(402, f"request is not XML: {err}") from err
    soap_body = root.find(f"{{{_SOAP_ENV}}}Body")
    if soap_body is None or len(soap_body) == 0:
        raise UpnpError(402, "no SOAP body")
    call = soap_body[0]
    return SoapCall(_local(call.tag), {_local(arg.tag): arg.text or "" for arg in call})


def soap_response(service: ServiceSpec, action: str, values: dict[str, str]) -> bytes:
    """A SOAP reply; values are escaped once (DIDL-Lite inside stays a string for the client)."""
    args = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in values.items())
    body = f'<u:{action}Response xmlns:u="{service.service_type}">{args}</u:{action}Response>'
    return (_ENVELOPE_OPEN + body + _ENVELOPE_CLOSE).encode()


def soap_fault(error: UpnpError) -> bytes:
    body = (
        "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring>"
        '<detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0">'
        f"<errorCode>{error.code}</errorCode>"
        f"<errorDescription>{escape(error.description)}</errorDescription>"
        "</UPnPError></detail></s:Fault>"
    )
    return (_ENVELOPE_OPEN + body + _ENVELOPE_CLOSE).encode()


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    uid: str
    room_name: str
    serial: str
    model_name: str = "Sonos One"
    model_number: str = "S18"
    software_version: str = "79.1-56030"
    hardware_version: str = "1.20.1.6-2.3"
    display_version: str = "16.4"


def _service_list(*names: str) -> str:
    items = []
    for spec in (s for s in SERVICES if s.name in names):
        items.append(
            f"<service><serviceType>{spec.service_type}</serviceType>"
            f"<serviceId>urn:upnp-org:serviceId:{spec.name}</serviceId>"
            f"<controlURL>{spec.control_url}</controlURL>"
            f"<eventSubURL>{spec.control_url.removesuffix('/Control')}/Event</eventSubURL>"
            f"<SCPDURL>{spec.scpd_url}</SCPDURL></service>"
        )
    return f"<serviceList>{''.join(items)}</serviceList>"


def device_description(device: DeviceIdentity, ip: str) -> str:
    """``/xml/device_description.xml``, with the fields SoCo's get_speaker_info() reads."""
    uid = escape(device.uid)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<root xmlns="urn:schemas-upnp-org:device-1-0">'
        "<specVersion><major>1</major><minor>0</minor></specVersion><device>"
        "<deviceType>urn:schemas-upnp-org:device:ZonePlayer:1</deviceType>"
        f"<friendlyName>{escape(ip)} - {escape(device.model_name)}</friendlyName>"
        "<manufacturer>Sonos, Inc.</manufacturer>"
        f"<modelNumber>{escape(device.model_number)}</modelNumber>"
        f"<modelName>{escape(device.model_name)}</modelName>"
        f"<softwareVersion>{escape(device.software_version)}</softwareVersion>"
        f"<hardwareVersion>{escape(device.hardware_version)}</hardwareVersion>"
        f"<serialNum>{escape(device.serial)}</serialNum><UDN>uuid:{uid}</UDN>"
        f"<roomName>{escape(device.room_name)}</roomName>"
        f"<displayName>{escape(device.model_name)}</displayName>"
        f"<displayVersion>{escape(device.display_version)}</displayVersion>"
        "<iconList><icon><mimetype>image/png</mimetype><width>48</width><height>48</height>"
        f"<depth>24</depth><url>/img/icon-{escape(device.model_number)}.png</url></icon>"
        "</iconList>"
        f"{_service_list('DeviceProperties', 'ZoneGroupTopology')}<deviceList>"
        "<device><deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType>"
        f"<UDN>uuid:{uid}_MS</UDN>{_service_list('ContentDirectory')}</device>"
        "<device><deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType>"
        f"<UDN>uuid:{uid}_MR</UDN>"
        f"{_service_list('RenderingControl', 'GroupRenderingControl', 'AVTransport')}"
        "</device></deviceList></device></root>"
    )


@dataclass(frozen=True, slots=True)
class ZoneMember:
    uid: str
    room_name: str
    location: str
    software_version: str


def zone_group_state(groups: list[tuple[str, list[ZoneMember]]]) -> str:
    """The ZoneGroupState document: one ``ZoneGroup`` per (coordinator uid, members).

    Each member's Location carries its real ip:port; SoCo builds its group objects from it.
    No XML declaration: SoCo feeds the string to lxml, which refuses one on a str.
    """
    zone_groups = []
    for number, (coordinator, members) in enumerate(groups, start=1):
        member_xml = "".join(
            f"<ZoneGroupMember UUID={quoteattr(m.uid)} Location={quoteattr(m.location)} "
            f'ZoneName={quoteattr(m.room_name)} Icon="x-rincon-roomicon:living" '
            f'Configuration="1" SoftwareVersion={quoteattr(m.software_version)} '
            'MinCompatibleVersion="78.0-00000" BootSeq="12" MicEnabled="0" '
            'VoiceConfigState="0"/>'
            for m in members
        )
        zone_groups.append(
            f"<ZoneGroup Coordinator={quoteattr(coordinator)} "
            f"ID={quoteattr(f'{coordinator}:{number}')}>{member_xml}</ZoneGroup>"
        )
    return (
        f"<ZoneGroupState><ZoneGroups>{''.join(zone_groups)}</ZoneGroups>"
        "<VanishedDevices/></ZoneGroupState>"
    )

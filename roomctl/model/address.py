"""Network addresses in the configuration: `host` or `host:port`, parsed once.

`HostPort.parse` accepts an IPv4 address, a host name, a bare IPv6 address, and any of those
with a port (an IPv6 address with a port in brackets: ``[fe80::1]:1400``).  Config fields use
the annotated type `HostPortField`, so a bad address is a config error naming the field.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

__all__ = ["HostPort", "HostPortField"]

_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_DOTTED_NUMBERS = re.compile(r"^[0-9.]+$")


@dataclass(frozen=True, slots=True)
class HostPort:
    """A host (IPv4, IPv6 without brackets, or a name) and an optional port."""

    host: str
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def port_or(self, default: int) -> int:
        """The configured port, or the protocol's `default`."""
        return default if self.port is None else self.port

    @classmethod
    def parse(cls, text: str) -> HostPort:
        """`1.2.3.4`, `1.2.3.4:9999`, `name.local`, `::1`, `[::1]`, `[::1]:1400`.

        Raises ValueError with a one-line reason naming the text."""
        value = text.strip()
        if not value:
            raise ValueError("the address is empty; expected 'host' or 'host:port'")
        if "/" in value or " " in value:
            raise ValueError(f"{text!r}: write only 'host' or 'host:port' (no scheme, path, space)")
        if value.startswith("["):
            inner, bracket, rest = value[1:].partition("]")
            if not bracket:
                raise ValueError(f"{text!r}: '[' without ']'; write '[ipv6]:port'")
            if rest and not rest.startswith(":"):
                raise ValueError(f"{text!r}: expected ':port' after ']'")
            return cls(_ipv6(inner, text), _port(rest[1:], text) if rest else None)
        if value.count(":") > 1:  # a bare IPv6 address: no port without brackets
            return cls(_ipv6(value, text), None)
        host, colon, port = value.partition(":")
        return cls(_name_or_ipv4(host, text), _port(port, text) if colon else None)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{whole!r}: the port must be a number from 1 to 65535")
    return int(text)


def _ipv6(text: str, whole: str) -> str:
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise ValueError(
            f"{whole!r} is not an IPv6 address (an IPv6 address with a port: '[addr]:port')"
        ) from None


def _name_or_ipv4(text: str, whole: str) -> str:
    if not text:
        raise ValueError(f"{whole!r}: the host is missing before ':'")
    if _DOTTED_NUMBERS.match(text):
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            raise ValueError(f"{whole!r} is not an IPv4 address") from None
    labels = text.removesuffix(".").split(".")
    if len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{whole!r} is not a host name, IPv4 or IPv6 address")
    return text


def _validate(value: object) -> HostPort:
    if isinstance(value, HostPort):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an address as text ('host' or 'host:port'), got {value!r}")
    return HostPort.parse(value)


# A config field holding an address: written as text, validated and split once.
HostPortField = Annotated[
    HostPort,
    PlainValidator(_validate),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["192.168.1.40", "[fe80::1]:1400"]}),
]

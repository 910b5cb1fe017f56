"""The legacy TP-Link Kasa wire format (TCP port 9999): framing and the XOR autokey cipher.

A frame, in both directions, is the 4-byte big-endian length of the plaintext followed by the
ciphertext.  The cipher starts with key 171; each ciphertext byte is the previous ciphertext
byte XOR the plaintext byte, so encrypting is ``c = key ^ p; key = c`` and decrypting is
``p = key ^ c; key = c``.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

__all__ = [
    "INITIAL_KEY",
    "MAX_FRAME_BYTES",
    "FrameError",
    "decode_frame",
    "decrypt",
    "encode_frame",
    "encrypt",
    "is_setter",
    "read_request",
]

INITIAL_KEY = 171
# Real devices choke far below this; anything larger is not a Kasa client (e.g. an HTTP probe).
MAX_FRAME_BYTES = 64 * 1024

_LENGTH = struct.Struct(">I")


class FrameError(Exception):
    """A frame that is not a Kasa request: too long, not UTF-8 JSON, or not a JSON object."""


def is_setter(command: str) -> bool:
    """IOT query commands are all named get_*; every other command changes the device."""
    return not command.startswith("get_")


def encrypt(plaintext: bytes) -> bytes:
    """XOR-autokey encrypt `plaintext` (no length prefix)."""
    key = INITIAL_KEY
    out = bytearray(len(plaintext))
    for i, byte in enumerate(plaintext):
        key ^= byte
        out[i] = key
    return bytes(out)


def decrypt(ciphertext: bytes) -> bytes:
    """Undo :func:`encrypt`."""
    key = INITIAL_KEY
    out = bytearray(len(ciphertext))
    for i, byte in enumerate(ciphertext):
        out[i] = key ^ byte
        key = byte
    return bytes(out)


def encode_frame(message: dict[str, Any]) -> bytes:
    """JSON-encode, encrypt and length-prefix `message`."""
    plaintext = json.dumps(message, separators=(",", ":")).encode()
    return _LENGTH.pack(len(plaintext)) + encrypt(plaintext)


def decode_frame(frame: bytes) -> dict[str, Any]:
    """Parse one complete frame (length prefix included) into its JSON object."""
    if len(frame) < _LENGTH.size:
        raise FrameError(f"frame of {len(frame)} bytes has no length prefix")
    (length,) = _LENGTH.unpack_from(frame)
    body = frame[_LENGTH.size :]
    if length != len(body):
        raise FrameError(f"length prefix says {length} bytes, body has {len(body)}")
    return _parse(decrypt(body))


async def read_request(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """Read one request frame; None when the peer closed the connection between frames.

    Raises FrameError for a frame no Kasa client would send, and asyncio.IncompleteReadError
    when the peer closes in the middle of a frame.
    """
    try:
        header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise FrameError(f"frame length {length} exceeds {MAX_FRAME_BYTES} bytes")
    return _parse(decrypt(await reader.readexactly(length)))


def _parse(plaintext: bytes) -> dict[str, Any]:
    try:
        message = json.loads(plaintext)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError(f"not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise FrameError(f"expected a JSON object, got {type(message).__name__}")
    return message

"""Password hashes for logins: scrypt with a random salt, checked in constant time."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from roomctl.errors import StoreError

__all__ = ["check_password", "hash_password"]

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1  # ~16 MiB, tens of ms per hash


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def hash_password(password: str) -> str:
    """'scrypt$n$r$p$salt$digest' (base64), with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored`, in constant time.  For an unknown user pass None:
    a dummy hash is checked so the answer takes as long as for a known one."""
    scheme, _, params = (stored or _dummy_hash()).partition("$")
    if scheme != "scrypt":
        raise StoreError(f"a stored password hash has an unknown scheme {scheme!r}")
    try:
        n, r, p, salt, digest = params.split("$")
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except ValueError as e:  # binascii.Error is a ValueError
        raise StoreError(f"a stored password hash is malformed ({e}); set it again") from e
    return hmac.compare_digest(actual, expected) and stored is not None


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))

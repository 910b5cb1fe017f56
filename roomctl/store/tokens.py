"""Bearer tokens for the web API: machines (facilitator or read-only) and a client's own link.

A token is 32 random bytes shown once (``rmt_`` and URL-safe base64); only its SHA-256 is
stored (a random token is not a password: a plain hash is enough).  A client token reaches only
that client's preferences and preview.  Revoking keeps the row (so the audit log's ids stay
meaningful) and stops the token at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal, cast

from roomctl.errors import StoreError
from roomctl.store.base import StoreBase

__all__ = ["TOKEN_ROLES", "TokenRole", "TokenRow", "TokenStore", "token_hash"]

TokenRole = Literal["facilitator", "readonly", "admin", "client"]
TOKEN_ROLES: tuple[TokenRole, ...] = ("facilitator", "readonly", "admin", "client")
TOKEN_PREFIX = "rmt_"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: str
    name: str
    role: TokenRole
    client_id: str | None
    created_at: float
    created_by: str
    revoked_at: float | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


_COLS = "id, name, role, client_id, created_at, created_by, revoked_at"


def _row(r: tuple[object, ...]) -> TokenRow:
    revoked = None if r[6] is None else float(cast(float, r[6]))
    return TokenRow(
        str(r[0]), str(r[1]), cast(TokenRole, r[2]), cast("str | None", r[3]),
        float(cast(float, r[4])), str(r[5]), revoked,
    )  # fmt: skip


class TokenStore(StoreBase):
    def create_token(
        self, name: str, role: TokenRole, *, client_id: str | None = None, by: str = "system"
    ) -> tuple[TokenRow, str]:
        """A new token: (its row, the token itself, to be shown once and never again)."""
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise StoreError(
                f"token name {name!r} is not valid: 1-64 letters, digits, '.', '_', ':' or '-'"
            )
        if role not in TOKEN_ROLES:
            raise StoreError(f"token role must be one of {', '.join(TOKEN_ROLES)}, got {role!r}")
        if (role == "client") != (client_id is not None):
            raise StoreError("a client token needs a client id, and only a client token has one")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._tx("create a token") as conn:
            if client_id is not None:
                self._live_client(conn, client_id, StoreError)
            live = conn.execute(
                "SELECT 1 FROM tokens WHERE name = ? AND revoked_at IS NULL", (name,)
            ).fetchone()
            if live:
                raise StoreError(f"a token named {name!r} exists; revoke it or choose another")
            tid = self._new_id(conn, "tokens", "t-", 4)
            now = self._clock.now()
            conn.execute(
                "INSERT INTO tokens (id, name, role, client_id, hash, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tid, name, role, client_id, token_hash(token), now, by),
            )
            detail = {"role": role} | ({"client": client_id} if client_id else {})
            self._audit(conn, by, "create_token", tid, detail)
        return TokenRow(tid, name, role, client_id, now, by, None), token

    def list_tokens(self, *, include_revoked: bool = False) -> list[TokenRow]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        with self._tx("list tokens", write=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLS} FROM tokens {where} ORDER BY created_at, id"
            ).fetchall()
        return [_row(r) for r in rows]

    def revoke_token(self, name_or_id: str, *, by: str = "system") -> TokenRow:
        """Revoke the live token of this name (or id); StoreError if there is none."""
        with self._tx("revoke a token") as conn:
            r = conn.execute(
                f"SELECT {_COLS} FROM tokens WHERE (name = ? OR id = ?) AND revoked_at IS NULL",
                (name_or_id, name_or_id),
            ).fetchone()
            if r is None:
                raise StoreError(f"no live token named {name_or_id!r}")
            now = self._clock.now()
            conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now, r[0]))
            self._audit(conn, by, "revoke_token", str(r[0]))
        row = _row(r)
        return TokenRow(row.id, row.name, row.role, row.client_id, row.created_at,
                        row.created_by, now)  # fmt: skip

    def verify_token(self, token: str) -> TokenRow | None:
        """The live token's row, or None (unknown, revoked, or its client deleted)."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        with self._tx("read a token", write=False) as conn:
            r = conn.execute(
                f"SELECT {_COLS} FROM tokens t WHERE hash = ? AND revoked_at IS NULL AND "
                "(client_id IS NULL OR EXISTS (SELECT 1 FROM clients c "
                "WHERE c.id = t.client_id AND c.deleted_at IS NULL))",
                (token_hash(token),),
            ).fetchone()
        return None if r is None else _row(r)

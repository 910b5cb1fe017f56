"""The audit log: who did what to which record, when.  Ids, kinds and versions only: never
payloads, client labels or passwords.  Every change elsewhere in the store writes its audit row
in its own transaction; this is for actions outside the store (e.g. a login)."""

from __future__ import annotations

from typing import Any

from roomctl.store.base import StoreBase
from roomctl.store.rows import AuditRow, audit_row

__all__ = ["AuditStore"]


class AuditStore(StoreBase):
    def audit(
        self, who: str, action: str, target: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Record an action (e.g. a login).  Keep health data and names out of `detail`."""
        with self._tx("write the audit log") as conn:
            self._audit(conn, who, action, target, detail)

    def audit_log(self, limit: int = 100, since: float | None = None) -> list[AuditRow]:
        """Audit rows, newest first; only those at or after `since` (wall time) if given."""
        where = "" if since is None else "WHERE at >= ?"
        args = (limit,) if since is None else (since, limit)
        with self._tx("read the audit log", write=False) as conn:
            rows = conn.execute(
                f"SELECT id, at, who, action, target, detail FROM audit {where} "
                "ORDER BY id DESC LIMIT ?",
                args,
            ).fetchall()
        return [audit_row(r) for r in rows]

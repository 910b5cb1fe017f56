"""The session database: sessions and their append-only event logs, clients and their
versioned preferences, an audit log and login users, in one SQLite file.

:class:`Store` is the one object callers open; each concern lives in its own module:
``sessions`` (sessions, events, export, purge), ``clients`` (clients, preferences), ``users``,
``audit``; ``base`` holds the connection and transactions, ``schema`` the migrations and how the
file is opened, ``faults`` what a storage error means.

Every call is one short transaction, and every change writes its audit row in that same
transaction.  Calls are synchronous and fast (the daemon makes them from the event loop), except
the password methods, which hash on purpose slowly: run those in a thread.  A Store may be
shared between threads; its calls are serialised.

Health data: preference profiles and event payloads (facilitators' notes) are health data; the
file and its WAL are readable by their owner only.  Audit rows carry only ids, kinds and
versions, never payloads, client labels or passwords.
"""

from __future__ import annotations

from roomctl.store.audit import AuditStore
from roomctl.store.clients import ClientStore
from roomctl.store.rows import (
    ROLES,
    AuditRow,
    ClientRow,
    PreferencesRow,
    Role,
    SessionRow,
    UserRow,
)
from roomctl.store.sessions import SessionStore
from roomctl.store.tokens import TokenStore
from roomctl.store.users import UserStore
from roomctl.store.web_sessions import WebSessionStore

__all__ = [
    "ROLES",
    "AuditRow",
    "ClientRow",
    "PreferencesRow",
    "Role",
    "SessionRow",
    "Store",
    "UserRow",
]


class Store(SessionStore, ClientStore, UserStore, TokenStore, WebSessionStore, AuditStore):
    """The open session database.  ``Store.open(path, clock)``, or ``readonly=True`` to read
    a database that cannot be written; close with :meth:`close` or ``with``."""

"""Opening the session database for the daemon: read-write, or, when the disk will not let it
(a read-only file system, a database it may not write), read-only with a clear warning, so the
room still runs: the arc as stored, the emergency working, commands refused with the reason."""

from __future__ import annotations

import logging
from pathlib import Path

from roomctl.clock import Clock
from roomctl.errors import StoreReadOnlyError
from roomctl.store.store import Store

__all__ = ["open_store"]

log = logging.getLogger(__name__)


def open_store(path: Path, clock: Clock) -> tuple[Store, str | None]:
    """The store, and None; or a read-only store and what is wrong (StoreError if neither)."""
    try:
        return Store.open(path, clock), None
    except StoreReadOnlyError as exc:
        if not path.is_file():
            raise
        problem = str(exc)
    store = Store.open(path, clock, readonly=True)  # StoreError when it cannot even be read
    why = (
        f"{problem}; running the room read-only: the session as stored, the emergency "
        "working, commands refused"
    )
    log.error("%s", why)
    return store, why

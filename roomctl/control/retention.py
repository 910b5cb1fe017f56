"""Data retention: sessions older than `storage.retention_days` are deleted for good.

Session records are health data; a clinic keeps them as long as its rules say (default five
years) and no longer.  An APScheduler job on the daemon's event loop purges them once a day (the
first time a minute after start): `Store.purge_sessions` deletes sessions that ended before the
cutoff (and ones abandoned long before it; never a running one) and writes an audit entry by
`retention` with the count and the ids.  Age is measured on the store's clock, so a test moves
a virtual clock forward instead of waiting years.

`retention_days: null` keeps everything; a read-only database skips the job (and says so).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from roomctl.errors import StoreError

if TYPE_CHECKING:
    from roomctl.control.daemon import Daemon
    from roomctl.store.store import Store

__all__ = ["DAY_S", "RETENTION_BY", "Retention", "retention_service"]

log = logging.getLogger(__name__)
DAY_S = 86_400.0
RETENTION_BY = "retention"  # the audit log's author of a purge
JOB_ID = "retention-purge"


class Retention:
    """Purges sessions older than `days` from `store`, on a schedule or when asked."""

    def __init__(
        self,
        store: Store,
        days: int,
        *,
        every_s: float = DAY_S,
        first_after_s: float = 60.0,
    ) -> None:
        self.store = store
        self.days = days
        self.every_s = every_s
        self.first_after_s = first_after_s
        self.runs = 0  # purges done (for the status and the tests)

    def purge(self) -> list[str]:
        """Delete what is past retention now; the ids deleted (audited by `retention`)."""
        self.runs += 1
        try:
            ids = self.store.purge_sessions(self.days * DAY_S, by=RETENTION_BY)
        except StoreError as exc:  # a full or locked disk: try again at the next run
            log.warning("retention: sessions past %d days not purged: %s", self.days, exc)
            return []
        if ids:
            log.info("retention: %d sessions older than %d days deleted", len(ids), self.days)
        return ids

    async def _job(self) -> None:
        self.purge()

    def scheduler(self) -> AsyncIOScheduler:
        """An AsyncIOScheduler (not started) with the purge job: every `every_s`, the first
        `first_after_s` from now.  A run missed while the Pi was off runs once when it is back."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=self.every_s, timezone=UTC),
            id=JOB_ID,
            name="purge sessions past retention",
            next_run_time=datetime.now(UTC) + timedelta(seconds=self.first_after_s),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(self.every_s)),
        )
        return scheduler

    async def run(self) -> None:
        """Run the schedule until cancelled."""
        scheduler = self.scheduler()
        scheduler.start()
        try:
            await asyncio.Event().wait()
        finally:
            scheduler.shutdown(wait=False)


async def retention_service(daemon: Daemon) -> None:
    """The daemon service (`Daemon.services`): purge past `storage.retention_days` daily."""
    days = daemon.lib.room.storage.retention_days
    if days is None:
        log.info("retention: sessions are kept forever (storage.retention_days is null)")
        return
    if daemon.store is None or daemon.read_only:
        log.warning("retention: the database is read-only; nothing is purged")
        return
    await Retention(daemon.store, days).run()

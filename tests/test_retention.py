"""Retention: sessions past `storage.retention_days` are purged by the APScheduler job, with an
audit entry by `retention`; recent and running sessions stay.  Age is the store's clock, a
VirtualClock moved years forward; the schedule runs on the real event loop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import yaml

from roomctl.clock import VirtualClock
from roomctl.control.retention import DAY_S, RETENTION_BY, Retention, retention_service
from roomctl.errors import ConfigError
from roomctl.model.events import EventKind
from roomctl.model.library import load_library
from roomctl.store.store import Store
from tests.helpers import until

FIVE_YEARS_DAYS = 1826


def sessions_over_the_years(store: Store, clock: VirtualClock) -> dict[str, str]:
    """An old ended session, one ended last year and a running one (started long ago)."""
    old = store.create_session("room-1", "psilocybin", by="ana")
    store.append(old, EventKind.NOTE, {"text": "felt warm"}, by="ana")
    store.append(old, EventKind.END, {}, by="ana")
    running = store.create_session("room-2", "psilocybin", by="ana")
    clock._now += (FIVE_YEARS_DAYS - 360) * DAY_S
    recent = store.create_session("room-1", "mdma", by="ana")
    store.append(recent, EventKind.END, {}, by="ana")
    store.append(running, EventKind.NOTE, {"text": "still here"}, by="ana")
    clock._now += 365 * DAY_S  # the first is now 5 years and 5 days old
    return {"old": old, "recent": recent, "running": running}


def test_the_default_keeps_five_years_and_null_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"room": {"id": "r", "name": "R"}}), encoding="utf-8")
    assert load_library(path).room.storage.retention_days == FIVE_YEARS_DAYS
    path.write_text(
        yaml.safe_dump({"room": {"id": "r", "name": "R"}, "storage": {"retention_days": None}}),
        encoding="utf-8",
    )
    assert load_library(path).room.storage.retention_days is None
    path.write_text(
        yaml.safe_dump({"room": {"id": "r", "name": "R"}, "storage": {"retention_days": 0}}),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="retention_days"):
        load_library(path)


def test_a_purge_removes_only_what_is_past_retention_and_is_audited(tmp_path: Path) -> None:
    clock = VirtualClock()
    with Store.open(tmp_path / "r.db", clock) as store:
        ids = sessions_over_the_years(store, clock)
        retention = Retention(store, FIVE_YEARS_DAYS)
        assert retention.purge() == [ids["old"]]
        left = {s.id for s in store.list_sessions()}
        assert left == {ids["recent"], ids["running"]}
        entry = store.audit_log(limit=1)[0]
        assert (entry.who, entry.action) == (RETENTION_BY, "purge_sessions")
        assert entry.detail is not None
        assert entry.detail["ids"] == [ids["old"]] and entry.detail["count"] == 1
        assert retention.purge() == []  # nothing more; once past five years the recent one goes
        clock._now += (FIVE_YEARS_DAYS - 360) * DAY_S
        # the recent one, and the one never ended (abandoned for years by now)
        assert sorted(retention.purge()) == sorted([ids["recent"], ids["running"]])
        assert store.list_sessions() == []


async def test_the_scheduler_runs_the_purge_and_again_at_each_interval(tmp_path: Path) -> None:
    clock = VirtualClock()
    with Store.open(tmp_path / "r.db", clock) as store:
        ids = sessions_over_the_years(store, clock)
        retention = Retention(store, FIVE_YEARS_DAYS, every_s=0.3, first_after_s=0.05)
        task = asyncio.create_task(retention.run())
        try:
            await until(lambda: retention.runs >= 1, what="the first scheduled purge")
            assert ids["old"] not in {s.id for s in store.list_sessions()}
            clock._now += (FIVE_YEARS_DAYS - 360) * DAY_S  # years pass on the store's clock
            await until(lambda: retention.runs >= 3, what="two more scheduled purges")
            assert store.list_sessions() == []
            purges = [a for a in store.audit_log(limit=50) if a.action == "purge_sessions"]
            assert all(a.who == RETENTION_BY for a in purges) and len(purges) >= 3
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_the_service_keeps_everything_when_retention_is_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from roomctl.control.daemon import Daemon

    path = tmp_path / "c.yaml"
    cfg = {"room": {"id": "r", "name": "R"}, "storage": {"retention_days": None}}
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    daemon = Daemon(load_library(path), VirtualClock())
    with caplog.at_level(logging.INFO):
        await asyncio.wait_for(retention_service(daemon), 5)  # returns at once
    assert "kept forever" in caplog.text

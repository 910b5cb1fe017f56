"""Event times follow the log's order: an event is stamped under the store's write lock, so
commands given at the same moment by many threads or processes on one database get times that
never go down as their sequence numbers go up.

The clock here is a slow one: it reads the time, then takes a few milliseconds before it
answers (as a busy Pi may).  A time taken outside the lock then loses its place to another
writer almost every time.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import random
import threading
import time
from pathlib import Path

import pytest

from roomctl.control.session import SessionControl
from roomctl.model.events import Event, Note
from roomctl.model.library import load_library
from roomctl.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.example.yaml"
WRITERS = 20


class SlowClock:
    """The system time, answered a random 0-4 ms after it was read."""

    def now(self) -> float:
        t = time.time()
        time.sleep(random.uniform(0.0, 0.004))
        return t

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError


def _started(db: Path) -> str:
    lib = load_library(CONFIG)
    with Store.open(db, SlowClock()) as store:
        row = SessionControl(lib, store, SlowClock()).start("psilocybin", by="alice")
    return row.id


def _in_order(db: Path, sid: str) -> list[Event]:
    with Store.open(db, SlowClock()) as store:
        notes = [e for e in store.events(sid) if isinstance(e.payload, Note)]
    assert len(notes) == WRITERS
    assert [e.seq for e in notes] == sorted(e.seq for e in notes)
    return notes


def _note(db: Path, i: int, barrier: threading.Barrier | None) -> None:
    lib = load_library(CONFIG)
    with Store.open(db, SlowClock()) as store:
        control = SessionControl(lib, store, SlowClock())
        control.refresh()
        if barrier is not None:
            barrier.wait()
        control.command(Note(text=f"note {i}"), by=f"writer-{i}")


def test_parallel_notes_from_threads_are_stamped_in_log_order(tmp_path: Path) -> None:
    db = tmp_path / "roomctl.db"
    sid = _started(db)
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            _note(db, i, barrier)
        except BaseException as e:  # reported below
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    notes = _in_order(db, sid)
    times = [e.at for e in notes]
    assert times == sorted(times), [(e.seq, e.at) for e in notes]


def _note_in_process(db: str, i: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    lib = load_library(CONFIG)
    with Store.open(db, SlowClock()) as store:
        control = SessionControl(lib, store, SlowClock())
        control.refresh()
        barrier.wait()
        control.command(Note(text=f"note {i}"), by=f"process-{i}")


def test_parallel_notes_from_processes_are_stamped_in_log_order(tmp_path: Path) -> None:
    db = tmp_path / "roomctl.db"
    sid = _started(db)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(WRITERS)
    procs = [
        ctx.Process(target=_note_in_process, args=(str(db), i, barrier)) for i in range(WRITERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    if any(p.exitcode != 0 for p in procs):
        pytest.fail(f"writers failed: {[p.exitcode for p in procs]}")
    notes = _in_order(db, sid)
    times = [e.at for e in notes]
    assert times == sorted(times), [(e.seq, e.at) for e in notes]

"""The soak, short: two virtual hours of an eventful session through the real engine and
drivers (bench/soak.py's lock-step run), and a minute of `roomctl run` with 20 tablets on the
SSE stream and a tap every 15 s.  Neither may grow its tasks, open files or threads, and
memory may grow by a few MiB at most.  The long soak (12 virtual hours, 10 real minutes) is
`python -m bench.soak`."""

from __future__ import annotations

import sys

import pytest

from bench.room import Roomctl
from bench.soak import real_soak, virtual_soak

RSS_GROWTH_MIB = 3.0


async def test_two_virtual_hours_grow_no_tasks_fds_or_memory() -> None:
    soak = await virtual_soak(2.0, quiet=True)
    g = soak.growth
    assert len(g.settled) >= 6, g.samples
    assert g.rise("tasks") <= 0 and g.peak_rise("tasks") <= 2, g.settled
    assert g.rise("fds") <= 0 and g.peak_rise("fds") <= 2, g.settled
    assert g.peak_rise("rss_mib") < RSS_GROWTH_MIB, g.settled
    assert soak.busiest_per_second <= 2


@pytest.mark.timeout(240)
async def test_a_minute_of_the_daemon_with_twenty_tablets_grows_nothing() -> None:
    soak = await real_soak(1.0, quiet=True, roomctl=Roomctl("tests", sys.executable))
    g = soak.growth
    assert soak.reconnects == 0
    assert soak.events_seen >= 20 * soak.taps, soak  # every tablet heard every tap
    assert g.rise("fds") <= 0 and g.rise("threads") <= 0, g.samples
    assert g.peak_rise("rss_mib") < RSS_GROWTH_MIB, g.samples

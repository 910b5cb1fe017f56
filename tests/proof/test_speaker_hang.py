"""A Sonos speaker that hangs (it takes requests and never answers, without closing anything)
under a daemon on the demo room, through the real SoCo: it is reported unavailable within
seconds, a cue given meanwhile reaches every other device as fast as ever, the threads SoCo's
calls run in do not pile up, and once it answers again it is available and follows the session
(the cue's volume) again."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from roomctl.clock import ScaledClock
from roomctl.model.events import EventKind
from roomctl.sim.demo import DemoRoom
from tests.daemon_support import follows, start_daemon, stop_daemon
from tests.faults import write_config
from tests.helpers import until

SPEED = 20.0
UNAVAILABLE_WITHIN_S = 5.0  # real seconds: the driver's timeout is 1 s (tests/faults.py)
BACK_WITHIN_S = 5.0


async def test_a_hung_speaker(tmp_path: Path) -> None:
    clock = ScaledClock(SPEED)
    async with DemoRoom.start(clock, tmp_path) as room:
        config = write_config(room, tmp_path / "c.yaml")
        assert room.sonos is not None
        speaker = room.sonos.coordinator
        lamp = room.kasa["lamp"]
        run = await start_daemon(config, clock)
        try:
            run.session.start("psilocybin", by="test", room=room.initial_state())
            await follows(run, room, 20)
            health = run.engine.health()
            threads = threading.active_count()

            speaker.silent = True
            hung_at = time.monotonic()
            run.command(EventKind.CUE_ON, {"cue": "talk"})  # lights up, music down
            sent = len(lamp.commands)
            lamp_took = await until(lambda: len(lamp.commands) > sent, 2, "the lamp's cue")
            took = await until(
                lambda: not health["speakers"].available,
                UNAVAILABLE_WITHIN_S,
                lambda: health["speakers"],
            )
            print(f"hung speaker: unavailable after {took:.1f} s; lamp cued in {lamp_took:.2f} s")
            assert "no answer" in (health["speakers"].last_error or ""), health["speakers"]
            await follows(run, room, 15, skip=("speakers",))
            others = {d: h for d, h in health.items() if d not in ("speakers", "room-heat")}
            assert all(h.available for h in others.values()), others
            await until(lambda: time.monotonic() - hung_at > 10, 15)  # hung for ten seconds
            assert threading.active_count() <= threads + 3, threading.enumerate()
            volume = speaker.volume  # nothing reached it
            assert not health["speakers"].available, health["speakers"]  # still hung

            speaker.silent = False
            back = await until(
                lambda: health["speakers"].available, BACK_WITHIN_S, lambda: health["speakers"]
            )
            print(f"hung speaker: available {back:.2f} s after it answers again")
            await follows(run, room, 15)
            assert speaker.volume < volume  # the cue's lower volume reached it once back
            assert health["speakers"].last_error is None
        finally:
            await stop_daemon(run)

"""The driver factory loads a device library only when the room has a device that needs it."""

from __future__ import annotations

import subprocess
import sys

from tests.daemon_support import ROOT

PROBE = """
import sys
from roomctl.clock import SystemClock
from roomctl.devices.factory import build_devices
from roomctl.model.config import RoomConfig

room = RoomConfig.model_validate({"room": {"id": "r", "name": "R"}, "devices": %s})
devices = build_devices(room, None, SystemClock())
print(sorted(type(d).__name__ for d in devices.values()))
print(sorted(m for m in ("kasa", "soco", "aiohttp", "requests") if m in sys.modules))
"""


def _probe(devices: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE % devices],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    return out.stdout.splitlines()


def test_a_room_without_kasa_or_sonos_never_imports_their_libraries() -> None:
    classes, libraries = _probe("[]")
    assert (classes, libraries) == ("[]", "[]")


def test_each_library_is_imported_with_the_first_device_that_needs_it() -> None:
    kasa = '[{"id": "lamp", "driver": "kasa", "host": "127.0.0.1", "zone": "z", "model": "plug"}]'
    classes, libraries = _probe(kasa)
    assert classes == "['KasaSwitch']"
    assert "'kasa'" in libraries and "'soco'" not in libraries
    sonos = '[{"id": "sp", "driver": "sonos", "host": "127.0.0.1", "zone": "z"}]'
    classes, libraries = _probe(sonos)
    assert classes == "['SonosPlayer']"
    assert "'soco'" in libraries and "'kasa'" not in libraries

"""Shared fixtures.  Device tests run the real python-kasa, SoCo and MQTT client code against the
loopback emulators in roomctl/sim/ and a real Mosquitto started per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return ROOT

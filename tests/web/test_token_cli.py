"""`roomctl token create|list|revoke` as a user runs it: printed once, listed without the token,
revoked for good."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from roomctl.clock import SystemClock
from roomctl.store.store import Store

CONFIG = """room: {id: room-1, name: Test Room}
storage: {path: roomctl.db}
scenes_dir: %s
"""


def roomctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roomctl", *args, "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_token_create_list_revoke(tmp_path: Path) -> None:
    from roomctl.model.library import PACKAGE_SCENES

    config = tmp_path / "config.yaml"
    config.write_text(CONFIG % PACKAGE_SCENES, encoding="utf-8")
    made = roomctl(config, "token", "create", "home-assistant", "--role", "facilitator")
    assert made.returncode == 0, made.stderr
    token = next(w for w in made.stdout.split() if w.startswith("rmt_"))
    listed = roomctl(config, "token", "list")
    assert "home-assistant" in listed.stdout and "facilitator" in listed.stdout
    assert token not in listed.stdout
    with Store.open(tmp_path / "roomctl.db", SystemClock()) as store:
        assert store.verify_token(token) is not None
    again = roomctl(config, "token", "create", "home-assistant")
    assert again.returncode != 0 and "exists" in again.stderr and "Traceback" not in again.stderr
    revoked = roomctl(config, "token", "revoke", "home-assistant")
    assert revoked.returncode == 0, revoked.stderr
    with Store.open(tmp_path / "roomctl.db", SystemClock()) as store:
        assert store.verify_token(token) is None
    assert "no tokens" in roomctl(config, "token", "list").stdout

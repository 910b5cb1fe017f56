"""Bearer tokens in the store: only a hash is kept, a token is shown once, revoking stops it,
a client token dies with its client."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from roomctl.clock import VirtualClock
from roomctl.errors import StoreError
from roomctl.store.store import Store
from roomctl.store.tokens import token_hash


def test_only_the_hash_is_stored_and_revoke_stops_the_token(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with Store.open(db, VirtualClock(1000.0)) as store:
        row, token = store.create_token("home-assistant", "facilitator", by="ana")
        assert token.startswith("rmt_") and len(token) > 40
        assert store.verify_token(token) == row
        assert store.verify_token(token + "x") is None
        with pytest.raises(StoreError, match="exists"):
            store.create_token("home-assistant", "readonly")
        store.revoke_token("home-assistant", by="ana")
        assert store.verify_token(token) is None
        assert store.list_tokens() == []
        assert [t.name for t in store.list_tokens(include_revoked=True)] == ["home-assistant"]
        actions = [a.action for a in store.audit_log()]
        assert "create_token" in actions and "revoke_token" in actions
    conn = sqlite3.connect(db)
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert token not in dump and token_hash(token) in dump


def test_client_token_is_scoped_and_dies_with_the_client(tmp_path: Path) -> None:
    with Store.open(tmp_path / "t.db", VirtualClock(1000.0)) as store:
        cid = store.create_client()
        with pytest.raises(StoreError, match="client id"):
            store.create_token("link", "client")
        with pytest.raises(StoreError, match="no client"):
            store.create_token("link", "client", client_id="c-00000000")
        row, token = store.create_token("link", "client", client_id=cid)
        assert store.verify_token(token) == row and row.client_id == cid
        store.delete_client(cid)
        assert store.verify_token(token) is None
        with pytest.raises(StoreError, match="not valid"):
            store.create_token("bad name!", "readonly")

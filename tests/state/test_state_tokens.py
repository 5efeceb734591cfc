"""SQLite state database and the SQLite token store (accounts rules 13, 14, 21).

The cross-process lock is tested with a real second process (``subprocess``) holding the lock
while this one tries to take it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from pleo_erp.client.auth import OAuth2Auth, TokenSet, TokenStore
from pleo_erp.state import (
    TOKENS_FEATURE,
    SQLiteTokenStore,
    StateDB,
    StateSchemaError,
    TokenLockTimeout,
)

T0 = datetime(2025, 5, 23, 12, 0, tzinfo=timezone.utc)
SRC = str(Path(__file__).resolve().parents[2] / "src")


def tokens(n: int, *, expires_at: datetime = T0 + timedelta(hours=1)) -> TokenSet:
    return TokenSet(f"access-{n}", f"refresh-{n}", expires_at, scope="export-jobs:read")


# ---- StateDB ---------------------------------------------------------------------------------


def test_state_db_file_uses_wal_busy_timeout_and_private_permissions(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.db"
    with StateDB(path, busy_timeout=2.5) as db:
        with db.connection() as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
            assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_state_db_migrations_are_per_feature_idempotent_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    calls: list[str] = []

    def step2(conn: sqlite3.Connection) -> None:
        calls.append("step2")
        conn.execute("ALTER TABLE journal ADD COLUMN note TEXT")

    steps = ["CREATE TABLE journal (id INTEGER PRIMARY KEY); CREATE INDEX j_id ON journal(id);"]
    with StateDB(path) as db:
        assert db.apply_migrations("journal", steps) == 1
        assert db.apply_migrations("journal", [*steps, step2]) == 2
        assert db.apply_migrations("journal", [*steps, step2]) == 2  # no-op
        assert db.schema_version("journal") == 2
        assert db.schema_version("other") == 0
    assert calls == ["step2"]
    with StateDB(path) as reopened:
        assert reopened.apply_migrations("journal", [*steps, step2]) == 2
        with reopened.connection() as conn:
            columns = [row[1] for row in conn.execute("PRAGMA table_info(journal)")]
        assert columns == ["id", "note"]
    assert calls == ["step2"]


def test_state_db_failed_migration_rolls_back_whole_step() -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x)")
        raise RuntimeError("boom")

    with StateDB() as db:
        with pytest.raises(RuntimeError, match="boom"):
            db.apply_migrations("f", ["CREATE TABLE a (x)", broken])
        assert db.schema_version("f") == 1
        with db.connection() as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "a" in names
        assert "half" not in names


def test_state_db_refuses_a_newer_schema() -> None:
    with StateDB() as db:
        db.apply_migrations("f", ["CREATE TABLE a (x)", "CREATE TABLE b (x)"])
        with pytest.raises(StateSchemaError, match="newer"):
            db.apply_migrations("f", ["CREATE TABLE a (x)"])


def test_state_db_transaction_rolls_back_and_nests() -> None:
    with StateDB() as db:
        db.apply_migrations("t", ["CREATE TABLE t (x INTEGER)"])

        def insert_then_fail(value: int) -> None:
            with db.transaction() as conn:
                conn.execute("INSERT INTO t VALUES (?)", (value,))
                raise ValueError("undo")

        with pytest.raises(ValueError, match="undo"):
            insert_then_fail(1)
        with db.transaction() as conn:
            conn.execute("INSERT INTO t VALUES (2)")
            with pytest.raises(ValueError, match="undo"):
                insert_then_fail(3)  # nested: a savepoint, rolled back alone
        with db.connection() as conn:
            assert [r[0] for r in conn.execute("SELECT x FROM t")] == [2]


def test_memory_state_db_has_no_second_connection() -> None:
    with StateDB() as db:
        assert db.is_memory
        with pytest.raises(Exception, match="single connection"):
            db.connect()


# ---- SQLiteTokenStore ------------------------------------------------------------------------


def test_token_store_round_trip_and_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SQLiteTokenStore(path, key="acme")
    assert isinstance(store, TokenStore)
    assert store.load() is None
    store.save(tokens(1))
    store.save(tokens(2))
    store.close()
    reopened = SQLiteTokenStore(path, key="acme")
    loaded = reopened.load()
    assert loaded == tokens(2)
    assert loaded is not None
    assert loaded.expires_at.tzinfo is not None
    assert reopened.db.schema_version(TOKENS_FEATURE) == 1
    reopened.close()


def test_rule21_token_rows_are_keyed_per_connection(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    first, second = SQLiteTokenStore(db, key="company-a"), SQLiteTokenStore(db, key="company-b")
    first.save(tokens(1))
    assert second.load() is None
    second.save(tokens(7))
    first.clear()
    assert first.load() is None
    assert second.load() == tokens(7)


def test_token_store_keeps_non_utc_expiry_instant(tmp_path: Path) -> None:
    store = SQLiteTokenStore(tmp_path / "s.db")
    cet = timezone(timedelta(hours=2))
    store.save(tokens(1, expires_at=datetime(2025, 5, 23, 14, 0, tzinfo=cet)))
    loaded = store.load()
    assert loaded is not None
    assert loaded.expires_at == T0


def test_token_store_save_inside_lock_is_committed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SQLiteTokenStore(path)
    observer = SQLiteTokenStore(path)
    with store.lock():
        store.save(tokens(3))
        # Visible to another connection while the lock is still held: durable on return.
        assert observer.load() == tokens(3)
        with store.lock():  # re-entrant for the holder
            store.save(tokens(4))
        assert observer.load() == tokens(4)


def test_token_store_lock_serialises_threads(tmp_path: Path) -> None:
    store = SQLiteTokenStore(tmp_path / "state.db")
    store.save(tokens(0))
    inside = 0
    peak = 0
    guard = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        nonlocal inside, peak
        barrier.wait(timeout=10)
        with store.lock():
            with guard:
                inside += 1
                peak = max(peak, inside)
            current = store.load()
            assert current is not None
            n = int(current.access_token.split("-")[1])
            store.save(tokens(n + 1))
            with guard:
                inside -= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert peak == 1
    assert store.load() == tokens(8)  # no lost update


_CHILD = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timezone
    sys.path.insert(0, sys.argv[1])
    from pleo_erp.client.auth import TokenSet
    from pleo_erp.state import SQLiteTokenStore

    store = SQLiteTokenStore(sys.argv[2])
    with store.lock():
        print("held", flush=True)
        sys.stdin.readline()  # wait for the parent's go
        store.save(TokenSet("access-child", "refresh-child",
                            datetime(2030, 1, 1, tzinfo=timezone.utc)))
        print("saved", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
    """
)


def test_rule14_lock_excludes_another_process(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteTokenStore(path).save(tokens(1))
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, SRC, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            assert child.stdout.readline().strip() == "held"
            with SQLiteTokenStore(path, busy_timeout=0.05) as impatient:
                with pytest.raises(TokenLockTimeout, match="another process"), impatient.lock():
                    pass
                # Reads still work while the other process holds the lock (WAL).
                assert impatient.load() == tokens(1)
                child.stdin.write("go\n")
                child.stdin.flush()
                assert child.stdout.readline().strip() == "saved"
                # Saved and committed, but the child still holds the lock.
                assert impatient.load() is not None
                with pytest.raises(TokenLockTimeout), impatient.lock():
                    pass
            child.stdin.write("done\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "released"
            assert child.wait(timeout=20) == 0
        finally:
            if child.poll() is None:
                child.kill()
    with SQLiteTokenStore(path) as patient, patient.lock():
        loaded = patient.load()
    assert loaded is not None
    assert loaded.refresh_token == "refresh-child"


def test_rule13_oauth_with_sqlite_store_two_instances_never_reuse_refresh_token(
    tmp_path: Path,
) -> None:
    """Two OAuth2Auth objects on two store instances of one file (two processes' view):
    the second adopts the rotated tokens instead of presenting the spent refresh token."""
    path = tmp_path / "state.db"
    SQLiteTokenStore(path).save(tokens(0))
    presented: list[str] = []
    generation = 0
    now = [T0]

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal generation
        if request.url.host == "auth.pleo.io":
            form = dict(pair.split("=") for pair in request.content.decode().split("&"))
            presented.append(form["refresh_token"])
            generation += 1
            return httpx.Response(
                200,
                json={
                    "access_token": f"access-{generation}",
                    "refresh_token": f"refresh-{generation}",
                    "expires_in": 3600,
                },
            )
        return httpx.Response(200, json={})

    def make() -> OAuth2Auth:
        return OAuth2Auth("c", "s", SQLiteTokenStore(path), clock=lambda: now[0])

    first, second = make(), make()
    transport = httpx.MockTransport(handler)
    with httpx.Client(transport=transport, auth=first) as c1:
        with httpx.Client(transport=transport, auth=second) as c2:
            c1.get("https://external.pleo.io/x")
            c2.get("https://external.pleo.io/x")
            now[0] += timedelta(hours=2)
            c1.get("https://external.pleo.io/x")
            c2.get("https://external.pleo.io/x")
    assert presented == ["refresh-0"]
    assert second.tokens is not None
    assert second.tokens.access_token == "access-1"
    reloaded = SQLiteTokenStore(path).load()
    assert reloaded is not None
    assert reloaded.refresh_token == "refresh-1"


def test_token_store_repr_has_no_tokens(tmp_path: Path) -> None:
    store = SQLiteTokenStore(tmp_path / "state.db", key="acme")
    store.save(tokens(1))
    assert "access-1" not in repr(store)
    assert "refresh-1" not in repr(store)
    assert repr(store).endswith("key='acme')")


def test_memory_token_store_path() -> None:
    store = SQLiteTokenStore(":memory:")
    with store.lock():
        store.save(tokens(5))
    assert store.load() == tokens(5)

"""The real-service starters and the Postgres database wrapper (pleo_erp.testing.services,
pleo_erp.state.postgres._db): non-root server, stop by PID, Redis restart, migrations."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pleo_erp.state import StateSchemaError
from pleo_erp.testing.services import PostgresServer, RedisServer, free_port

pytestmark = pytest.mark.postgres


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_postgres_runs_unprivileged_on_loopback(postgres_server: PostgresServer) -> None:
    if os.geteuid() == 0:
        assert _uid(postgres_server.pid) != 0  # initdb/postgres refuse root; CI runs as root
    assert "127.0.0.1" in postgres_server.url
    assert postgres_server.root.is_dir()


def test_redis_restart_loses_everything_and_stop_kills_by_pid() -> None:
    redis = pytest.importorskip("redis")
    server = RedisServer.start()
    try:
        client = redis.Redis.from_url(server.url)
        client.rpush("queue", "message")
        first = server.pid
        server.restart()
        assert server.pid != first
        assert not Path(f"/proc/{first}").exists() or _zombie(first)
        assert client.llen("queue") == 0  # a restart without persistence: the queue is gone
    finally:
        root, pid = server.root, server.pid
        server.stop()
    assert not root.exists()
    assert pid is not None
    assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_migrations_apply_once_under_concurrent_openers(postgres_url: str) -> None:
    from pleo_erp.state.postgres import PostgresStateDB

    steps = ["CREATE TABLE counted (n INTEGER)", "INSERT INTO counted VALUES (1)"]
    errors: list[BaseException] = []

    def open_and_migrate() -> None:
        try:
            with PostgresStateDB(postgres_url, max_size=2) as db:
                db.apply_migrations("counted", steps)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_and_migrate) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with PostgresStateDB(postgres_url) as db:
        assert db.schema_version("counted") == 2
        with db.connection() as conn:
            assert conn.execute("SELECT count(*) FROM counted").fetchone() == (1,)
        with pytest.raises(StateSchemaError):
            db.apply_migrations("counted", steps[:1])  # an older pleo-erp opening newer state


def test_repr_never_shows_the_password(postgres_server: PostgresServer) -> None:
    from pleo_erp.state.postgres import PostgresStateDB

    url = f"postgresql://postgres:hunter2@127.0.0.1:{postgres_server.port}/pleo"
    with PostgresStateDB(url) as db:  # trust auth: the password is ignored by the server
        assert "hunter2" not in repr(db)
        assert "***" in repr(db)

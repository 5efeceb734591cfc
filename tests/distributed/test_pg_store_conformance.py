"""Store conformance: the same cases against SQLite and a real PostgreSQL.

Leases (fencing, expiry on the store's clock), the token store's cross-process refresh lock
(8 processes racing one refresh → one token request, accounts rule 14), schedule claims
(4 processes → no row claimed twice), the export journal, the selection, the webhook inbox.
Multi-process cases use real processes; a holder's death is a real SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from pleo_erp.accounting_system.export import PostedEntry
from pleo_erp.client.auth import TokenSet
from pleo_erp.orchestration.schedule import ScheduledLevel
from pleo_erp.state import LeaseLost, SQLiteLeaseStore, SQLiteTokenStore, StateDB, new_owner
from pleo_erp.state.export_journal import SQLiteExportJournal
from pleo_erp.state.selection import SelectionStore

pytestmark = pytest.mark.postgres

WORKER = Path(__file__).with_name("race_worker.py")
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(backend name, location): a SQLite file or a fresh Postgres database."""
    if request.param == "sqlite":
        return "sqlite", str(tmp_path / "state.db")
    return "postgres", request.getfixturevalue("postgres_url")


@pytest.fixture
def stores(backend: tuple[str, str]) -> Iterator[dict[str, Any]]:
    """The backend's lease, token, journal and selection stores on one database."""
    name, location = backend
    if name == "sqlite":
        db = StateDB(location)
        leases = SQLiteLeaseStore(db)
        yield {
            "name": name,
            "location": location,
            "leases": leases,
            "tokens": SQLiteTokenStore(db, key="race"),
            "journal": SQLiteExportJournal(db),
            "selection": SelectionStore(db),
            "transaction": db.transaction,
        }
        db.close()
        return
    from pleo_erp.state.postgres import (
        PostgresExportJournal,
        PostgresLeaseStore,
        PostgresSelectionStore,
        PostgresStateDB,
        PostgresTokenStore,
    )

    pg = PostgresStateDB(location)
    yield {
        "name": name,
        "location": location,
        "leases": PostgresLeaseStore(pg),
        "tokens": PostgresTokenStore(pg, key="race"),
        "journal": PostgresExportJournal(pg),
        "selection": PostgresSelectionStore(pg),
        "transaction": pg.transaction,
    }
    pg.close()


def _wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


# ---- leases ---------------------------------------------------------------------------------


def test_lease_is_exclusive_until_released_and_generation_survives_release(
    stores: dict[str, Any],
) -> None:
    leases = stores["leases"]
    first = leases.acquire("connection:a", new_owner(), ttl=30)
    assert first is not None
    assert first.generation == 1
    assert leases.acquire("connection:a", new_owner(), ttl=30) is None
    holder = leases.holder("connection:a")
    assert holder is not None
    assert holder.owner == first.owner
    assert holder.generation == 1
    leases.release(first)
    second = leases.acquire("connection:a", new_owner(), ttl=30)
    assert second is not None
    assert second.generation == 2
    assert leases.acquire("connection:b", new_owner(), ttl=30) is not None  # keys independent


def test_stale_generation_is_fenced_out(stores: dict[str, Any]) -> None:
    """A holder paused past its ttl comes back with generation n; the store refuses it."""
    leases = stores["leases"]
    stale = leases.acquire("connection:c", "host-a:1:aaaa", ttl=0.3)
    assert stale is not None
    _wait_until(lambda: not leases.is_current(stale))
    fresh = leases.acquire("connection:c", "host-b:2:bbbb", ttl=30)
    assert fresh is not None
    assert fresh.generation == stale.generation + 1
    assert leases.renew(stale) is False
    leases.release(stale)  # a stale release must not free the new holder's lease
    assert leases.is_current(fresh)
    with pytest.raises(LeaseLost), stores["transaction"]() as conn:
        leases.fence(conn, stale)
    with stores["transaction"]() as conn:
        leases.fence(conn, fresh)  # the current holder passes
    assert leases.renew(fresh) is True


def test_lease_expiry_follows_the_store_clock(stores: dict[str, Any]) -> None:
    """Expiry is decided by the database (Postgres ``now()``), not by the worker's clock."""
    leases = stores["leases"]
    held = leases.acquire("connection:d", "host-a:1:aaaa", ttl=0.4)
    assert held is not None
    assert leases.acquire("connection:d", "host-b:2:bbbb", ttl=30) is None
    started = time.monotonic()
    _wait_until(lambda: leases.acquire("connection:d", "host-b:2:cccc", ttl=30) is not None)
    assert time.monotonic() - started < 5
    holder = leases.holder("connection:d")
    assert holder is not None
    assert holder.owner == "host-b:2:cccc"
    assert holder.generation == 2


def test_renew_extends_a_current_lease(stores: dict[str, Any]) -> None:
    leases = stores["leases"]
    held = leases.acquire("connection:e", new_owner(), ttl=0.6)
    assert held is not None
    for _ in range(4):
        time.sleep(0.2)
        assert leases.renew(held)
    assert leases.is_current(held)  # 0.8 s > ttl: only the renewals kept it


# ---- tokens: 8 processes, one refresh ---------------------------------------------------------


class _TokenServer(ThreadingHTTPServer):
    """A token endpoint that rotates refresh tokens, detects replay and counts refreshes."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TokenHandler)
        self.lock = threading.Lock()
        self.current_refresh = "refresh-0"
        self.current_access = "access-0"
        self.refreshes = 0
        self.replays = 0

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/oauth/token"


class _TokenHandler(BaseHTTPRequestHandler):
    server: _TokenServer

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        time.sleep(0.2)  # a slow token endpoint widens the race window
        with self.server.lock:
            if form.get("refresh_token") != [self.server.current_refresh]:
                self.server.replays += 1
                self._reply(400, {"error": "invalid_grant"})
                return
            self.server.refreshes += 1
            n = self.server.refreshes
            self.server.current_refresh = f"refresh-{n}"
            self.server.current_access = f"access-{n}"
        self._reply(
            200,
            {
                "access_token": f"access-{n}",
                "refresh_token": f"refresh-{n}",
                "expires_in": 3600,
                "token_type": "Bearer",
            },
        )

    def do_GET(self) -> None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if token != self.server.current_access:
            self._reply(401, {"error": "invalid_token"})
            return
        body = token.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _race(argv: list[str], count: int, timeout: float = 90) -> list[str]:
    """Start ``count`` workers, release them together, return each one's last output line."""
    children = [_spawn(*argv) for _ in range(count)]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        outputs = []
        for child in children:
            out, _ = child.communicate(timeout=timeout)
            assert child.returncode == 0, out
            outputs.append(out.strip().splitlines()[-1])
        return outputs
    finally:
        for child in children:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
                child.wait()


@pytest.fixture
def token_server() -> Iterator[_TokenServer]:
    server = _TokenServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_eight_processes_racing_one_refresh_make_one_token_request(
    stores: dict[str, Any], token_server: _TokenServer
) -> None:
    """Accounts rule 14: single-flight refresh across processes; accounts rule 13: no refresh
    token replayed."""
    expired = TokenSet(
        access_token="access-0",
        refresh_token="refresh-0",
        expires_at=datetime.now(timezone.utc) - timedelta(minutes=1),
        scope=None,
        token_type="Bearer",
    )
    stores["tokens"].save(expired)
    outputs = _race(["refresh", stores["name"], stores["location"], token_server.token_url], 8)
    results = [json.loads(line) for line in outputs]
    assert token_server.refreshes == 1
    assert token_server.replays == 0
    assert {r["status"] for r in results} == {200}
    assert {r["token"] for r in results} == {"access-1"}
    stored = stores["tokens"].load()
    assert stored is not None
    assert stored.refresh_token == "refresh-1"


def test_a_killed_lock_holder_frees_the_token_lock(stores: dict[str, Any]) -> None:
    holder = _spawn("hold-token-lock", stores["name"], stores["location"])
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        started = time.monotonic()
        with stores["tokens"].lock():
            pass
        assert time.monotonic() - started < 5
    finally:
        if holder.poll() is None:
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait()


# ---- schedule: 4 processes claiming -----------------------------------------------------------


def test_four_processes_claiming_never_claim_a_row_twice(backend: tuple[str, str]) -> None:
    from pleo_erp.runtime.state import open_state

    name, location = backend
    with open_state(location) as state:
        expected = set()
        for _ in range(150):
            company = uuid.uuid4()
            for level in (ScheduledLevel.TAGS, ScheduledLevel.EXPORT):
                state.schedule.ensure(company, level, timedelta(hours=1))
                expected.add(f"{company}:{level.value}")
    outputs = _race(["claim", name, location], 4)
    claims = [c for line in outputs for c in json.loads(line)]
    assert len(claims) == len(set(claims)), "a row was claimed twice"
    assert set(claims) == expected
    assert all(json.loads(line) for line in outputs) or len(outputs) == 4


def test_claim_moves_rows_by_their_cadence_and_record_finish_is_fenced(
    backend: tuple[str, str],
) -> None:
    from pleo_erp.runtime.state import open_state

    _, location = backend
    company = uuid.uuid4()
    with open_state(location) as state:
        schedule = state.schedule
        schedule.ensure(company, ScheduledLevel.EXPORT, timedelta(minutes=10))
        now = datetime.now(timezone.utc)
        [run] = schedule.claim_due(10, now=now)
        assert run.company_id == company
        assert run.level is ScheduledLevel.EXPORT
        assert schedule.claim_due(10, now=now) == []
        [row] = schedule.rows(company)
        assert timedelta(minutes=10) <= row.next_due - now <= timedelta(minutes=11)
        schedule.record_start(company, ScheduledLevel.EXPORT, generation=5)
        schedule.record_finish(
            company,
            ScheduledLevel.EXPORT,
            generation=4,  # a stale worker finishing late
            outcome="failed",
            error="stale",
            retry_after=timedelta(0),
        )
        [row] = schedule.rows(company)
        assert row.last_outcome is None
        assert row.next_due > now
        schedule.record_finish(
            company,
            ScheduledLevel.EXPORT,
            generation=5,
            outcome="ok",
            error=None,
            retry_after=None,
        )
        [row] = schedule.rows(company)
        assert row.last_outcome == "ok"
        schedule.mark_due(company, ScheduledLevel.EXPORT)
        assert [r.company_id for r in schedule.claim_due(10)] == [company]


def test_stale_claims_are_swept_back_to_due(backend: tuple[str, str]) -> None:
    from pleo_erp.runtime.state import open_state

    _, location = backend
    company = uuid.uuid4()
    with open_state(location) as state:
        state.schedule.ensure(company, ScheduledLevel.TAGS, timedelta(hours=1))
        assert len(state.schedule.claim_due(5)) == 1
        assert state.schedule.sweep_stale(timedelta(hours=1)) == 0
        time.sleep(0.05)
        assert state.schedule.sweep_stale(timedelta(0)) == 1  # claimed, never started
        assert len(state.schedule.claim_due(5)) == 1


def test_webhook_inbox_dedupes_durably(backend: tuple[str, str]) -> None:
    from pleo_erp.runtime.state import open_state

    _, location = backend
    now = datetime.now(timezone.utc)
    with open_state(location) as state:
        assert state.inbox.record("msg_1", company_id=uuid.uuid4(), received_at=now) is True
        assert state.inbox.record("msg_1", company_id=None, received_at=now) is False
    with open_state(location) as state:  # a restart
        assert state.inbox.record("msg_1", company_id=None, received_at=now) is False
        assert state.inbox.prune(timedelta(0)) == 1
        assert state.inbox.record("msg_1", company_id=None, received_at=now) is True


# ---- journal and selection ----------------------------------------------------------------


def test_journal_round_trip(stores: dict[str, Any]) -> None:
    journal = stores["journal"]
    company, job = uuid.uuid4(), uuid.uuid4()
    posted = PostedEntry(
        accounting_entry_id=uuid.uuid4(),
        external_id="V-1",
        url="https://as.example/V-1",
        posting_date=date(2026, 1, 31),
        attachment_keys=frozenset({"r1", "r2"}),
    )
    journal.record_posted(company_id=company, job_id=job, posted=posted)
    [record] = journal.unreported(job)
    assert record.posted == posted
    assert record.company_id == company
    assert not record.reported
    journal.mark_reported([posted.accounting_entry_id])
    assert journal.unreported(job) == []
    found = journal.lookup(posted.accounting_entry_id)
    assert found is not None
    assert found.reported


def test_postgres_journal_refuses_a_write_from_a_stale_lease(postgres_url: str) -> None:
    from pleo_erp.state.postgres import PostgresExportJournal, PostgresLeaseStore, PostgresStateDB

    with PostgresStateDB(postgres_url) as db:
        leases, journal = PostgresLeaseStore(db), PostgresExportJournal(db)
        stale = leases.acquire("connection:x", "a:1:aa", ttl=0.2)
        assert stale is not None
        _wait_until(lambda: leases.acquire("connection:x", "b:2:bb", ttl=30) is not None)
        posted = PostedEntry(accounting_entry_id=uuid.uuid4(), external_id="V-9")
        job = uuid.uuid4()
        with pytest.raises(LeaseLost):
            journal.fenced(leases, stale).record_posted(
                company_id=uuid.uuid4(), job_id=job, posted=posted
            )
        assert journal.lookup(posted.accounting_entry_id) is None


def test_selection_distinguishes_no_row_from_empty(stores: dict[str, Any]) -> None:
    selection = stores["selection"]
    company = uuid.uuid4()
    assert selection.load(company) is None
    assert selection.save(company, []) == ()
    assert selection.load(company) == ()
    assert selection.save(company, ["Dept", "Project"]) == ("Dept", "Project")
    assert selection.deselect(company, "dept") == ("Project",)
    selection.clear(company)
    assert selection.load(company) is None


def test_selection_json_null_is_corrupt_not_never_configured(stores: dict[str, Any]) -> None:
    # A row holding JSON null is damage, not "no row" (which means: first connection).
    from pleo_erp.domain.reconcile.errors import SelectionError

    selection = stores["selection"]
    company = uuid.uuid4()
    selection.save(company, ["Dept"])
    with stores["transaction"]() as conn:
        conn.execute("UPDATE dimension_selection SET codes = 'null'")
    with pytest.raises(SelectionError, match="corrupt"):
        selection.load(company)


def test_fetch_one_and_fetch_all_read_rows(backend: tuple[str, str]) -> None:
    name, location = backend
    if name == "sqlite":
        db: Any = StateDB(location)
        mark = "?"
    else:
        from pleo_erp.state.postgres import PostgresStateDB

        db, mark = PostgresStateDB(location), "%s"
    with db:
        with db.transaction() as conn:
            conn.execute("CREATE TABLE fetched (n INTEGER PRIMARY KEY, word TEXT NOT NULL)")
            for n, word in ((1, "one"), (2, "two")):
                conn.execute(f"INSERT INTO fetched (n, word) VALUES ({mark}, {mark})", (n, word))
        row = db.fetch_one(f"SELECT n, word FROM fetched WHERE n = {mark}", (2,))
        assert tuple(row) == (2, "two")
        assert db.fetch_one(f"SELECT n FROM fetched WHERE n = {mark}", (3,)) is None
        rows = db.fetch_all("SELECT n, word FROM fetched ORDER BY n")
        assert [tuple(r) for r in rows] == [(1, "one"), (2, "two")]

"""The SQLite runtime stores: registry, schedule claims (threads and processes), inbox, dispatch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from pleo_erp.orchestration import ScheduleConfig
from pleo_erp.runtime import RuntimeState, open_state, redact_url, register_state_backend
from pleo_erp.runtime.sqlite import jitter, open_sqlite_state
from tests.runtime._runtime_helpers import ALL, COA, EXPORT, T0, TAGS, FakeClock, connection

SRC = str(Path(__file__).resolve().parents[2] / "src")


def companies(n: int) -> list[UUID]:
    return [UUID(int=i + 1) for i in range(n)]


# ---- registry -------------------------------------------------------------------------------


def test_registry_round_trip_and_schedule_rows_due_now(state: RuntimeState) -> None:
    company = uuid4()
    conn = connection(company, cadence={EXPORT: timedelta(minutes=2)})
    state.registry.add(conn)

    assert state.registry.get(company) == conn
    assert state.registry.list() == [conn]
    rows = state.schedule.rows(company)
    assert [row.level for row in rows] == list(ALL)  # run order
    assert all(row.next_due == T0 and row.enabled for row in rows)
    every = {row.level: row.every for row in rows}
    assert every[EXPORT] == timedelta(minutes=2)
    assert every[COA] == ScheduleConfig().chart_of_accounts_every  # default cadence
    assert all(row.last_outcome is None for row in rows)


def test_registry_readd_disables_dropped_levels_and_keeps_due_times(
    state: RuntimeState, clock: FakeClock
) -> None:
    company = uuid4()
    state.registry.add(connection(company))
    state.schedule.claim_due(10)  # moves every row on
    before = {row.level: row.next_due for row in state.schedule.rows(company)}

    clock.advance(minutes=1)
    state.registry.add(connection(company, levels=(TAGS, EXPORT)))

    rows = {row.level: row for row in state.schedule.rows(company)}
    assert not rows[COA].enabled
    assert rows[TAGS].enabled
    assert rows[EXPORT].enabled
    assert rows[TAGS].next_due == before[TAGS]  # an existing row keeps its due time
    clock.advance(days=3)
    assert {run.level for run in state.schedule.claim_due(10)} == {TAGS, EXPORT}


def test_registry_remove_deletes_schedule_rows(state: RuntimeState) -> None:
    company, other = uuid4(), uuid4()
    state.registry.add(connection(company))
    state.registry.add(connection(other))

    assert state.registry.remove(company) is True
    assert state.registry.remove(company) is False
    assert state.registry.get(company) is None
    assert state.schedule.rows(company) == []
    assert len(state.schedule.rows(other)) == 3


def test_disabled_connection_has_no_enabled_rows(state: RuntimeState) -> None:
    company = uuid4()
    state.registry.add(connection(company, enabled=False))
    assert state.schedule.claim_due(10) == []
    assert all(not row.enabled for row in state.schedule.rows(company))


def test_connection_repr_and_rows_hold_no_secret(state: RuntimeState) -> None:
    conn = connection(uuid4(), auth_kind="oauth")
    assert conn.token_key.startswith("oauth:")  # a key into the token store, not a token
    state.registry.add(conn)
    assert "access" not in repr(state.registry.get(conn.company_id)).lower()


# ---- schedule -------------------------------------------------------------------------------


def test_claim_due_moves_rows_on_by_cadence_plus_bounded_jitter(
    state: RuntimeState, clock: FakeClock
) -> None:
    company = uuid4()
    state.registry.add(connection(company))

    claimed = state.schedule.claim_due(10)
    assert [run.level for run in claimed] == list(ALL)  # ties on next_due: run order
    assert len({run.claim_id for run in claimed}) == 3
    assert state.schedule.claim_due(10) == []  # not due any more

    rows = {row.level: row for row in state.schedule.rows(company)}
    for level, row in rows.items():
        extra = row.next_due - (T0 + row.every)
        assert extra == jitter(company, level, row.every)
        assert timedelta(0) <= extra < row.every * 0.1

    clock.now = rows[EXPORT].next_due
    assert [run.level for run in state.schedule.claim_due(10)] == [EXPORT]


def test_claim_due_oldest_first_and_limit(state: RuntimeState, clock: FakeClock) -> None:
    first, second = uuid4(), uuid4()
    state.registry.add(connection(first, levels=(EXPORT,)))
    clock.advance(seconds=5)
    state.registry.add(connection(second, levels=(EXPORT,)))

    assert [run.company_id for run in state.schedule.claim_due(1)] == [first]
    assert [run.company_id for run in state.schedule.claim_due(5)] == [second]


def test_jitter_is_deterministic_and_spreads_companies() -> None:
    every = timedelta(minutes=30)
    values = {jitter(company, EXPORT, every) for company in companies(200)}
    assert len(values) > 150
    assert jitter(UUID(int=7), EXPORT, every) == jitter(UUID(int=7), EXPORT, every)
    assert all(timedelta(0) <= value < timedelta(minutes=3) for value in values)


def test_no_row_claimed_twice_across_threads(state: RuntimeState) -> None:
    for company in companies(120):
        state.registry.add(connection(company))
    claims: list[tuple[UUID, str]] = []
    guard = threading.Lock()
    start = threading.Barrier(6)

    def worker() -> None:
        start.wait()
        while True:
            got = state.schedule.claim_due(7)
            if not got:
                return
            with guard:
                claims.extend((run.company_id, run.level.value) for run in got)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(claims) == 360
    assert len(set(claims)) == 360


_CLAIMER = """
import json, sys
from datetime import datetime, timezone
from pleo_erp.runtime.sqlite import open_sqlite_state
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
state = open_sqlite_state(sys.argv[1], clock=lambda: T0)
print("ready", flush=True)
sys.stdin.readline()  # start together
claimed = []
while True:
    got = state.schedule.claim_due(3)
    if not got:
        break
    claimed.extend([str(r.company_id), r.level.value] for r in got)
print(json.dumps(claimed), flush=True)
"""


def test_no_row_claimed_twice_across_two_processes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    setup = open_sqlite_state(path, clock=lambda: T0)
    for company in companies(100):
        setup.registry.add(connection(company))
    setup.close()

    env = {**os.environ, "PYTHONPATH": SRC}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        results.append([tuple(pair) for pair in json.loads(out.strip().splitlines()[-1])])
    both = results[0] + results[1]
    assert len(both) == 300
    assert len(set(both)) == 300
    assert not set(results[0]) & set(results[1])


def test_record_finish_is_fenced_by_generation(state: RuntimeState, clock: FakeClock) -> None:
    company = uuid4()
    state.registry.add(connection(company, levels=(EXPORT,)))
    state.schedule.record_start(company, EXPORT, generation=1)
    state.schedule.record_start(company, EXPORT, generation=2)  # a newer holder took over
    state.schedule.record_start(company, EXPORT, generation=1)  # the stale one: ignored

    state.schedule.record_finish(
        company, EXPORT, generation=1, outcome="failed", error="stale", retry_after=None
    )
    (row,) = state.schedule.rows(company)
    assert row.last_outcome is None
    assert row.last_error is None

    clock.advance(seconds=3)
    state.schedule.record_finish(
        company, EXPORT, generation=2, outcome="ok", error=None, retry_after=None
    )
    (row,) = state.schedule.rows(company)
    assert row.last_outcome == "ok"
    assert row.last_finished_at == T0 + timedelta(seconds=3)


def test_record_start_restarts_cadence_and_retry_only_brings_forward(
    state: RuntimeState, clock: FakeClock
) -> None:
    company = uuid4()
    state.registry.add(connection(company, levels=(EXPORT,)))
    every = ScheduleConfig().export_every
    state.schedule.mark_due(company, EXPORT)
    state.schedule.record_start(company, EXPORT, generation=1)  # an ad-hoc run, not claimed
    (row,) = state.schedule.rows(company)
    assert row.next_due == T0 + every
    assert row.last_started_at == T0

    state.schedule.record_finish(
        company, EXPORT, generation=1, outcome="failed", error="x", retry_after=timedelta(hours=1)
    )
    assert state.schedule.rows(company)[0].next_due == T0 + every  # never pushed back
    state.schedule.record_finish(
        company, EXPORT, generation=1, outcome="failed", error="x", retry_after=timedelta(minutes=1)
    )
    assert state.schedule.rows(company)[0].next_due == T0 + timedelta(minutes=1)


def test_mark_due_makes_a_row_due_now(state: RuntimeState, clock: FakeClock) -> None:
    company = uuid4()
    state.registry.add(connection(company, levels=(EXPORT,)))
    state.schedule.claim_due(5)
    clock.advance(seconds=10)
    assert state.schedule.claim_due(5) == []
    state.schedule.mark_due(company, EXPORT)
    state.schedule.mark_due(uuid4(), EXPORT)  # unknown row: no-op
    assert [run.company_id for run in state.schedule.claim_due(5)] == [company]


def test_sweep_stale_makes_lost_claims_due_again(state: RuntimeState, clock: FakeClock) -> None:
    lost, started = uuid4(), uuid4()
    hourly = {EXPORT: timedelta(hours=1)}
    state.registry.add(connection(lost, levels=(EXPORT,), cadence=hourly))
    state.registry.add(connection(started, levels=(EXPORT,), cadence=hourly))
    assert len(state.schedule.claim_due(5)) == 2
    state.schedule.record_start(started, EXPORT, generation=1)

    clock.advance(minutes=2)
    assert state.schedule.sweep_stale(timedelta(minutes=5)) == 0  # not stale yet
    clock.advance(minutes=4)
    assert state.schedule.sweep_stale(timedelta(minutes=5)) == 1
    assert [run.company_id for run in state.schedule.claim_due(5)] == [lost]


def test_ensure_rejects_non_positive_cadence(state: RuntimeState) -> None:
    with pytest.raises(ValueError, match="positive"):
        state.schedule.ensure(uuid4(), EXPORT, timedelta(0))


# ---- webhook inbox --------------------------------------------------------------------------


def test_inbox_dedupes_across_restart_and_prunes(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "state.db"
    company = uuid4()
    first = open_sqlite_state(path, clock=clock)
    assert first.inbox.record("msg_1", company_id=company, received_at=T0) is True
    assert first.inbox.record("msg_1", company_id=company, received_at=T0) is False
    first.close()

    again = open_sqlite_state(path, clock=clock)  # a restarted process
    assert again.inbox.record("msg_1", company_id=company, received_at=T0) is False
    assert again.inbox.record("msg_2", company_id=None, received_at=T0) is True
    clock.advance(days=8)
    assert again.inbox.prune(timedelta(days=7)) == 2
    assert again.inbox.record("msg_1", company_id=company, received_at=clock()) is True
    again.close()


# ---- open_state -----------------------------------------------------------------------------


def test_open_state_sqlite_path_and_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_state("plain.db") as plain:
        assert plain.location == "plain.db"
    with open_state("sqlite:///relative.db") as relative:
        assert relative.location == "relative.db"
    absolute = tmp_path / "abs.db"
    with open_state(f"sqlite:///{absolute}") as url_state:
        assert url_state.location == str(absolute)
    assert (tmp_path / "plain.db").stat().st_mode & 0o077 == 0  # owner-only: it holds tokens


def test_open_state_unknown_scheme_and_registered_backend(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no state backend for mysql://"):
        open_state("mysql://db/x")
    opened: list[str] = []

    def opener(url: str) -> RuntimeState:
        opened.append(url)
        return open_sqlite_state(tmp_path / "custom.db")

    register_state_backend("custom", opener)
    with open_state("custom://anything") as custom:
        assert custom.location.endswith("custom.db")
    assert opened == ["custom://anything"]


def test_redact_url_hides_the_password() -> None:
    assert redact_url("postgresql://app:s3cret@db:5432/pleo") == "postgresql://app:***@db:5432/pleo"
    assert redact_url("postgresql://db/pleo") == "postgresql://db/pleo"
    # a password with "@" in it: nothing of it may show (the Postgres store's repr uses this too)
    shown = redact_url("postgresql://app:p@ss:w0rd@db:5432/pleo")
    assert shown == "postgresql://app:***@db:5432/pleo"
    assert redact_url("state.db") == "state.db"

"""Company leases: expiry, fencing generations, liveness of a local holder, the heartbeat keeper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from pleo_erp.state import (
    InMemoryLeaseStore,
    Lease,
    LeaseBusy,
    LeaseKeeper,
    LeaseLost,
    LeaseStore,
    SQLiteLeaseStore,
    StateDB,
    hold_lease,
    new_owner,
)


class Clock:
    """A settable clock for store expiry and keeper deadlines."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
def store_and_clock(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[LeaseStore, Clock]:
    clock = Clock()
    if request.param == "memory":
        return InMemoryLeaseStore(clock=clock), clock
    return SQLiteLeaseStore(StateDB(tmp_path / "state.db"), clock=clock), clock


def test_a_second_holder_is_refused_until_expiry_then_gets_the_next_generation(
    store_and_clock: tuple[LeaseStore, Clock],
) -> None:
    store, clock = store_and_clock
    first = store.acquire("export:c1", "a", ttl=60)
    assert first is not None
    assert first.generation == 1
    assert store.acquire("export:c1", "b", ttl=60) is None
    clock.now += 59.9
    assert store.acquire("export:c1", "b", ttl=60) is None
    clock.now += 0.2
    second = store.acquire("export:c1", "b", ttl=60)
    assert second is not None
    assert second.generation == 2
    # the paused first holder can neither renew nor count as current any more (fencing)
    assert store.renew(first) is False
    assert store.is_current(first) is False
    assert store.is_current(second) is True


def test_keys_are_independent(store_and_clock: tuple[LeaseStore, Clock]) -> None:
    store, _ = store_and_clock
    assert store.acquire("export:c1", "a", ttl=60) is not None
    assert store.acquire("export:c2", "a", ttl=60) is not None


def test_renew_extends_and_release_frees_but_keeps_the_generation(
    store_and_clock: tuple[LeaseStore, Clock],
) -> None:
    store, clock = store_and_clock
    lease = store.acquire("k", "a", ttl=10)
    assert lease is not None
    clock.now += 8
    assert store.renew(lease) is True
    clock.now += 8  # 16 s after acquire, 8 s after the renew: still held
    assert store.acquire("k", "b", ttl=10) is None
    store.release(lease)
    holder = store.holder("k")
    assert holder is not None
    assert holder.owner is None
    assert holder.generation == 1
    again = store.acquire("k", "b", ttl=10)
    assert again is not None
    assert again.generation == 2


def test_release_by_a_stale_holder_does_not_free_the_new_holder(
    store_and_clock: tuple[LeaseStore, Clock],
) -> None:
    store, clock = store_and_clock
    stale = store.acquire("k", "a", ttl=5)
    assert stale is not None
    clock.now += 6
    fresh = store.acquire("k", "b", ttl=5)
    assert fresh is not None
    store.release(stale)
    assert store.is_current(fresh)
    assert store.acquire("k", "c", ttl=5) is None


def test_generation_is_strictly_increasing_across_holders(
    store_and_clock: tuple[LeaseStore, Clock],
) -> None:
    store, clock = store_and_clock
    seen = []
    for owner in "abcde":
        lease = store.acquire("k", owner, ttl=1)
        assert lease is not None
        seen.append(lease.generation)
        clock.now += 2
    assert seen == [1, 2, 3, 4, 5]


def test_ttl_must_be_positive(store_and_clock: tuple[LeaseStore, Clock]) -> None:
    store, _ = store_and_clock
    with pytest.raises(ValueError, match="ttl"):
        store.acquire("k", "a", ttl=0)


def test_sqlite_fence_refuses_a_write_from_a_stale_generation(tmp_path: Path) -> None:
    clock = Clock()
    db = StateDB(tmp_path / "state.db")
    store = SQLiteLeaseStore(db, clock=clock)
    stale = store.acquire("k", "a", ttl=5)
    assert stale is not None
    with db.transaction() as conn:
        store.fence(conn, stale)  # current: no error
    clock.now += 6
    assert store.acquire("k", "b", ttl=5) is not None
    with pytest.raises(LeaseLost, match="stale"), db.transaction() as conn:
        store.fence(conn, stale)


def test_sqlite_leases_are_shared_by_two_databases_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    a = SQLiteLeaseStore(StateDB(path))
    b = SQLiteLeaseStore(StateDB(path))
    lease = a.acquire("export:c", new_owner(), ttl=60)
    assert lease is not None
    assert b.acquire("export:c", new_owner(), ttl=60) is None
    holder = b.holder("export:c")
    assert holder is not None
    assert holder.pid == os.getpid()
    assert f"process {os.getpid()}" in holder.describe()


_HOLDER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pleo_erp.state import SQLiteLeaseStore, StateDB, new_owner
    store = SQLiteLeaseStore(StateDB(sys.argv[1]))
    lease = store.acquire("export:c", new_owner(), ttl=3600)
    print("held" if lease else "refused", flush=True)
    time.sleep(600)
    """
)


def _start_holder(path: Path) -> subprocess.Popen[str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_lease_of_a_sigkilled_local_holder_is_free_at_once(tmp_path: Path) -> None:
    """Issue 9: a killed exporter must not block its company for the rest of its lease."""
    path = tmp_path / "state.db"
    holder = _start_holder(path)
    store = SQLiteLeaseStore(StateDB(path))
    try:
        assert store.acquire("export:c", new_owner(), ttl=60) is None  # alive: refused
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    lease = store.acquire("export:c", new_owner(), ttl=60)
    assert lease is not None
    assert lease.generation == 2


def test_without_liveness_a_dead_holder_blocks_until_expiry(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    holder = _start_holder(path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    store = SQLiteLeaseStore(StateDB(path), liveness=False)
    assert store.acquire("export:c", new_owner(), ttl=60) is None


# ---------------------------------------------------------------------------- keeper


def _keeper(store: LeaseStore, ttl: float, mono: Clock) -> LeaseKeeper:
    lease = store.acquire("k", "me", ttl=ttl)
    assert lease is not None
    return LeaseKeeper(store, lease, monotonic=mono, start=False)


def test_keeper_check_fails_once_the_local_deadline_passes_without_a_renew() -> None:
    """A holder paused past its ttl (SIGSTOP, GC) must notice before its next side effect."""
    store_clock, mono = Clock(), Clock()
    store = InMemoryLeaseStore(clock=store_clock)
    keeper = _keeper(store, 30, mono)
    mono.now += 29
    keeper.check()
    mono.now += 2
    with pytest.raises(LeaseLost):
        keeper.check()
    assert keeper.lost


def test_keeper_renew_moves_the_deadline_from_when_the_renew_started() -> None:
    store_clock, mono = Clock(), Clock()
    store = InMemoryLeaseStore(clock=store_clock)
    keeper = _keeper(store, 30, mono)
    mono.now += 20
    store_clock.now += 20
    assert keeper.renew_now()
    mono.now += 29
    keeper.check()
    mono.now += 2
    with pytest.raises(LeaseLost):
        keeper.check()


def test_keeper_notices_a_takeover_on_renew_and_on_verify() -> None:
    store_clock, mono = Clock(), Clock()
    store = InMemoryLeaseStore(clock=store_clock)
    keeper = _keeper(store, 10, mono)
    store_clock.now += 11  # the store let it expire (e.g. the heartbeat could not reach it)
    assert store.acquire("k", "other", ttl=10) is not None
    with pytest.raises(LeaseLost):
        keeper.verify()
    assert keeper.renew_now() is False


def test_keeper_treats_a_store_error_as_not_yet_lost() -> None:
    class Flaky(InMemoryLeaseStore):
        def renew(self, lease: Lease) -> bool:
            raise OSError("database is locked")

    mono = Clock()
    keeper = _keeper(Flaky(clock=Clock()), 30, mono)
    assert keeper.renew_now() is True
    keeper.check()
    mono.now += 31
    with pytest.raises(LeaseLost):
        keeper.check()


def test_keeper_close_releases_and_is_idempotent() -> None:
    store = InMemoryLeaseStore(clock=Clock())
    keeper = _keeper(store, 10, Clock())
    keeper.close()
    keeper.close()
    assert store.acquire("k", "next", ttl=10) is not None


def test_heartbeat_thread_renews_while_the_block_runs() -> None:
    store = InMemoryLeaseStore()
    renewed: list[int] = []
    beat = threading.Event()

    class Counting(InMemoryLeaseStore):
        def renew(self, lease: Lease) -> bool:
            renewed.append(lease.generation)
            beat.set()
            return store.renew(lease)

        def release(self, lease: Lease) -> None:
            store.release(lease)

    lease = store.acquire("k", "me", ttl=30)
    assert lease is not None
    keeper = LeaseKeeper(Counting(), lease, interval=0.001)
    try:
        assert beat.wait(timeout=30), "the heartbeat thread never renewed"
    finally:
        keeper.close()
    assert renewed[0] == 1
    assert store.acquire("k", "next", ttl=30) is not None  # released on close


def test_hold_lease_raises_busy_with_who_holds_it(tmp_path: Path) -> None:
    store = SQLiteLeaseStore(StateDB(tmp_path / "state.db"))
    with hold_lease(store, "export:c", ttl=60, heartbeat=False) as keeper:
        assert keeper.generation == 1
        with (
            pytest.raises(LeaseBusy, match=f"process {os.getpid()}") as info,
            hold_lease(store, "export:c", ttl=60, heartbeat=False),
        ):
            pass
        assert info.value.holder is not None
        assert info.value.holder.generation == 1
    with hold_lease(store, "export:c", ttl=60, heartbeat=False) as keeper:
        assert keeper.generation == 2


def test_hold_lease_uses_the_callers_busy_error() -> None:
    store = InMemoryLeaseStore()

    class Mine(Exception):
        pass

    with (
        hold_lease(store, "k", heartbeat=False),
        pytest.raises(Mine),
        hold_lease(store, "k", busy=lambda holder: Mine(), heartbeat=False),
    ):
        pass


def test_new_owner_names_host_and_pid_and_is_unique() -> None:
    a, b = new_owner(), new_owner()
    assert a != b
    assert f":{os.getpid()}:" in a

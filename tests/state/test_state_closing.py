"""The ``with`` mixins of :mod:`pleo_erp._closing` and the stores built on them."""

from __future__ import annotations

import pytest

from pleo_erp._closing import ClosesOnExit, ReleasesOnExit
from pleo_erp.state import SQLiteTokenStore, StateDB


class _Resource(ClosesOnExit):
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


class _Lock(ReleasesOnExit):
    def __init__(self) -> None:
        self.events: list[str] = []

    def acquire(self) -> None:
        self.events.append("acquire")

    def release(self) -> None:
        self.events.append("release")


def test_closes_on_exit_gives_the_object_and_closes_it_once() -> None:
    resource = _Resource()
    with resource as entered:
        assert entered is resource
        assert resource.closed == 0
    assert resource.closed == 1


def test_closes_on_exit_closes_on_error_and_lets_the_error_through() -> None:
    resource = _Resource()
    with pytest.raises(KeyError), resource:
        raise KeyError("boom")
    assert resource.closed == 1


def test_releases_on_exit_acquires_first_and_releases_even_on_error() -> None:
    lock = _Lock()
    with lock as entered:
        assert entered is lock
        assert lock.events == ["acquire"]
    with pytest.raises(RuntimeError), lock:
        raise RuntimeError("boom")
    assert lock.events == ["acquire", "release", "acquire", "release"]


def test_state_db_and_token_store_close_at_the_end_of_the_block() -> None:
    with StateDB() as db, SQLiteTokenStore(db, key="k") as store:
        assert store.load() is None
    with pytest.raises(Exception, match="closed"):
        db.fetch_one("SELECT 1")

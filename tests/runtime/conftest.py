"""Fixtures for the runtime tests: a fake clock and SQLite runtime state on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pleo_erp.runtime import RuntimeState
from pleo_erp.runtime.sqlite import open_sqlite_state
from tests.runtime._runtime_helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(tmp_path: Path, clock: FakeClock) -> Iterator[RuntimeState]:
    opened = open_sqlite_state(tmp_path / "state.db", clock=clock, lease_clock=clock.epoch)
    yield opened
    opened.close()

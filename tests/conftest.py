"""Fixtures shared by the test modules under ``tests/``.

The sync fixtures run a test twice, once per driver of the same sans-I/O sync steps: a test
that takes ``sync_tags`` (or ``sync_accounts``, ``sync_tax_codes``, ``sync_chart_of_accounts``)
gets a callable with the blocking signature that is the blocking sync for ``[blocking]`` and
``sync_*_async`` on an ``AsyncPleoClient`` twin of the given client for ``[async]``. The name
shadows the module's import on purpose: the test body stays the one written for the blocking
sync, and its assertions hold for both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from _sync_helpers import SYNC_DRIVERS, SyncDriver


@pytest.fixture(params=SYNC_DRIVERS)
def sync_driver(request: pytest.FixtureRequest) -> SyncDriver:
    """The blocking syncs, or their ``async`` twins behind the blocking signature."""
    return SyncDriver(request.param)


@pytest.fixture(name="sync_tags")
def _sync_tags(sync_driver: SyncDriver) -> Callable[..., Any]:
    return sync_driver.tags


@pytest.fixture(name="sync_accounts")
def _sync_accounts(sync_driver: SyncDriver) -> Callable[..., Any]:
    return sync_driver.accounts


@pytest.fixture(name="sync_tax_codes")
def _sync_tax_codes(sync_driver: SyncDriver) -> Callable[..., Any]:
    return sync_driver.tax_codes


@pytest.fixture(name="sync_chart_of_accounts")
def _sync_chart_of_accounts(sync_driver: SyncDriver) -> Callable[..., Any]:
    return sync_driver.chart_of_accounts

"""Fixtures shared by the test modules under ``tests/``.

Sandbox: a test that takes ``sandbox`` gets a fresh, in-process
:class:`~pleo_erp.testing.sandbox.PleoSandbox` (no network, no real sleeps), with ``company`` (an
empty company in it) and ``client`` (a client of it). A module chooses its sandbox's seed and
company name with a marker, so its ids and generated data stay what its assertions were written
against::

    pytestmark = pytest.mark.sandbox(seed=9, company="Acme")

Without the marker the sandbox has its default seed and the company its default name. A module
that needs a different sandbox (a seeded demo, module scope) defines its own fixture, which wins.

Syncs: the sync fixtures run a test twice, once per driver of the same sans-I/O sync steps: a
test that takes ``sync_tags`` (or ``sync_accounts``, ``sync_tax_codes``,
``sync_chart_of_accounts``) gets a callable with the blocking signature that is the blocking
sync for ``[blocking]`` and ``sync_*_async`` on an ``AsyncPleoClient`` twin of the given client
for ``[async]``. The name shadows the module's import on purpose: the test body stays the one
written for the blocking sync, and its assertions hold for both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pleo_erp.client import PleoClient
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.sync import SYNC_DRIVERS, SyncDriver


def _sandbox_option(request: pytest.FixtureRequest, name: str) -> object:
    """``name`` from the closest ``@pytest.mark.sandbox(...)``, else ``None``."""
    marker = request.node.get_closest_marker("sandbox")
    return None if marker is None else marker.kwargs.get(name)


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> PleoSandbox:
    """A fresh sandbox, seeded by the module's ``sandbox(seed=...)`` marker if it has one."""
    seed = _sandbox_option(request, "seed")
    assert seed is None or isinstance(seed, int), "sandbox(seed=...) takes an int"
    return PleoSandbox() if seed is None else PleoSandbox(seed=seed)


@pytest.fixture
def company(sandbox: PleoSandbox, request: pytest.FixtureRequest) -> str:
    """The id of an empty company in :func:`sandbox`, named by ``sandbox(company=...)``."""
    name = _sandbox_option(request, "company")
    assert name is None or isinstance(name, str), "sandbox(company=...) takes a str"
    return sandbox.add_company(name)


@pytest.fixture
def client(sandbox: PleoSandbox) -> PleoClient:
    """A client of :func:`sandbox` that retries a throttled or failed call up to 3 times."""
    return sandbox.client(max_retries=3)


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

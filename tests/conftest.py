"""Fixtures shared by the test suite: a local Pleo sandbox, a company in it, a client for it.

Every test gets a fresh, in-process :class:`~pleo_erp.testing.sandbox.PleoSandbox` (no network,
no real sleeps). A module chooses its sandbox's seed and company name with a marker, so its ids
and generated data stay what its assertions were written against::

    pytestmark = pytest.mark.sandbox(seed=9, company="Acme")

Without the marker the sandbox has its default seed and the company its default name. A module that
needs a different sandbox (a seeded demo, module scope) defines its own fixture, which wins.
"""

from __future__ import annotations

import pytest

from pleo_erp.client import PleoClient
from pleo_erp.testing.sandbox import PleoSandbox


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

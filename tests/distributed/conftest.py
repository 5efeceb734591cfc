"""Real PostgreSQL for the distributed tests: started once per session, one database per test.

The server is started by :mod:`pleo_erp.testing.services` on a free loopback port in a temp
directory (as a non-root user under root) and stopped by its PID at the end. If the binaries
are missing and cannot be installed, the tests skip -- except under CI (``CI`` set), where
that is a failure: ``.ci/run`` installs them.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from pleo_erp.testing.services import PostgresServer, ServiceUnavailable

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session."""
    pytest.importorskip("psycopg")
    try:
        server = PostgresServer.start()
    except ServiceUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    import psycopg

    name = f"t{os.getpid()}_{next(_counter)}"
    admin = f"postgresql://postgres@127.0.0.1:{postgres_server.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:{postgres_server.port}/{name}"

"""The Celery app of ``bench_distributed.py`` (``celery -A _celery_bench_app worker``).

Configured from ``BENCH_STATE`` (Postgres URL), ``BENCH_BROKER`` (Redis URL),
``BENCH_SANDBOX`` and ``BENCH_KEY`` (the sandbox and its organisation API key).
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from celery import Celery

from pleo_erp.client import ApiKeyAuth, PleoClient
from pleo_erp.contrib.celery import install
from pleo_erp.runtime.stores import Connection
from pleo_erp.testing import InMemoryAccountingSystem


class Factory:
    """A client on the sandbox (no retries: a failure would show) and an in-memory AS."""

    def __init__(self) -> None:
        # One connection pool per worker process: a new httpx.Client loads the CA bundle.
        self.http = httpx.Client(follow_redirects=False)

    def build(self, connection: Connection) -> tuple[PleoClient, object, dict[Any, Any]]:
        auth = ApiKeyAuth(os.environ["BENCH_KEY"])
        client = PleoClient(
            auth, base_url=os.environ["BENCH_SANDBOX"], max_retries=0, http_client=self.http
        )
        return client, InMemoryAccountingSystem(), {}


app = Celery("bench", broker=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/0"))
install(app, Factory(), os.environ.get("BENCH_STATE", "postgresql://localhost/pleo"))
app.conf.worker_hijack_root_logger = False

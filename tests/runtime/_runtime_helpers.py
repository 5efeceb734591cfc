"""Helpers of the runtime tests: a fake clock, connection rows, a sandbox-backed factory."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from pleo_erp.client import PleoClient
from pleo_erp.orchestration import ScheduledLevel
from pleo_erp.orchestration.locks import InProcessLock
from pleo_erp.runtime import Connection
from pleo_erp.testing import InMemoryAccountingSystem, PleoSandbox

COA = ScheduledLevel.CHART_OF_ACCOUNTS
TAGS = ScheduledLevel.TAGS
EXPORT = ScheduledLevel.EXPORT
ALL = (COA, TAGS, EXPORT)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


class FakeClock:
    """A settable UTC clock (``datetime``) with an epoch view for the lease store."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class FakeMonotonic:
    """The lease keeper's clock: jumps when a test wants the local lease deadline to pass."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def connection(
    company: UUID | str,
    *,
    levels: tuple[ScheduledLevel, ...] = ALL,
    auth_kind: str = "api_key",
    adapter: str = "inmemory",
    cadence: Mapping[ScheduledLevel, timedelta] | None = None,
    enabled: bool = True,
) -> Connection:
    """A connection row for ``company``."""
    return Connection(
        company_id=UUID(str(company)),
        auth_kind="oauth" if auth_kind == "oauth" else "api_key",
        token_key=f"{auth_kind}:{company}",
        adapter=adapter,
        settings={"ledger": f"/data/{company}.beancount"},
        levels=levels,
        cadence=dict(cadence or {}),
        enabled=enabled,
        created_at=T0,
    )


class SandboxFactory:
    """Builds in-process sandbox clients and one in-memory AS per company (kept across runs)."""

    def __init__(self, sandbox: PleoSandbox, demo: Any | None = None) -> None:
        self.sandbox = sandbox
        self.demo = demo
        self.systems: dict[UUID, InMemoryAccountingSystem] = {}
        self.options: dict[ScheduledLevel, dict[str, Any]] = {}
        self.auth: dict[UUID, Any] = {}
        self.builds = 0
        self.fresh_locks = False

    def system(self, company: UUID) -> InMemoryAccountingSystem:
        if company not in self.systems:
            if self.demo is not None and str(company) == self.sandbox.demo_company_id:
                self.systems[company] = InMemoryAccountingSystem.from_demo(self.demo)
            else:
                self.systems[company] = InMemoryAccountingSystem()
        return self.systems[company]

    def build(
        self, conn: Connection
    ) -> tuple[PleoClient, object, Mapping[ScheduledLevel, Mapping[str, Any]]]:
        self.builds += 1
        kwargs: dict[str, Any] = {}
        if conn.company_id in self.auth:
            kwargs["auth"] = self.auth[conn.company_id]
        client = self.sandbox.client(**kwargs)
        options = {
            EXPORT: {"clock": self.sandbox.clock.now, "sleep": self.sandbox.clock.sleep},
        }
        for level, extra in self.options.items():
            options.setdefault(level, {}).update(extra)
        if self.fresh_locks:  # each run its own inner lock, like separate processes
            for level in (COA, TAGS, EXPORT):
                options.setdefault(level, {})["lock"] = InProcessLock()
        return client, self.system(conn.company_id), options

"""OAuth onboarding against the sandbox's OAuth server: callback → tokens → connection → initial
sync (chart of accounts → tags → export) → installation activated (accounts rule 24)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import httpx
import pytest

from pleo_erp.client import PleoClient
from pleo_erp.client.auth import OAuthStateMismatch
from pleo_erp.orchestration import ScheduledLevel
from pleo_erp.runtime import (
    Connection,
    OAuthApp,
    RunOutcome,
    RuntimeConfig,
    RuntimeState,
    begin_oauth_onboarding,
    complete_oauth_onboarding,
    run_level,
)
from pleo_erp.testing import InMemoryAccountingSystem, PleoSandbox
from tests.runtime._runtime_helpers import ALL, COA, FakeClock

pytestmark = pytest.mark.sandbox(seed=8)

BASE = "https://external.sandbox.pleo.invalid"
REDIRECT = "https://vendor.example/pleo/callback"


@pytest.fixture
def app(sandbox: PleoSandbox) -> OAuthApp:
    client_id, secret = sandbox.register_oauth_client(redirect_uris=[REDIRECT])
    return OAuthApp(
        client_id=client_id,
        client_secret=secret,
        redirect_uri=REDIRECT,
        auth_base_url=BASE,
        api_base_url=BASE,
    )


def _approve(sandbox: PleoSandbox, url: str) -> str:
    """The user approves in Pleo: the authorize endpoint redirects back with code + state."""
    with httpx.Client(transport=sandbox.transport()) as browser:
        answer = browser.get(url)
    assert answer.status_code == 302
    return answer.headers["Location"]


class OAuthFactory:
    """The vendor's factory: OAuth2Auth over the runtime's token store for the connection."""

    def __init__(self, sandbox: PleoSandbox, app: OAuthApp, state: RuntimeState) -> None:
        self.sandbox, self.app, self.state = sandbox, app, state
        self.systems: dict[UUID, InMemoryAccountingSystem] = {}

    def build(
        self, conn: Connection
    ) -> tuple[PleoClient, object, Mapping[ScheduledLevel, Mapping[str, Any]]]:
        auth = self.app.auth(self.state.token_store(conn.token_key))
        system = self.systems.setdefault(conn.company_id, InMemoryAccountingSystem())
        return self.sandbox.client(auth=auth), system, {}


def test_callback_registers_the_connection_and_queues_the_initial_sync(
    sandbox: PleoSandbox, app: OAuthApp, state: RuntimeState, clock: FakeClock
) -> None:
    company = UUID(sandbox.add_company())
    job = sandbox.create_export_job(str(company), 2)
    pending = begin_oauth_onboarding(app, extra_params={"company_id": str(company)})
    assert pending.code_verifier not in pending.url
    assert pending.code_verifier not in repr(pending)
    queued: list[tuple[UUID, ScheduledLevel, str]] = []

    with httpx.Client(transport=sandbox.transport()) as http:
        result = complete_oauth_onboarding(
            _approve(sandbox, pending.url),
            pending,
            app=app,
            state=state,
            adapter="inmemory",
            settings={"ledger": "/data/acme.beancount"},
            enqueue=lambda c, level, trigger: queued.append((c, level, trigger)),
            http_client=http,
        )

    conn = result.connection
    assert conn.company_id == company
    assert (conn.auth_kind, conn.token_key, conn.levels) == ("oauth", f"oauth:{company}", ALL)
    assert state.registry.get(company) == conn
    stored = state.token_store(conn.token_key).load()
    assert stored is not None
    assert stored.refresh_token
    assert "accounts:write" in result.scopes
    assert queued == [(company, COA, "onboarding")]
    assert result.queued
    assert {row.level for row in state.schedule.claim_due(10)} == set(ALL)  # safety net

    def installation() -> str:
        (found,) = [i for i in sandbox.installations() if i["resource"].endswith(str(company))]
        return str(found["status"])

    assert installation() == "AUTHORIZED"  # not before the initial syncs (rule 24)

    factory = OAuthFactory(sandbox, app, state)
    first = run_level(
        company, COA, "onboarding", state=state, factory=factory, config=RuntimeConfig(clock=clock)
    )
    assert [first.level, *(r.level for r in first.followups)] == list(ALL)
    assert all(r.outcome is RunOutcome.OK for r in (first, *first.followups))
    assert sandbox.job_status(job) == "completed"
    assert installation() == "ACTIVATED"


def test_a_forged_callback_stores_nothing(
    sandbox: PleoSandbox, app: OAuthApp, state: RuntimeState
) -> None:
    company = sandbox.add_company()
    pending = begin_oauth_onboarding(app, extra_params={"company_id": company})
    location = _approve(sandbox, pending.url).replace(pending.state, "attacker-state")

    with pytest.raises(OAuthStateMismatch):
        complete_oauth_onboarding(
            location, pending, app=app, state=state, adapter="inmemory", enqueue=None
        )

    assert state.registry.list() == []
    assert state.token_store(f"oauth:{company}").load() is None


def test_reonboarding_replaces_tokens_and_keeps_created_at(
    sandbox: PleoSandbox, app: OAuthApp, state: RuntimeState
) -> None:
    company = sandbox.add_company()
    results = []
    for _ in range(2):
        pending = begin_oauth_onboarding(app, extra_params={"company_id": company})
        with httpx.Client(transport=sandbox.transport()) as http:
            results.append(
                complete_oauth_onboarding(
                    _approve(sandbox, pending.url),
                    pending,
                    app=app,
                    state=state,
                    adapter="inmemory",
                    levels=(ScheduledLevel.EXPORT, ScheduledLevel.TAGS),
                    http_client=http,
                )
            )
    assert results[0].connection.created_at == results[1].connection.created_at
    assert results[1].connection.levels == (ScheduledLevel.TAGS, ScheduledLevel.EXPORT)
    assert len(state.registry.list()) == 1
    assert not results[1].queued  # no engine given: the tick runs the due rows

"""Checked by ``tests/orchestration/sync/test_sync_options.py`` with ``mypy --strict``: not run.

Each line that ends in a marker comment (hash, ``E:``, text) must get a mypy error containing
the text; every other line must type-check (PEP 692: a sync's keywords are one ``TypedDict``).
"""

# ruff: noqa: E501  (an expected error's marker stays on the line mypy reports)

from __future__ import annotations

import uuid

from typing_extensions import assert_type

from pleo_erp import (
    sync_accounts,
    sync_accounts_async,
    sync_chart_of_accounts,
    sync_tags,
    sync_tags_async,
    sync_tax_codes,
    sync_tax_codes_async,
)
from pleo_erp.client import AsyncPleoClient, PleoClient
from pleo_erp.domain.reconcile.accounts import AccountPlanOptions
from pleo_erp.orchestration.sync_report import SyncReport
from pleo_erp.testing.inmemory_sources import InMemorySources

COMPANY = uuid.UUID(int=1)


def well_typed(client: PleoClient, source: InMemorySources) -> None:
    report = sync_tags(client, source, company_id=COMPANY, selection=["DEP"], dry_run=True)
    assert_type(report, SyncReport)
    sync_accounts(client, source, company_id="c", options=AccountPlanOptions(), batch_threshold=5)
    sync_chart_of_accounts(client, source, company_id=COMPANY, granted_scopes="accounts:read")
    sync_tax_codes(client, source, company_id=COMPANY, force=True, page_size=100, lock=None)


async def well_typed_async(client: AsyncPleoClient, source: InMemorySources) -> None:
    report = await sync_tags_async(client, source, company_id=COMPANY, only_dimension="DEP")
    assert_type(report, SyncReport)
    await sync_accounts_async(client, source, company_id=COMPANY, batch_threshold=1)


# fmt: off
def ill_typed(client: PleoClient, aclient: AsyncPleoClient, source: InMemorySources) -> None:
    sync_tags(client, source, company_id=COMPANY, dryrun=True)  # E: Unexpected keyword argument "dryrun"
    sync_tags(client, source, dry_run=True)  # E: Missing named argument "company_id"
    sync_accounts(client, source, company_id=COMPANY, batch_threshold="2")  # E: Argument "batch_threshold"
    sync_tax_codes(client, source, company_id=COMPANY, options=AccountPlanOptions())  # E: Unexpected keyword argument "options"
    sync_tags(aclient, source, company_id=COMPANY)  # E: Argument 1 to "sync_tags" has incompatible type


async def ill_typed_async(client: PleoClient, aclient: AsyncPleoClient, source: InMemorySources) -> None:
    await sync_tax_codes_async(client, source, company_id=COMPANY)  # E: Argument 1 to "sync_tax_codes_async" has incompatible type
    await sync_accounts_async(aclient, source, company_id=COMPANY, selection=["A"])  # E: Unexpected keyword argument "selection"
# fmt: on

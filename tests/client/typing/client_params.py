"""Checked by ``tests/client/test_client_params.py`` with ``mypy --strict``: not run, not collected.

Each line that ends in a marker comment (hash, ``E:``, text) must get a mypy error containing
the text; every other line must type-check (PEP 692: the keywords of a resource method are one ``TypedDict``).
"""

# ruff: noqa: E501  (an expected error's marker stays on the line mypy reports)

from __future__ import annotations

import uuid
from decimal import Decimal

from typing_extensions import assert_type

from pleo_erp.client import AsyncPleoClient, PleoClient
from pleo_erp.client.pagination import Paginator
from pleo_erp.models import (
    BookkeepingAccountRestModelV1,
    TagGroupModel,
    TagModel,
    TaxCodeModel,
)

COMPANY = uuid.UUID(int=1)


def well_typed(client: PleoClient) -> None:
    tax = client.tax_codes.create(COMPANY, name="VAT", rate=Decimal("0.25"), type="inclusive")
    assert_type(tax, TaxCodeModel)
    assert_type(client.tax_codes.search(COMPANY, archived=False), Paginator[TaxCodeModel])
    account = client.accounts.create(COMPANY, external_id="4000", name="Sales", code=None)
    assert_type(account, BookkeepingAccountRestModelV1)
    client.accounts.update(account.id, name="Sales", archived=False)
    group = client.tag_groups.create(COMPANY, code="DEPT", name="Department")
    assert_type(group, TagGroupModel)
    tag = client.tags.create(group.id, code="D1", name="Design")
    assert_type(tag, TagModel)
    client.tags.update(tag.id, code="D1", archived=True)
    client.subscriptions.create(
        "https://example.test/hook", ["v1.export-job.created"], status="ACTIVE"
    )
    client.export_jobs.create(COMPANY, [], vendor_based_bookkeeping=True)
    assert_type(client.with_options(max_retries=0), PleoClient)
    client.export_jobs.list(company_id=COMPANY, statuses=["pending", "failed"], page_size=50)
    client.tags.list(uuid.uuid4(), include_archived=True)
    client.tag_groups.list(COMPANY, include_tags_count=True)
    client.subscriptions.list(status="ACTIVE", event_types="v1.export-job.created")


def well_typed_clients() -> None:
    PleoClient(None, base_url="staging", timeout=2.0, max_retries=1, requests_per_minute=None)
    assert_type(AsyncPleoClient(None, max_retry_after=5.0).with_options(), AsyncPleoClient)


async def well_typed_async(client: AsyncPleoClient) -> None:
    tax = await client.tax_codes.create(COMPANY, name="VAT", rate="0.25", type="inclusive")
    assert_type(tax, TaxCodeModel)


# fmt: off
def wrong_client_options() -> None:
    PleoClient(None, max_retrys=1)  # E: "max_retrys"
    AsyncPleoClient(None, timeout="2")  # E: "timeout"
    AsyncPleoClient(None, receipt_policy=None)  # E: "receipt_policy"


def wrong_keywords(client: PleoClient) -> None:
    client.tax_codes.create(COMPANY, name="VAT", rate=1, type="inclusive", ingoing_tax_acount="x")  # E: "ingoing_tax_acount"
    client.tax_codes.create(COMPANY, name="VAT", rate=1)  # E: Missing named argument "type"
    client.tax_codes.create(COMPANY, name="VAT", rate=0.25, type="inclusive")  # E: "rate"
    client.tax_codes.update(uuid.uuid4(), name="VAT", rate=1, type="reverse", archived=False)  # E: "company_id"
    client.accounts.create(COMPANY, external_id="4000", name="Sales", taxcode="V")  # E: "taxcode"
    client.accounts.update(uuid.uuid4(), name="Sales")  # E: Missing named argument "archived"
    client.accounts.search(COMPANY, exclude_if_assigned_to_category="yes")  # E: "exclude_if_assigned_to_category"
    client.tags.create(uuid.uuid4(), code=5)  # E: "code"
    client.tag_groups.update(uuid.uuid4(), code="D", name="Dept", archived=False)  # E: Missing named argument "metadata"
    client.subscriptions.create("https://example.test/hook", ["v1.export-job.created"], secret="x")  # E: "secret"
    client.export_jobs.create(COMPANY, [], vendor_based_bookkeping=True)  # E: "vendor_based_bookkeping"
    client.export_jobs.list(company_id=COMPANY, status="pending")  # E: "status"
    client.tags.list(uuid.uuid4(), include_archived="yes")  # E: "include_archived"
    client.subscriptions.list(page_size="10")  # E: "page_size"


async def wrong_keywords_async(client: AsyncPleoClient) -> None:
    await client.tax_codes.create(COMPANY, name="VAT", rate=1, type="reverse", colour="red")  # E: "colour"
# fmt: on

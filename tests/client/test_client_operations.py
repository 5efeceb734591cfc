"""Wire tests for every client operation, sync and async (pytest-httpx).

Each case states the exact requests the operation must send (method, path, query with
snake_case names and repeated keys, camelCase JSON body) and the canned responses; the same
case runs against ``PleoClient`` and ``AsyncPleoClient``. Every request is also checked for the
User-Agent, Accept, Basic Authorization and (with a body) Content-Type headers.
Rule ids (``export-N``, ``accounts-N``) resolve in docs/rules.md.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from pleo_erp.client import (
    PRODUCTION,
    STAGING,
    ApiKeyAuth,
    AsyncPaginator,
    AsyncPleoClient,
    Paginator,
    PleoClient,
)
from pleo_erp.models import UpdateExportJobItemV3
from pleo_erp.models.export_jobs import ExportJobItemFailureReasonType, ExportJobItemStatus

KEY = "test-api-key"
BASIC = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
COMPANY = uuid.UUID("0b5f0e3c-5c2d-4a56-9f0c-6a1f3c1d2e01")
JOB = uuid.UUID("6f1c1a52-8e0b-4a57-9a59-2f6f2d7c3a10")
ENTRY = uuid.UUID("4d2e8a11-0c3b-4f5e-8a7d-1b2c3d4e5f60")
GROUP = uuid.UUID("7a7a7a7a-1111-4222-8333-944444444444")
TAG = uuid.UUID("8b8b8b8b-1111-4222-8333-955555555555")
ACCOUNT = uuid.UUID("9c9c9c9c-1111-4222-8333-966666666666")
TAX = uuid.UUID("adadadad-1111-4222-8333-977777777777")
SUB = uuid.UUID("bebebebe-1111-4222-8333-988888888888")
NOW = "2024-05-01T10:00:00Z"

NO_BODY = object()

# Building an SSL context costs ~0.1 s; share one so the suite stays fast.
SSL = ssl.create_default_context()


# -- canned response objects (spec-shaped) -------------------------------------------------------

JOB_JSON = {
    "id": str(JOB),
    "companyId": str(COMPANY),
    "status": "pending",
    "createdAt": NOW,
    "expiresIn": 3600,
    "numberOfItems": 2,
    "isInteractive": True,
    "vendorBasedBookkeeping": False,
}
JOB_ITEM_JSON = {"accountingEntryId": str(ENTRY), "exportJobId": str(JOB), "status": "pending"}
MONEY = {"currency": "DKK", "value": 12500}
EXPORT_ITEM_JSON = {
    "_links": {},
    "accountingEntryId": str(ENTRY),
    "accountingEntryLines": [
        {
            "accountingEntryLineId": str(uuid.UUID(int=11)),
            "lineAmount": {"inSupplierCurrency": MONEY, "inWalletCurrency": MONEY},
            "netAmount": {"inSupplierCurrency": MONEY, "inWalletCurrency": MONEY},
        }
    ],
    "additionalInformation": {"reconciliationId": "rec-1"},
    "amount": {"inSupplierCurrency": MONEY, "inWalletCurrency": MONEY},
    "companyId": str(COMPANY),
    "date": NOW,
    "type": "card_purchase",
}
GROUP_JSON = {
    "id": str(GROUP),
    "companyId": str(COMPANY),
    "code": "PROJ",
    "name": "Projects",
    "archived": False,
    "metadata": {},
    "createdAt": NOW,
    "updatedAt": NOW,
}
TAG_JSON = {
    "id": str(TAG),
    "groupId": str(GROUP),
    "code": "P-1",
    "name": "Project 1",
    "archived": False,
    "createdAt": NOW,
    "updatedAt": NOW,
}
ACCOUNT_JSON = {
    "id": str(ACCOUNT),
    "companyId": str(COMPANY),
    "externalId": "ext-1000",
    "code": "1000",
    "name": "Bank",
    "archived": False,
}
TAX_JSON = {
    "id": str(TAX),
    "companyId": str(COMPANY),
    "name": "VAT 25%",
    "code": "25",
    "rate": 0.25,
    "type": "inclusive",
    "archived": False,
    "createdAt": NOW,
    "updatedAt": NOW,
}
INSTALLATION_JSON = {
    "id": str(uuid.UUID(int=21)),
    "applicationId": str(uuid.UUID(int=22)),
    "resource": f"urn:pleo:company:{COMPANY}",
    "status": "ACTIVATED",
    "metadata": {},
    "createdAt": NOW,
    "updatedAt": NOW,
}
SUB_JSON = {
    "id": str(SUB),
    "endpointUrl": "https://erp.example.com/hooks/pleo",
    "eventTypes": ["v1.export-job.created"],
    "status": "ACTIVE",
    "createdAt": NOW,
    "updatedAt": NOW,
}


def page_of(*items: Any, cursor: str | None = None) -> dict[str, Any]:
    pagination: dict[str, Any] = {
        "currentRequestPagination": {"parameters": {}},
        "hasNextPage": cursor is not None,
        "hasPreviousPage": False,
    }
    if cursor:
        pagination["endCursor"] = cursor
    return {"data": list(items), "pagination": pagination}


# -- the case table ------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One expected request and the response it gets."""

    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    body: Any = NO_BODY
    status: int = 200
    response: Any = None


@dataclass
class Case:
    id: str
    invoke: Callable[[Any], Any]
    exchanges: list[Exchange]
    check: Callable[[Any], bool] = lambda _: True


def _update(n: int) -> dict[str, Any]:
    return {"accountingEntryId": str(uuid.UUID(int=1000 + n)), "status": "successful"}


UPDATES_250: list[Any] = [_update(n) for n in range(250)]
UPDATES_250[0] = UpdateExportJobItemV3(  # a typed update among dicts
    accounting_entry_id=uuid.UUID(int=1000),
    status=ExportJobItemStatus.SUCCESSFUL,
    external_id="JE-1",
)
UPDATES_250[249] = {
    "accountingEntryId": str(uuid.UUID(int=1249)),
    "status": "failed",
    "failureReason": "No such vendor in the ERP",
    "failureReasonType": ExportJobItemFailureReasonType.VENDOR_UNKNOWN,
}
_UPDATE_WIRE = [_update(n) for n in range(250)]
_UPDATE_WIRE[0] = {**_UPDATE_WIRE[0], "externalId": "JE-1"}
_UPDATE_WIRE[249] = {
    **_UPDATE_WIRE[249],
    "status": "failed",
    "failureReason": "No such vendor in the ERP",
    "failureReasonType": "vendor_unknown",
}


def _update_response(chunk: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": [
            {
                "accountingEntryId": u["accountingEntryId"],
                "exportJobId": str(JOB),
                "status": u["status"],
            }
            for u in chunk
        ],
        "errors": errors,
    }


def _check_update_result(result: Any) -> bool:
    assert result.requests == 3
    assert len(result.items) == 250
    assert [e.type for e in result.errors] == [
        "ACCOUNTING_ENTRY_DOES_NOT_EXIST",
        "EXPORT_ENTRY_STATUS_UPDATE_FAILED",
    ]
    assert result.errors_of_type("accounting_entry_does_not_exist")[0].accounting_entry_id == (
        uuid.UUID(int=1005)
    )
    assert result.failed_entry_ids() == {uuid.UUID(int=1005), uuid.UUID(int=1210)}
    assert not result.ok
    return True


_BATCH_ITEMS = [
    {"externalId": f"ext-{n}", "name": f"Account {n}", "archived": False} for n in range(2500)
]


def _batch_response(chunk: list[dict[str, Any]], failed: int) -> dict[str, Any]:
    created = [
        {**ACCOUNT_JSON, "id": str(uuid.UUID(int=5000 + i)), "externalId": item["externalId"]}
        for i, item in enumerate(chunk[failed:])
    ]
    return {
        "data": {
            "created": created,
            "failed": [
                {"reasons": ["EXTERNAL_ID_ALREADY_EXISTS"], "request": item}
                for item in chunk[:failed]
            ],
        }
    }


def _check_batch(result: Any) -> bool:
    assert result.requests == 3
    assert len(result.created) == 2500 - 3
    assert [f.request.external_id for f in result.failed] == ["ext-0", "ext-1000", "ext-2000"]
    assert result.failed[0].reasons[0] == "EXTERNAL_ID_ALREADY_EXISTS"
    return True


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


TAG_IDS = [uuid.UUID(int=7000 + n) for n in range(150)]

CASES = [
    # ---- export jobs (Level 1) ----
    Case(
        "export_jobs.list",
        lambda c: c.export_jobs.list(
            company_id=COMPANY, statuses=["pending", "in_progress"], page_size=50
        ),
        [
            Exchange(
                "GET",
                "/v3/export-jobs",
                [
                    ("company_id", str(COMPANY)),
                    ("statuses", "pending"),
                    ("statuses", "in_progress"),
                    ("limit", "50"),
                ],
                response=page_of(JOB_JSON, cursor="AAAA"),
            ),
            Exchange(
                "GET",
                "/v3/export-jobs",
                [
                    ("company_id", str(COMPANY)),
                    ("statuses", "pending"),
                    ("statuses", "in_progress"),
                    ("limit", "50"),
                    ("after", "AAAA"),
                ],
                response=page_of(JOB_JSON),
            ),
        ],
        lambda jobs: [j.id for j in jobs] == [JOB, JOB],
    ),
    Case(
        "export_jobs.list_single_status",
        lambda c: c.export_jobs.list(company_id=str(COMPANY), statuses="pending"),
        [
            Exchange(
                "GET",
                "/v3/export-jobs",
                [("company_id", str(COMPANY)), ("statuses", "pending")],
                response=page_of(),
            )
        ],
    ),
    Case(
        "export_jobs.get",
        lambda c: c.export_jobs.get(JOB),
        [Exchange("GET", f"/v3/export-jobs/{JOB}", response={"data": JOB_JSON})],
        lambda job: job.expires_in == 3600,
    ),
    Case(
        "export_jobs.create",
        lambda c: c.export_jobs.create(COMPANY, [ENTRY], vendor_based_bookkeeping=True),
        [
            Exchange(
                "POST",
                "/v3/export-jobs",
                body={
                    "accountingEntryIds": [str(ENTRY)],
                    "companyId": str(COMPANY),
                    "options": {"vendorBasedBookkeeping": True},
                },
                status=201,
                response={"data": JOB_JSON},
            )
        ],
        lambda job: job.id == JOB,
    ),
    Case(
        "export_jobs.send_event_started",
        lambda c: c.export_jobs.send_event(JOB, "started"),
        [
            Exchange(
                "POST",
                "/v3/export-job-events",
                body={"event": "started", "jobId": str(JOB)},
                status=202,
            )
        ],
        lambda result: result is None,
    ),
    Case(
        "export_jobs.send_event_failed",
        lambda c: c.export_jobs.send_event(
            JOB, "failed", "ERP credentials revoked", "accounting_system_authentication_failure"
        ),
        [
            Exchange(
                "POST",
                "/v3/export-job-events",
                body={
                    "event": "failed",
                    "jobId": str(JOB),
                    "failureReason": "ERP credentials revoked",
                    "failureReasonType": "accounting_system_authentication_failure",
                },
                status=202,
            )
        ],
    ),
    Case(
        "export_jobs.list_items",
        lambda c: c.export_jobs.list_items(JOB, "pending"),
        [
            Exchange(
                "GET",
                f"/v3/export-jobs/{JOB}/items",
                [("status", "pending")],
                response=page_of(JOB_ITEM_JSON),
            )
        ],
        lambda items: items[0].accounting_entry_id == ENTRY,
    ),
    Case(
        "export_jobs.update_items_250",
        lambda c: c.export_jobs.update_items(JOB, UPDATES_250),
        [
            Exchange(
                "PUT",
                f"/v3/export-jobs/{JOB}/items",
                body=chunk,
                response=_update_response(chunk, errors),
            )
            for chunk, errors in zip(
                _chunks(_UPDATE_WIRE, 100),
                [
                    [
                        {
                            "accountingEntryId": str(uuid.UUID(int=1005)),
                            "message": "no such entry",
                            "type": "ACCOUNTING_ENTRY_DOES_NOT_EXIST",
                        }
                    ],
                    [],
                    [
                        {
                            "accountingEntryId": str(uuid.UUID(int=1210)),
                            "message": "could not update",
                            "type": "EXPORT_ENTRY_STATUS_UPDATE_FAILED",
                        }
                    ],
                ],
                strict=True,
            )
        ],
        _check_update_result,
    ),
    # ---- export items ----
    Case(
        "export_items.list",
        lambda c: c.export_items.list(JOB, page_size=100),
        [
            Exchange(
                "GET",
                "/v3/export-items",
                [("job_id", str(JOB)), ("limit", "100")],
                response=page_of(EXPORT_ITEM_JSON),
            )
        ],
        lambda items: items[0].amount.in_wallet_currency.value == 12500,
    ),
    # ---- tag groups (Level 2) ----
    Case(
        "tag_groups.list",
        lambda c: c.tag_groups.list(COMPANY, include_archived=True),
        [
            Exchange(
                "GET",
                "/v0/tag-groups",
                [("company_id", str(COMPANY)), ("include_archived", "true")],
                response={"data": [GROUP_JSON]},
            )
        ],
        lambda groups: groups[0].code == "PROJ",
    ),
    Case(
        "tag_groups.get",
        lambda c: c.tag_groups.get(GROUP),
        [Exchange("GET", f"/v0/tag-groups/{GROUP}", response={"data": GROUP_JSON})],
    ),
    Case(
        "tag_groups.create",
        lambda c: c.tag_groups.create(COMPANY, code="PROJ", name="Projects"),
        [
            Exchange(
                "POST",
                "/v0/tag-groups",
                [("company_id", str(COMPANY))],
                body={"archived": False, "code": "PROJ", "name": "Projects"},
                response={"data": GROUP_JSON},
            )
        ],
    ),
    Case(
        "tag_groups.update",
        lambda c: c.tag_groups.update(
            GROUP, code="PROJ", name="Projects", archived=True, metadata={"source": "erp"}
        ),
        [
            Exchange(
                "PUT",
                f"/v0/tag-groups/{GROUP}",
                body={
                    "archived": True,
                    "code": "PROJ",
                    "metadata": {"source": "erp"},
                    "name": "Projects",
                },
                response={"data": GROUP_JSON},
            )
        ],
    ),
    # ---- tags ----
    Case(
        "tags.list",
        lambda c: c.tags.list(GROUP, include_archived=True, page_size=500),
        [
            Exchange(
                "GET",
                f"/v0/tag-groups/{GROUP}/tags",
                [("include_archived", "true"), ("limit", "500")],
                response=page_of(TAG_JSON),
            )
        ],
        lambda tags: tags[0].code == "P-1",
    ),
    Case(
        "tags.search",
        lambda c: c.tags.search(COMPANY, tag_group_ids=[GROUP], include_archived=True),
        [
            Exchange(
                "POST",
                "/v0/tags:search",
                [("company_id", str(COMPANY))],
                body={"includeArchived": True, "tagGroupIds": [str(GROUP)]},
                response=page_of(TAG_JSON),
            )
        ],
    ),
    Case(
        "tags.create",
        lambda c: c.tags.create(GROUP, code="P-1", name="Project 1"),
        [
            Exchange(
                "POST",
                f"/v0/tag-groups/{GROUP}/tags",
                body={"archived": False, "code": "P-1", "name": "Project 1"},
                status=201,
                response={"data": TAG_JSON},
            )
        ],
    ),
    Case(
        "tags.get",
        lambda c: c.tags.get(TAG),
        [Exchange("GET", f"/v0/tags/{TAG}", response={"data": TAG_JSON})],
    ),
    Case(
        "tags.update",
        lambda c: c.tags.update(TAG, code="P-1", archived=True, name="Project 1"),
        [
            Exchange(
                "PUT",
                f"/v0/tags/{TAG}",
                body={"archived": True, "code": "P-1", "name": "Project 1"},
                response={"data": TAG_JSON},
            )
        ],
    ),
    Case(
        "tags.archive_150",
        lambda c: c.tags.archive(TAG_IDS, company_id=COMPANY),
        [
            Exchange(
                "POST",
                "/v0/tags/archive",
                body={
                    "archived": True,
                    "companyId": str(COMPANY),
                    "tagIds": [str(t) for t in chunk],
                },
                response={"data": [TAG_JSON] * len(chunk)},
            )
            for chunk in _chunks(TAG_IDS, 100)
        ],
        lambda tags: len(tags) == 150,
    ),
    # ---- chart of accounts (Level 3) ----
    Case(
        "accounts.create",
        lambda c: c.accounts.create(
            COMPANY, external_id="ext-1000", name="Bank", code="1000", tax_code_external_id="25"
        ),
        [
            Exchange(
                "POST",
                "/v1/chart-of-accounts",
                body={
                    "archived": False,
                    "companyId": str(COMPANY),
                    "externalId": "ext-1000",
                    "name": "Bank",
                    "code": "1000",
                    "taxCodeExternalId": "25",
                },
                status=201,
                response={"data": ACCOUNT_JSON},
            )
        ],
        lambda account: account.external_id == "ext-1000",
    ),
    Case(
        "accounts.create_matched_existing_200",
        lambda c: c.accounts.create(COMPANY, external_id="ext-1000", name="Bank"),
        [
            Exchange(
                "POST",
                "/v1/chart-of-accounts",
                body={
                    "archived": False,
                    "companyId": str(COMPANY),
                    "externalId": "ext-1000",
                    "name": "Bank",
                },
                status=200,
                response={"data": ACCOUNT_JSON},
            )
        ],
    ),
    Case(
        "accounts.create_batch_2500",
        lambda c: c.accounts.create_batch(COMPANY, _BATCH_ITEMS),
        [
            Exchange(
                "POST",
                "/v1/chart-of-accounts/batch",
                body={"companyId": str(COMPANY), "items": chunk},
                status=201,
                response=_batch_response(chunk, failed=1),
            )
            for chunk in _chunks(_BATCH_ITEMS, 1000)
        ],
        _check_batch,
    ),
    Case(
        "accounts.get",
        lambda c: c.accounts.get(ACCOUNT),
        [Exchange("GET", f"/v1/chart-of-accounts/{ACCOUNT}", response={"data": ACCOUNT_JSON})],
    ),
    Case(
        "accounts.update_complete_body",
        lambda c: c.accounts.update(ACCOUNT, name="Bank", archived=True, code="1000"),
        [
            Exchange(
                "PUT",
                f"/v1/chart-of-accounts/{ACCOUNT}",
                body={
                    "archived": True,
                    "name": "Bank",
                    "code": "1000",
                    "taxCodeExternalId": None,
                    "metadata": None,
                },
                response={"data": ACCOUNT_JSON},
            )
        ],
    ),
    Case(
        "accounts.delete",
        lambda c: c.accounts.delete(ACCOUNT),
        [Exchange("DELETE", f"/v1/chart-of-accounts/{ACCOUNT}", status=204)],
    ),
    Case(
        "accounts.search",
        lambda c: c.accounts.search(COMPANY, page_size=200),
        [
            Exchange(
                "POST",
                "/v1/chart-of-accounts:search",
                [("limit", "200")],
                body={
                    "companyId": str(COMPANY),
                    "excludeIfAssignedToCategory": False,
                    "excludeIfAssignedToContraAccount": False,
                },
                response=page_of(ACCOUNT_JSON, cursor="BBBB"),
            ),
            Exchange(
                "POST",
                "/v1/chart-of-accounts:search",
                [("limit", "200"), ("after", "BBBB")],
                body={
                    "companyId": str(COMPANY),
                    "excludeIfAssignedToCategory": False,
                    "excludeIfAssignedToContraAccount": False,
                },
                response=page_of(ACCOUNT_JSON),
            ),
        ],
        lambda accounts: len(accounts) == 2,
    ),
    Case(
        "accounts.search_archived_filter",
        lambda c: c.accounts.search(COMPANY, archived=False, codes=["1000", "2000"]),
        [
            Exchange(
                "POST",
                "/v1/chart-of-accounts:search",
                body={
                    "companyId": str(COMPANY),
                    "excludeIfAssignedToCategory": False,
                    "excludeIfAssignedToContraAccount": False,
                    "archived": False,
                    "codes": ["1000", "2000"],
                },
                response=page_of(),
            )
        ],
    ),
    # ---- tax codes ----
    Case(
        "tax_codes.create",
        lambda c: c.tax_codes.create(
            COMPANY, name="VAT 25%", rate=Decimal("0.25"), type="inclusive", code="25"
        ),
        [
            Exchange(
                "POST",
                "/v0/tax-codes",
                body={
                    "archived": False,
                    "companyId": str(COMPANY),
                    "name": "VAT 25%",
                    "rate": 0.25,
                    "type": "inclusive",
                    "code": "25",
                    "ingoingTaxAccount": None,
                    "outgoingTaxAccount": None,
                },
                response={"data": TAX_JSON},
            )
        ],
        lambda tax: tax.rate == Decimal("0.25"),
    ),
    Case(
        "tax_codes.get",
        lambda c: c.tax_codes.get(TAX),
        [Exchange("GET", f"/v0/tax-codes/{TAX}", response={"data": TAX_JSON})],
    ),
    Case(
        "tax_codes.update",
        lambda c: c.tax_codes.update(
            TAX, company_id=COMPANY, name="VAT 25%", rate="0.25", type="reverse", archived=True
        ),
        [
            Exchange(
                "PUT",
                f"/v0/tax-codes/{TAX}",
                body={
                    "archived": True,
                    "companyId": str(COMPANY),
                    "name": "VAT 25%",
                    "rate": 0.25,
                    "type": "reverse",
                    "code": None,
                    "ingoingTaxAccount": None,
                    "outgoingTaxAccount": None,
                },
                response={"data": TAX_JSON},
            )
        ],
    ),
    Case(
        "tax_codes.delete",
        lambda c: c.tax_codes.delete(TAX),
        [Exchange("DELETE", f"/v0/tax-codes/{TAX}", status=204)],
    ),
    Case(
        "tax_codes.search",
        lambda c: c.tax_codes.search(COMPANY, archived=False),
        [
            Exchange(
                "POST",
                "/v0/tax-codes:search",
                [("company_id", str(COMPANY))],
                body={"archived": False},
                response=page_of(TAX_JSON),
            )
        ],
    ),
    # ---- installations ----
    Case(
        "installations.me",
        lambda c: c.installations.me(COMPANY),
        [
            Exchange(
                "GET",
                "/v1/installations/me",
                [("company_id", str(COMPANY))],
                response=INSTALLATION_JSON,
            )
        ],
        lambda inst: inst.status == "ACTIVATED",
    ),
    Case(
        "installations.create",
        lambda c: c.installations.create(status="PENDING_INTEGRATION"),
        [
            Exchange(
                "POST",
                "/v1/installations/me",
                body={"status": "PENDING_INTEGRATION"},
                response=INSTALLATION_JSON,
            )
        ],
    ),
    Case(
        "installations.update",
        lambda c: c.installations.update("ERROR", error_code="AUTH_ERROR"),
        [
            Exchange(
                "PUT",
                "/v1/installations/me",
                body={"status": "ERROR", "errorCode": "AUTH_ERROR"},
                response=INSTALLATION_JSON,
            )
        ],
    ),
    Case(
        "installations.activate",
        lambda c: c.installations.activate(),
        [Exchange("POST", "/v1/installations/me:activate", response=INSTALLATION_JSON)],
    ),
    Case(
        "installations.delete",
        lambda c: c.installations.delete(),
        [Exchange("DELETE", "/v1/installations/me", status=204)],
    ),
    # ---- subscriptions ----
    Case(
        "subscriptions.list",
        lambda c: c.subscriptions.list(status="ACTIVE", event_types=["v1.export-job.created"]),
        [
            Exchange(
                "GET",
                "/v1/subscriptions",
                [("status", "ACTIVE"), ("event_types", "v1.export-job.created")],
                response=page_of(SUB_JSON),
            )
        ],
    ),
    Case(
        "subscriptions.create",
        lambda c: c.subscriptions.create(
            "https://erp.example.com/hooks/pleo", ["v1.export-job.created"]
        ),
        [
            Exchange(
                "POST",
                "/v1/subscriptions",
                body={
                    "endpointUrl": "https://erp.example.com/hooks/pleo",
                    "eventTypes": ["v1.export-job.created"],
                },
                response={"data": SUB_JSON},
            )
        ],
    ),
    Case(
        "subscriptions.get",
        lambda c: c.subscriptions.get(SUB),
        [Exchange("GET", f"/v1/subscriptions/{SUB}", response={"data": SUB_JSON})],
    ),
    Case(
        "subscriptions.update",
        lambda c: c.subscriptions.update(
            SUB, "https://erp.example.com/hooks/pleo", ["v1.export-job.created"], status="INACTIVE"
        ),
        [
            Exchange(
                "PUT",
                f"/v1/subscriptions/{SUB}",
                body={
                    "endpointUrl": "https://erp.example.com/hooks/pleo",
                    "eventTypes": ["v1.export-job.created"],
                    "status": "INACTIVE",
                },
                response={"data": SUB_JSON},
            )
        ],
    ),
    Case(
        "subscriptions.delete",
        lambda c: c.subscriptions.delete(SUB),
        [Exchange("DELETE", f"/v1/subscriptions/{SUB}", status=204)],
    ),
    Case(
        "subscriptions.secret",
        lambda c: c.subscriptions.secret(SUB),
        [
            Exchange(
                "GET",
                f"/v1/subscriptions/{SUB}/secret",
                response={"data": {"secretKey": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"}},
            )
        ],
        lambda s: s.secret_key.startswith("whsec_"),
    ),
    # ---- introspect ----
    Case(
        "introspect",
        lambda c: c.introspect(),
        [
            Exchange(
                "GET",
                "/v1/introspect",
                response={
                    "data": {
                        "authMethod": "API_KEY",
                        "clientId": "c-1",
                        "scope": "export-jobs:read export-items:read",
                        "applicationName": "Netsuite",
                        "subjectURN": f"urn:pleo:company:{COMPANY}",
                    }
                },
            )
        ],
        lambda me: me.company_id == COMPANY and "export-jobs:read" in me.scopes,
    ),
]


# -- running a case ------------------------------------------------------------------------------


def _register(httpx_mock: HTTPXMock, case: Case, base_url: str) -> None:
    for ex in case.exchanges:
        url = httpx.URL(base_url + ex.path, params=ex.params or None)
        if ex.response is None:
            httpx_mock.add_response(method=ex.method, url=url, status_code=ex.status)
        else:
            httpx_mock.add_response(
                method=ex.method, url=url, status_code=ex.status, json=ex.response
            )


def _verify(httpx_mock: HTTPXMock, case: Case, base_url: str) -> None:
    requests = httpx_mock.get_requests()
    assert len(requests) == len(case.exchanges)
    for request, ex in zip(requests, case.exchanges, strict=True):
        assert request.method == ex.method
        assert str(request.url).split("?")[0] == base_url + ex.path
        assert sorted(request.url.params.multi_items()) == sorted(ex.params)
        assert request.headers["Authorization"] == BASIC
        assert request.headers["Accept"] == "application/json"
        assert request.headers["User-Agent"].startswith("pleo-erp/")
        if ex.body is NO_BODY:
            assert request.content == b""
            assert "Content-Type" not in request.headers
        else:
            assert request.headers["Content-Type"] == "application/json;charset=UTF-8"
            assert json.loads(request.content) == ex.body
        assert "offset" not in request.url.params


def _materialize_sync(result: Any) -> Any:
    return result.to_list() if isinstance(result, Paginator) else result


async def _materialize_async(result: Any) -> Any:
    if isinstance(result, AsyncPaginator):
        return await result.to_list()
    if inspect.isawaitable(result):
        return await result
    return result


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_operation_sync(httpx_mock: HTTPXMock, case: Case) -> None:
    _register(httpx_mock, case, PRODUCTION)
    with (
        httpx.Client(verify=SSL) as http,
        PleoClient(ApiKeyAuth(KEY), http_client=http, requests_per_minute=None) as client,
    ):
        result = _materialize_sync(case.invoke(client))
    assert case.check(result), case.id
    _verify(httpx_mock, case, PRODUCTION)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_operation_async(httpx_mock: HTTPXMock, case: Case) -> None:
    _register(httpx_mock, case, STAGING)

    async def main() -> Any:
        async with (
            httpx.AsyncClient(verify=SSL) as http,
            AsyncPleoClient(
                ApiKeyAuth(KEY), base_url="staging", http_client=http, requests_per_minute=None
            ) as client,
        ):
            return await _materialize_async(case.invoke(client))

    assert case.check(asyncio.run(main())), case.id
    _verify(httpx_mock, case, STAGING)


# -- local validation: nothing is sent -----------------------------------------------------------


def _client() -> PleoClient:
    return PleoClient(
        ApiKeyAuth(KEY), http_client=httpx.Client(verify=SSL), requests_per_minute=None
    )


@pytest.mark.rule("export-3", "accounts-18", "accounts-26")
@pytest.mark.parametrize(
    ("invoke", "message"),
    [
        (lambda c: c.export_jobs.send_event(JOB, "failed", "x", "vendor_unknown"), "item-level"),
        (lambda c: c.export_jobs.send_event(JOB, "failed", "x", "made_up"), "failure_reason_type"),
        (lambda c: c.export_jobs.send_event(JOB, "completed", "why"), "only be sent"),
        (lambda c: c.export_jobs.send_event(JOB, "canceled"), "event must be one of"),
        (
            lambda c: c.export_jobs.update_items(
                JOB, [{**_update(1), "status": "failed", "failureReasonType": "pleo_rate_limit"}]
            ),
            "job-level",
        ),
        (lambda c: c.export_jobs.update_items(JOB, [{**_update(1), "extra": 1}]), "unknown"),
        (lambda c: c.export_jobs.update_items(JOB, [{"status": "failed"}]), "accountingEntryId"),
        (lambda c: c.export_jobs.update_items(JOB, [{**_update(1), "status": "x"}]), "status"),
        (lambda c: c.export_jobs.list(company_id="acme-org"), "company_id must be a UUID"),
        (lambda c: c.export_jobs.list(company_id=COMPANY, statuses=["nope"]), "statuses"),
        (lambda c: c.export_jobs.get(123), "job_id must be a UUID"),
        (lambda c: c.accounts.create(COMPANY, external_id="", name="Bank"), "external_id"),
        (lambda c: c.accounts.create(COMPANY, external_id="x", name="n" * 256), "name"),
        (lambda c: c.accounts.create(COMPANY, external_id="x", name="B", code="c" * 256), "code"),
        (
            lambda c: c.accounts.create_batch(COMPANY, [{"externalId": "x", "name": "B"}]),
            "archived is required",
        ),
        (lambda c: c.tax_codes.create(COMPANY, name="V", rate="x", type="inclusive"), "rate"),
        (lambda c: c.tax_codes.create(COMPANY, name="V", rate="0.2", type="flat"), "type"),
        (lambda c: c.subscriptions.create("ftp://x", ["v1.export-job.created"]), "endpoint_url"),
        (
            lambda c: c.subscriptions.create(
                "https://x.io", ["v1.export-job.created"], endpoint_auth={"type": 5}
            ),
            "endpoint_auth",
        ),
        (lambda c: c.subscriptions.list(status="PAUSED"), "status"),
        (
            lambda c: c.tag_groups.update(GROUP, code="c", name="n", archived=False, metadata=None),
            "metadata",
        ),
    ],
)
def test_invalid_arguments_send_nothing(
    httpx_mock: HTTPXMock, invoke: Callable[[Any], Any], message: str
) -> None:
    """export-3, accounts-18, accounts-26: bad arguments raise ValueError before any request."""
    with _client() as client, pytest.raises(ValueError, match=message):
        _materialize_sync(invoke(client))
    assert httpx_mock.get_requests() == []


def test_float_tax_rate_refused(httpx_mock: HTTPXMock) -> None:
    with _client() as client, pytest.raises(TypeError, match="float"):
        client.tax_codes.create(COMPANY, name="V", rate=0.25, type="inclusive")  # type: ignore[arg-type]
    assert httpx_mock.get_requests() == []


def test_empty_batches_send_nothing(httpx_mock: HTTPXMock) -> None:
    with _client() as client:
        assert client.accounts.create_batch(COMPANY, []).requests == 0
        assert client.export_jobs.update_items(JOB, []).requests == 0
        assert client.tags.archive([], company_id=COMPANY) == ()
    assert httpx_mock.get_requests() == []


@pytest.mark.rule("accounts-19")
def test_introspect_organisation_subject_has_no_company(httpx_mock: HTTPXMock) -> None:
    """Accounts rule 19: a non-company subject gives company_id=None."""
    httpx_mock.add_response(
        json={"data": {"authMethod": "OAUTH", "subjectURN": "urn:pleo:organization:abc"}}
    )
    with PleoClient(ApiKeyAuth(KEY)) as client:  # the client's own default httpx.Client
        me = client.introspect()
    assert me.company_id is None
    assert me.subject_urn == "urn:pleo:organization:abc"


def test_secret_never_in_repr(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"data": {"secretKey": "whsec_TOPSECRET"}})
    with _client() as client:
        secret = client.subscriptions.secret(SUB)
    assert "whsec_TOPSECRET" not in repr(secret)
    assert KEY not in repr(client)

"""Chart of Accounts API (``/v1/chart-of-accounts…``): the AS's GL accounts as Pleo holds them.

Accounts are matched to the AS by ``external_id`` (exact). A batch create takes 1–1000 items
and reports per-item failures in ``BookkeepingAccountBatchCreateResponseV1.failed``.

``None`` in a request: create and search bodies leave unset fields out; the update body
(a PUT that replaces the account) sends ``code``, ``metadata`` and ``tax_code_external_id``
as ``null`` when they are ``None``, because there ``null`` clears the value.
"""

from __future__ import annotations

import enum
import uuid
from typing import Any, TypeAlias

from attrs import define, field

from pleo_erp.models._fields import NULLABLE, SKIP_NULLS
from pleo_erp.models.common import CursorPage, DataResponse

__all__ = [
    "AggregatedBookkeepingCategoryGroupTypeRestModelV1",
    "BookkeepingAccountBatchCreateRequestV1",
    "BookkeepingAccountBatchCreateResponseV1",
    "BookkeepingAccountBatchFailedItemV1",
    "BookkeepingAccountBatchFailureReasonV1",
    "BookkeepingAccountBatchRequestItemV1",
    "BookkeepingAccountCreateRequestV1",
    "BookkeepingAccountRestModelV1",
    "BookkeepingAccountSearchRequestV1",
    "BookkeepingAccountUpdateRequestV1",
    "BookkeepingCategoryGroupTypeRestModelV5",
    "BookkeepingMethod",
    "CursorPaginatedResponseBookkeepingAccountRestModelV1",
    "DataResponseBookkeepingAccountBatchCreateResponseV1",
    "DataResponseBookkeepingAccountRestModelV1",
]


class BookkeepingAccountBatchFailureReasonV1(str, enum.Enum):
    """Why one account of a batch create failed (the spec's inline enum; open here)."""

    EXTERNAL_ID_ALREADY_EXISTS = "EXTERNAL_ID_ALREADY_EXISTS"
    EXTERNAL_ID_TOO_LONG = "EXTERNAL_ID_TOO_LONG"
    EXTERNAL_ID_EMPTY = "EXTERNAL_ID_EMPTY"
    NAME_TOO_LONG = "NAME_TOO_LONG"
    NAME_EMPTY = "NAME_EMPTY"
    CODE_TOO_LONG = "CODE_TOO_LONG"
    OTHER = "OTHER"


class BookkeepingMethod(str, enum.Enum):
    """Bookkeeping method a target system supports (chart-of-accounts spelling, upper case)."""

    NONE = "NONE"
    JOURNAL = "JOURNAL"
    ACCOUNTS_PAYABLE = "ACCOUNTS_PAYABLE"


class BookkeepingCategoryGroupTypeRestModelV5(str, enum.Enum):
    """Category-group types Pleo uses to classify expense categories in its apps."""

    ENTERTAINMENT = "ENTERTAINMENT"
    EQUIPMENT_AND_HARDWARE = "EQUIPMENT_AND_HARDWARE"
    MARKETING_AND_ADVERTISING = "MARKETING_AND_ADVERTISING"
    MEALS_AND_DRINKS = "MEALS_AND_DRINKS"
    OFFICE_EXPENSES = "OFFICE_EXPENSES"
    PHONE_AND_INTERNET = "PHONE_AND_INTERNET"
    SERVICES_AND_CONSULTANCY = "SERVICES_AND_CONSULTANCY"
    SOFTWARE = "SOFTWARE"
    SUPPLIES = "SUPPLIES"
    TRAVEL = "TRAVEL"
    OTHER = "OTHER"
    NO_SUITABLE_CATEGORY = "NO_SUITABLE_CATEGORY"


class AggregatedBookkeepingCategoryGroupTypeRestModelV1(str, enum.Enum):
    """Same values as ``BookkeepingCategoryGroupTypeRestModelV5`` (older API version)."""

    ENTERTAINMENT = "ENTERTAINMENT"
    EQUIPMENT_AND_HARDWARE = "EQUIPMENT_AND_HARDWARE"
    MARKETING_AND_ADVERTISING = "MARKETING_AND_ADVERTISING"
    MEALS_AND_DRINKS = "MEALS_AND_DRINKS"
    OFFICE_EXPENSES = "OFFICE_EXPENSES"
    PHONE_AND_INTERNET = "PHONE_AND_INTERNET"
    SERVICES_AND_CONSULTANCY = "SERVICES_AND_CONSULTANCY"
    SOFTWARE = "SOFTWARE"
    SUPPLIES = "SUPPLIES"
    TRAVEL = "TRAVEL"
    OTHER = "OTHER"
    NO_SUITABLE_CATEGORY = "NO_SUITABLE_CATEGORY"


@define(frozen=True)
class BookkeepingAccountRestModelV1:
    """An account in Pleo. ``external_id`` is the AS's id of the account (the match key),
    ``code`` its account number, ``tax_code_external_id`` the AS id of its default tax code."""

    archived: bool
    company_id: uuid.UUID
    external_id: str
    id: uuid.UUID
    name: str
    code: str | None = field(default=None, metadata=NULLABLE)
    metadata: dict[str, Any] | None = field(default=None, metadata=NULLABLE)
    tax_code_external_id: str | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class BookkeepingAccountCreateRequestV1:
    """Body of ``POST /v1/chart-of-accounts``."""

    archived: bool
    company_id: uuid.UUID
    external_id: str
    name: str
    code: str | None = None
    metadata: dict[str, Any] | None = None
    tax_code_external_id: str | None = None


@define(frozen=True)
class BookkeepingAccountBatchRequestItemV1:
    """One account of a batch create (no company id: the batch carries it)."""

    archived: bool
    external_id: str
    name: str
    code: str | None = None
    metadata: dict[str, Any] | None = None
    tax_code_external_id: str | None = None


@define(frozen=True)
class BookkeepingAccountBatchCreateRequestV1:
    """Body of ``POST /v1/chart-of-accounts/batch`` (1–1000 items)."""

    company_id: uuid.UUID
    items: tuple[BookkeepingAccountBatchRequestItemV1, ...]


@define(frozen=True)
class BookkeepingAccountBatchFailedItemV1:
    """An item of a batch that was not created, with every reason."""

    reasons: tuple[BookkeepingAccountBatchFailureReasonV1 | str, ...]
    request: BookkeepingAccountBatchRequestItemV1


@define(frozen=True)
class BookkeepingAccountBatchCreateResponseV1:
    """Result of a batch create: the accounts created and the items that failed."""

    created: tuple[BookkeepingAccountRestModelV1, ...]
    failed: tuple[BookkeepingAccountBatchFailedItemV1, ...]


@define(frozen=True)
class BookkeepingAccountUpdateRequestV1:
    """Body of ``PUT /v1/chart-of-accounts/{accountId}``; ``None`` clears a field (sent as
    ``null``). Unarchive by sending ``archived=False``."""

    archived: bool
    name: str
    code: str | None = field(default=None, metadata=NULLABLE)
    metadata: dict[str, Any] | None = field(default=None, metadata=NULLABLE)
    tax_code_external_id: str | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class BookkeepingAccountSearchRequestV1:
    """Body of ``POST /v1/chart-of-accounts:search``. Unset filters are not sent.

    ``code`` is deprecated in favour of ``codes``.
    """

    company_id: uuid.UUID
    exclude_if_assigned_to_category: bool = False
    exclude_if_assigned_to_contra_account: bool = False
    archived: bool | None = None
    code: str | None = None
    codes: tuple[str, ...] | None = field(default=None, metadata=SKIP_NULLS)
    external_id: str | None = None
    ids: tuple[uuid.UUID, ...] | None = field(default=None, metadata=SKIP_NULLS)
    name: str | None = None


DataResponseBookkeepingAccountRestModelV1: TypeAlias = DataResponse[BookkeepingAccountRestModelV1]
"""One account (create, get, update)."""

DataResponseBookkeepingAccountBatchCreateResponseV1: TypeAlias = DataResponse[
    BookkeepingAccountBatchCreateResponseV1
]
"""``POST /v1/chart-of-accounts/batch`` response."""

CursorPaginatedResponseBookkeepingAccountRestModelV1: TypeAlias = CursorPage[
    BookkeepingAccountRestModelV1
]
"""``POST /v1/chart-of-accounts:search`` pages."""

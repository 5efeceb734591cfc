"""Tax Codes API (``/v0/tax-codes…``): the AS's tax codes as Pleo holds them.

``rate`` is a fraction (``Decimal("0.25")`` is 25 %), exact as ``Decimal``. The tax-calculation
endpoint has its own money shape, ``Money`` (``currency`` + ``minors``), distinct from the
Export API's ``MoneyModel``.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import TypeAlias

from attrs import define, field

from pleo_erp.models._fields import NULLABLE
from pleo_erp.models.common import CursorPage, DataResponse

__all__ = [
    "AmountTaxBreakdown",
    "CalculateTaxesRequest",
    "CalculateTaxesResponse",
    "CursorPaginatedResponseTaxCodeModel",
    "DataResponseCalculateTaxesResponse",
    "DataResponseTaxCodeModel",
    "Money",
    "TaxCodeCreateUpdateModel",
    "TaxCodeModel",
    "TaxCodeSearchRequest",
    "TaxCodeTypeModel",
    "TaxedAmount",
    "Taxes",
]


class TaxCodeTypeModel(str, enum.Enum):
    """Tax treatment of a tax code (Pleo notes that ``exclusive`` is not yet supported)."""

    INCLUSIVE = "inclusive"
    EXCLUSIVE = "exclusive"
    REVERSE = "reverse"


@define(frozen=True)
class TaxCodeModel:
    """A tax code; ``code`` is its id in the AS, the tax accounts serve reverse charge."""

    archived: bool
    company_id: uuid.UUID
    created_at: dt.datetime
    id: uuid.UUID
    name: str
    rate: Decimal
    type: TaxCodeTypeModel | str
    updated_at: dt.datetime
    accounting_integration_system: str | None = field(default=None, metadata=NULLABLE)
    code: str | None = field(default=None, metadata=NULLABLE)
    ingoing_tax_account: str | None = field(default=None, metadata=NULLABLE)
    outgoing_tax_account: str | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class TaxCodeCreateUpdateModel:
    """Body of ``POST /v0/tax-codes`` and ``PUT /v0/tax-codes/{taxCodeId}``.

    ``None`` for ``code`` or a tax account is sent as ``null`` (the PUT clears it).
    """

    archived: bool
    company_id: uuid.UUID
    name: str
    rate: Decimal
    type: TaxCodeTypeModel
    code: str | None = field(default=None, metadata=NULLABLE)
    ingoing_tax_account: str | None = field(default=None, metadata=NULLABLE)
    outgoing_tax_account: str | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class TaxCodeSearchRequest:
    """Body of ``POST /v0/tax-codes:search``; unset filters are not sent (both archived
    and active codes are returned unless ``archived`` is set)."""

    archived: bool | None = None
    code: str | None = None
    tax_code_ids: tuple[uuid.UUID, ...] | None = None
    type: TaxCodeTypeModel | None = None


@define(frozen=True)
class Money:
    """Amount of the tax-calculation endpoint: integer ``minors`` of ``currency``."""

    currency: str
    minors: int


@define(frozen=True)
class TaxedAmount:
    """An amount to compute tax for, tagged with the caller's ``id``."""

    amount: Money
    id: str


@define(frozen=True)
class CalculateTaxesRequest:
    """Body of ``POST /v0/tax-codes:calculate-tax-amounts``: amounts per tax-code id."""

    amounts_by_tax_code_id: dict[str, tuple[TaxedAmount, ...]]


@define(frozen=True)
class AmountTaxBreakdown:
    """Gross, net and tax of one amount."""

    gross: Money
    net: Money
    tax: Money


@define(frozen=True)
class Taxes:
    """The breakdown of the amount the caller tagged with ``id``."""

    amount_tax_breakdown: AmountTaxBreakdown
    id: str


@define(frozen=True)
class CalculateTaxesResponse:
    """Breakdowns per tax-code id."""

    taxes: dict[str, tuple[Taxes, ...]]


DataResponseTaxCodeModel: TypeAlias = DataResponse[TaxCodeModel]
"""One tax code (create, get, update)."""

CursorPaginatedResponseTaxCodeModel: TypeAlias = CursorPage[TaxCodeModel]
"""``POST /v0/tax-codes:search`` pages."""

DataResponseCalculateTaxesResponse: TypeAlias = DataResponse[CalculateTaxesResponse]
"""``POST /v0/tax-codes:calculate-tax-amounts`` response."""

"""Tax codes (v0): create, get, full-replace update, delete, search.

- ``create(company_id, name=, rate=, type=, …)``: ``POST /v0/tax-codes`` (a create)
- ``get(tax_code_id)``: ``GET /v0/tax-codes/{taxCodeId}`` (re-sendable)
- ``update(tax_code_id, company_id=, …)``: ``PUT /v0/tax-codes/{taxCodeId}`` (re-sendable)
- ``delete(tax_code_id)``: ``DELETE /v0/tax-codes/{taxCodeId}`` (re-sendable)
- ``search(company_id, archived=, …)``: ``POST /v0/tax-codes:search`` (read-only, re-sendable)

``rate`` is a fraction, not a percentage (20 % is ``Decimal("0.20")``); it is kept exact end
to end and a ``float`` is refused. ``code`` is the AS's id of the tax code, which accounts
reference as ``taxCodeExternalId``.

Each operation's keywords are one ``TypedDict`` (``TaxCodeCreateParams`` …, PEP 692): the
blocking and the ``async`` method share it, and a type checker rejects a wrong keyword.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal

from attrs import evolve
from typing_extensions import TypedDict, Unpack

from pleo_erp.client._request import Call, Operation, ensure_uuid, id_path, query
from pleo_erp.client.pagination import AsyncPaginator, PagedCall, Paginator
from pleo_erp.client.resources._base import (
    AsyncResource,
    SyncResource,
    check_enum,
    check_params,
    data_parser,
    no_result,
    paged,
    uuid_tuple,
)
from pleo_erp.client.serialization import unstructure
from pleo_erp.models.tax_codes import (
    TaxCodeCreateUpdateModel,
    TaxCodeModel,
    TaxCodeSearchRequest,
    TaxCodeTypeModel,
)

__all__ = [
    "AsyncTaxCodes",
    "TaxCodeCreateParams",
    "TaxCodeSearchParams",
    "TaxCodeUpdateParams",
    "TaxCodes",
]

_TAX_CODES = "/v0/tax-codes"
_TAX_CODE = data_parser(TaxCodeModel)


def _path(tax_code_id: uuid.UUID | str) -> str:
    return id_path(_TAX_CODES, tax_code_id, "tax_code_id")


def _rate(rate: Decimal | int | str) -> Decimal:
    if isinstance(rate, float):
        raise TypeError("rate must be a Decimal, int or str (a float is not exact)")
    if isinstance(rate, bool) or not isinstance(rate, (Decimal, int, str)):
        raise TypeError("rate must be a Decimal, int or str")
    try:
        value = Decimal(rate)
    except ArithmeticError:
        raise ValueError("rate must be a number such as '0.25'") from None
    if not value.is_finite() or value < 0:
        raise ValueError("rate must be a finite, non-negative fraction such as 0.25")
    return value


class _TaxCodeFields(TypedDict):
    name: str
    rate: Decimal | int | str
    type: TaxCodeTypeModel | str


class _TaxCodeOptionalFields(TypedDict, total=False):
    code: str | None
    ingoing_tax_account: str | None
    outgoing_tax_account: str | None


class TaxCodeCreateParams(_TaxCodeFields, _TaxCodeOptionalFields, total=False):
    """Keywords of ``tax_codes.create``: ``name``, ``rate`` (a fraction), ``type`` required;
    ``archived`` (default ``False``), ``code``, ``ingoing_tax_account``,
    ``outgoing_tax_account`` optional."""

    archived: bool


class TaxCodeUpdateParams(_TaxCodeFields, _TaxCodeOptionalFields):
    """Keywords of ``tax_codes.update``: those of :class:`TaxCodeCreateParams` plus
    ``company_id``, with ``archived`` required (the PUT replaces the whole tax code)."""

    company_id: uuid.UUID | str
    archived: bool


def _body(
    company_id: uuid.UUID | str, params: TaxCodeCreateParams | TaxCodeUpdateParams
) -> TaxCodeCreateUpdateModel:
    return TaxCodeCreateUpdateModel(
        archived=params.get("archived", False),
        company_id=ensure_uuid(company_id, "company_id"),
        name=params["name"],
        rate=_rate(params["rate"]),
        type=check_enum(TaxCodeTypeModel, params["type"], "type"),
        code=params.get("code"),
        ingoing_tax_account=params.get("ingoing_tax_account"),
        outgoing_tax_account=params.get("outgoing_tax_account"),
    )


def _checked(body: TaxCodeCreateUpdateModel) -> TaxCodeCreateUpdateModel:
    """A request model as sent: ``rate`` exact (no float), ``type`` a known member or string."""
    return evolve(
        body,
        company_id=ensure_uuid(body.company_id, "company_id"),
        rate=_rate(body.rate),
        type=check_enum(TaxCodeTypeModel, body.type, "type"),
    )


def create_from_op(body: TaxCodeCreateUpdateModel) -> Operation[TaxCodeModel]:
    """``POST /v0/tax-codes`` with a complete request model (a create: not re-sent)."""
    payload = unstructure(_checked(body))
    call = Call("tax_codes.create", "POST", _TAX_CODES, body=payload, idempotent=False)
    return Operation(call, _TAX_CODE)


def create_op(
    company_id: uuid.UUID | str, **params: Unpack[TaxCodeCreateParams]
) -> Operation[TaxCodeModel]:
    """``POST /v0/tax-codes`` (a create: not re-sent after ambiguous failures)."""
    check_params(TaxCodeCreateParams, params, "create")
    return create_from_op(_body(company_id, params))


def get_op(tax_code_id: uuid.UUID | str) -> Operation[TaxCodeModel]:
    """``GET /v0/tax-codes/{taxCodeId}``."""
    return Operation(Call("tax_codes.get", "GET", _path(tax_code_id)), _TAX_CODE)


def update_from_op(
    tax_code_id: uuid.UUID | str, body: TaxCodeCreateUpdateModel
) -> Operation[TaxCodeModel]:
    """``PUT /v0/tax-codes/{taxCodeId}`` with a complete request model."""
    call = Call("tax_codes.update", "PUT", _path(tax_code_id), body=unstructure(_checked(body)))
    return Operation(call, _TAX_CODE)


def update_op(
    tax_code_id: uuid.UUID | str, **params: Unpack[TaxCodeUpdateParams]
) -> Operation[TaxCodeModel]:
    """``PUT /v0/tax-codes/{taxCodeId}`` with the complete tax code."""
    check_params(TaxCodeUpdateParams, params, "update")
    return update_from_op(tax_code_id, _body(params["company_id"], params))


def delete_op(tax_code_id: uuid.UUID | str) -> Operation[None]:
    """``DELETE /v0/tax-codes/{taxCodeId}``."""
    return Operation(Call("tax_codes.delete", "DELETE", _path(tax_code_id)), no_result)


class TaxCodeSearchParams(TypedDict, total=False):
    """Keywords of ``tax_codes.search`` (all optional): ``archived``, ``code``,
    ``tax_code_ids``, ``type``, ``page_size``."""

    archived: bool | None
    code: str | None
    tax_code_ids: Iterable[uuid.UUID | str] | None
    type: TaxCodeTypeModel | str | None
    page_size: int | None


def search_op(
    company_id: uuid.UUID | str, **params: Unpack[TaxCodeSearchParams]
) -> PagedCall[TaxCodeModel]:
    """``POST /v0/tax-codes:search?company_id=…`` (read-only, so safe to re-send)."""
    check_params(TaxCodeSearchParams, params, "search")
    type = params.get("type")
    body = TaxCodeSearchRequest(
        archived=params.get("archived"),
        code=params.get("code"),
        tax_code_ids=uuid_tuple(params.get("tax_code_ids"), "tax_code_ids"),
        type=check_enum(TaxCodeTypeModel, type, "type") if type is not None else None,
    )
    call = Call(
        "tax_codes.search",
        "POST",
        f"{_TAX_CODES}:search",
        query(company_id=ensure_uuid(company_id, "company_id")),
        body=unstructure(body),
    )
    return paged(call, TaxCodeModel, params.get("page_size"))


class TaxCodes(SyncResource):
    """Tax codes (``client.tax_codes``)."""

    def create(
        self, company_id: uuid.UUID | str, **params: Unpack[TaxCodeCreateParams]
    ) -> TaxCodeModel:
        """Create a tax code (``rate`` as a fraction: ``Decimal("0.25")`` for 25 %).

        Keywords: see :class:`TaxCodeCreateParams`.
        """
        return self._run(create_op(company_id, **params))

    def get(self, tax_code_id: uuid.UUID | str) -> TaxCodeModel:
        """One tax code."""
        return self._run(get_op(tax_code_id))

    def update(
        self, tax_code_id: uuid.UUID | str, **params: Unpack[TaxCodeUpdateParams]
    ) -> TaxCodeModel:
        """Replace the tax code (the body is the same complete model as on create).

        Keywords: see :class:`TaxCodeUpdateParams`.
        """
        return self._run(update_op(tax_code_id, **params))

    def delete(self, tax_code_id: uuid.UUID | str) -> None:
        """Delete a tax code (a sync archives instead)."""
        self._run(delete_op(tax_code_id))

    def search(
        self, company_id: uuid.UUID | str, **params: Unpack[TaxCodeSearchParams]
    ) -> Paginator[TaxCodeModel]:
        """Iterate the company's tax codes (archived and active unless ``archived`` is set).

        Keywords: see :class:`TaxCodeSearchParams`.
        """
        return self._paginate(search_op(company_id, **params))


class AsyncTaxCodes(AsyncResource):
    """Tax codes (``client.tax_codes`` on the async client)."""

    async def create(
        self, company_id: uuid.UUID | str, **params: Unpack[TaxCodeCreateParams]
    ) -> TaxCodeModel:
        """Async twin of :meth:`TaxCodes.create`."""
        return await self._run(create_op(company_id, **params))

    async def get(self, tax_code_id: uuid.UUID | str) -> TaxCodeModel:
        """Async twin of :meth:`TaxCodes.get`."""
        return await self._run(get_op(tax_code_id))

    async def update(
        self, tax_code_id: uuid.UUID | str, **params: Unpack[TaxCodeUpdateParams]
    ) -> TaxCodeModel:
        """Async twin of :meth:`TaxCodes.update`."""
        return await self._run(update_op(tax_code_id, **params))

    async def delete(self, tax_code_id: uuid.UUID | str) -> None:
        """Async twin of :meth:`TaxCodes.delete`."""
        await self._run(delete_op(tax_code_id))

    def search(
        self, company_id: uuid.UUID | str, **params: Unpack[TaxCodeSearchParams]
    ) -> AsyncPaginator[TaxCodeModel]:
        """Async twin of :meth:`TaxCodes.search` (iterate with ``async for``)."""
        return self._paginate(search_op(company_id, **params))

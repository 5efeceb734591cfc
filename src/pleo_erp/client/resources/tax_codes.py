"""Tax codes (v0): create, get, full-replace update, delete, search.

- ``create(company_id, name=, rate=, type=, …)``: ``POST /v0/tax-codes`` (a create)
- ``get(tax_code_id)``: ``GET /v0/tax-codes/{taxCodeId}`` (re-sendable)
- ``update(tax_code_id, company_id=, …)``: ``PUT /v0/tax-codes/{taxCodeId}`` (re-sendable)
- ``delete(tax_code_id)``: ``DELETE /v0/tax-codes/{taxCodeId}`` (re-sendable)
- ``search(company_id, archived=, …)``: ``POST /v0/tax-codes:search`` (read-only, re-sendable)

``rate`` is a fraction, not a percentage (20 % is ``Decimal("0.20")``); it is kept exact end
to end and a ``float`` is refused. ``code`` is the AS's id of the tax code, which accounts
reference as ``taxCodeExternalId``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal

from pleo_erp.client._request import Call, Operation, ensure_uuid, id_path, query
from pleo_erp.client.pagination import AsyncPaginator, PagedCall, Paginator
from pleo_erp.client.resources._base import (
    AsyncResource,
    SyncResource,
    check_enum,
    data_parser,
    no_result,
    paged,
)
from pleo_erp.client.serialization import unstructure
from pleo_erp.models.tax_codes import (
    TaxCodeCreateUpdateModel,
    TaxCodeModel,
    TaxCodeSearchRequest,
    TaxCodeTypeModel,
)

__all__ = ["AsyncTaxCodes", "TaxCodes"]

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


def _body(
    company_id: uuid.UUID | str,
    name: str,
    rate: Decimal | int | str,
    type: TaxCodeTypeModel | str,
    archived: bool,
    code: str | None,
    ingoing_tax_account: str | None,
    outgoing_tax_account: str | None,
) -> TaxCodeCreateUpdateModel:
    return TaxCodeCreateUpdateModel(
        archived=archived,
        company_id=ensure_uuid(company_id, "company_id"),
        name=name,
        rate=_rate(rate),
        type=check_enum(TaxCodeTypeModel, type, "type"),
        code=code,
        ingoing_tax_account=ingoing_tax_account,
        outgoing_tax_account=outgoing_tax_account,
    )


def create_op(
    company_id: uuid.UUID | str,
    *,
    name: str,
    rate: Decimal | int | str,
    type: TaxCodeTypeModel | str,
    archived: bool,
    code: str | None,
    ingoing_tax_account: str | None,
    outgoing_tax_account: str | None,
) -> Operation[TaxCodeModel]:
    """``POST /v0/tax-codes`` (a create: not re-sent after ambiguous failures)."""
    body = _body(
        company_id, name, rate, type, archived, code, ingoing_tax_account, outgoing_tax_account
    )
    call = Call("tax_codes.create", "POST", _TAX_CODES, body=unstructure(body), idempotent=False)
    return Operation(call, _TAX_CODE)


def get_op(tax_code_id: uuid.UUID | str) -> Operation[TaxCodeModel]:
    """``GET /v0/tax-codes/{taxCodeId}``."""
    return Operation(Call("tax_codes.get", "GET", _path(tax_code_id)), _TAX_CODE)


def update_op(
    tax_code_id: uuid.UUID | str,
    company_id: uuid.UUID | str,
    *,
    name: str,
    rate: Decimal | int | str,
    type: TaxCodeTypeModel | str,
    archived: bool,
    code: str | None,
    ingoing_tax_account: str | None,
    outgoing_tax_account: str | None,
) -> Operation[TaxCodeModel]:
    """``PUT /v0/tax-codes/{taxCodeId}`` with the complete tax code."""
    body = _body(
        company_id, name, rate, type, archived, code, ingoing_tax_account, outgoing_tax_account
    )
    call = Call("tax_codes.update", "PUT", _path(tax_code_id), body=unstructure(body))
    return Operation(call, _TAX_CODE)


def delete_op(tax_code_id: uuid.UUID | str) -> Operation[None]:
    """``DELETE /v0/tax-codes/{taxCodeId}``."""
    return Operation(Call("tax_codes.delete", "DELETE", _path(tax_code_id)), no_result)


def search_op(
    company_id: uuid.UUID | str,
    *,
    archived: bool | None,
    code: str | None,
    tax_code_ids: Iterable[uuid.UUID | str] | None,
    type: TaxCodeTypeModel | str | None,
    page_size: int | None,
) -> PagedCall[TaxCodeModel]:
    """``POST /v0/tax-codes:search?company_id=…`` (read-only, so safe to re-send)."""
    if isinstance(tax_code_ids, str):
        raise ValueError("tax_code_ids must be a list of UUIDs")
    body = TaxCodeSearchRequest(
        archived=archived,
        code=code,
        tax_code_ids=(
            tuple(dict.fromkeys(ensure_uuid(i, "tax_code_ids[]") for i in tax_code_ids))
            if tax_code_ids is not None
            else None
        ),
        type=check_enum(TaxCodeTypeModel, type, "type") if type is not None else None,
    )
    call = Call(
        "tax_codes.search",
        "POST",
        f"{_TAX_CODES}:search",
        query(company_id=ensure_uuid(company_id, "company_id")),
        body=unstructure(body),
    )
    return paged(call, TaxCodeModel, page_size)


class TaxCodes(SyncResource):
    """Tax codes (``client.tax_codes``)."""

    def create(
        self,
        company_id: uuid.UUID | str,
        *,
        name: str,
        rate: Decimal | int | str,
        type: TaxCodeTypeModel | str,
        archived: bool = False,
        code: str | None = None,
        ingoing_tax_account: str | None = None,
        outgoing_tax_account: str | None = None,
    ) -> TaxCodeModel:
        """Create a tax code (``rate`` as a fraction: ``Decimal("0.25")`` for 25 %)."""
        return self._run(
            create_op(
                company_id,
                name=name,
                rate=rate,
                type=type,
                archived=archived,
                code=code,
                ingoing_tax_account=ingoing_tax_account,
                outgoing_tax_account=outgoing_tax_account,
            )
        )

    def get(self, tax_code_id: uuid.UUID | str) -> TaxCodeModel:
        """One tax code."""
        return self._run(get_op(tax_code_id))

    def update(
        self,
        tax_code_id: uuid.UUID | str,
        *,
        company_id: uuid.UUID | str,
        name: str,
        rate: Decimal | int | str,
        type: TaxCodeTypeModel | str,
        archived: bool,
        code: str | None = None,
        ingoing_tax_account: str | None = None,
        outgoing_tax_account: str | None = None,
    ) -> TaxCodeModel:
        """Replace the tax code (the body is the same complete model as on create)."""
        return self._run(
            update_op(
                tax_code_id,
                company_id,
                name=name,
                rate=rate,
                type=type,
                archived=archived,
                code=code,
                ingoing_tax_account=ingoing_tax_account,
                outgoing_tax_account=outgoing_tax_account,
            )
        )

    def delete(self, tax_code_id: uuid.UUID | str) -> None:
        """Delete a tax code (a sync archives instead)."""
        self._run(delete_op(tax_code_id))

    def search(
        self,
        company_id: uuid.UUID | str,
        *,
        archived: bool | None = None,
        code: str | None = None,
        tax_code_ids: Iterable[uuid.UUID | str] | None = None,
        type: TaxCodeTypeModel | str | None = None,
        page_size: int | None = None,
    ) -> Paginator[TaxCodeModel]:
        """Iterate the company's tax codes (archived and active unless ``archived`` is set)."""
        return self._paginate(
            search_op(
                company_id,
                archived=archived,
                code=code,
                tax_code_ids=tax_code_ids,
                type=type,
                page_size=page_size,
            )
        )


class AsyncTaxCodes(AsyncResource):
    """Tax codes (``client.tax_codes`` on the async client)."""

    async def create(
        self,
        company_id: uuid.UUID | str,
        *,
        name: str,
        rate: Decimal | int | str,
        type: TaxCodeTypeModel | str,
        archived: bool = False,
        code: str | None = None,
        ingoing_tax_account: str | None = None,
        outgoing_tax_account: str | None = None,
    ) -> TaxCodeModel:
        """Async twin of :meth:`TaxCodes.create`."""
        return await self._run(
            create_op(
                company_id,
                name=name,
                rate=rate,
                type=type,
                archived=archived,
                code=code,
                ingoing_tax_account=ingoing_tax_account,
                outgoing_tax_account=outgoing_tax_account,
            )
        )

    async def get(self, tax_code_id: uuid.UUID | str) -> TaxCodeModel:
        """Async twin of :meth:`TaxCodes.get`."""
        return await self._run(get_op(tax_code_id))

    async def update(
        self,
        tax_code_id: uuid.UUID | str,
        *,
        company_id: uuid.UUID | str,
        name: str,
        rate: Decimal | int | str,
        type: TaxCodeTypeModel | str,
        archived: bool,
        code: str | None = None,
        ingoing_tax_account: str | None = None,
        outgoing_tax_account: str | None = None,
    ) -> TaxCodeModel:
        """Async twin of :meth:`TaxCodes.update`."""
        return await self._run(
            update_op(
                tax_code_id,
                company_id,
                name=name,
                rate=rate,
                type=type,
                archived=archived,
                code=code,
                ingoing_tax_account=ingoing_tax_account,
                outgoing_tax_account=outgoing_tax_account,
            )
        )

    async def delete(self, tax_code_id: uuid.UUID | str) -> None:
        """Async twin of :meth:`TaxCodes.delete`."""
        await self._run(delete_op(tax_code_id))

    def search(
        self,
        company_id: uuid.UUID | str,
        *,
        archived: bool | None = None,
        code: str | None = None,
        tax_code_ids: Iterable[uuid.UUID | str] | None = None,
        type: TaxCodeTypeModel | str | None = None,
        page_size: int | None = None,
    ) -> AsyncPaginator[TaxCodeModel]:
        """Async twin of :meth:`TaxCodes.search` (iterate with ``async for``)."""
        return self._paginate(
            search_op(
                company_id,
                archived=archived,
                code=code,
                tax_code_ids=tax_code_ids,
                type=type,
                page_size=page_size,
            )
        )

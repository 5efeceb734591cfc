"""Tax Codes API v0 routes (accounts-sync-and-auth.md §A10).

* ``rate`` is a fraction (20 % is ``0.2``): a rate outside 0..1 is refused, it is almost
  certainly a percentage sent by mistake;
* ``exclusive`` tax codes are "not currently supported" (spec) and refused with 400;
* a tax code's ``code`` (the accounting system's id) is unique within a company (409),
  since accounts refer to tax codes by it (``taxCodeExternalId``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._app import Reply, RequestContext, RouteTable
from ._errors import ApiError
from ._pagination import paginate
from ._state import Company, JSONDict, Record, SandboxState

__all__ = ["create_tax_code", "routes"]

routes = RouteTable()

_FIELDS = ("code", "name", "rate", "type", "archived", "ingoingTaxAccount", "outgoingTaxAccount")
_SORTABLE = frozenset({"id", "code", "name", "rate", "type", "archived", "createdAt", "updatedAt"})


def _not_found() -> ApiError:
    return ApiError(404, "TAX_CODE_NOT_FOUND", "Tax code not found.")


def create_tax_code(state: SandboxState, company: Company, request: Mapping[str, Any]) -> Record:
    """Store a new tax code (no checks)."""
    now = state.clock.timestamp()
    data: JSONDict = {
        "id": state.new_id(),
        "companyId": company.id,
        "code": request.get("code"),
        "name": request["name"],
        "rate": request["rate"],
        "type": request["type"],
        "archived": bool(request["archived"]),
        "ingoingTaxAccount": request.get("ingoingTaxAccount"),
        "outgoingTaxAccount": request.get("outgoingTaxAccount"),
        "accountingIntegrationSystem": request.get("accountingIntegrationSystem"),
        "createdAt": now,
        "updatedAt": now,
    }
    record = Record(state.next_seq(), company.id, data)
    state.tax_codes[data["id"]] = record
    company.tax_codes.append(record)
    return record


def _check(company: Company, body: Mapping[str, Any], current: Record | None) -> None:
    if body["type"] == "exclusive":
        raise ApiError(
            400, "UNSUPPORTED_TAX_CODE_TYPE", "Exclusive tax codes are not currently supported."
        )
    rate = body["rate"]
    if not 0 <= rate <= 1:
        raise ApiError(
            400, "INVALID_TAX_RATE", f"rate {rate} must be a fraction between 0 and 1 (20 % = 0.2)."
        )
    code = body.get("code")
    if code is not None and any(
        record is not current and record.data.get("code") == code for record in company.tax_codes
    ):
        raise ApiError(409, "TAX_CODE_ALREADY_EXISTS", f"A tax code with code {code!r} exists.")


def _tax_code(ctx: RequestContext, tax_code_id: str) -> Record:
    return ctx.visible(ctx.state.tax_codes.get(tax_code_id), _not_found)


@routes("POST", "/v0/tax-codes")
def post_tax_code(ctx: RequestContext) -> Reply:
    """``createTaxCode``."""
    body, company = ctx.body_and_company()
    _check(company, body, None)
    return Reply(200, {"data": create_tax_code(ctx.state, company, body).data})


get_tax_code = routes.get_by_id("/v0/tax-codes/{taxCodeId}", _tax_code)  # getTaxCode


@routes.with_found("PUT", "/v0/tax-codes/{taxCodeId}", _tax_code)
def put_tax_code(ctx: RequestContext, record: Record, body: Any) -> Reply:
    """``updateTaxCode``: full replace; ``companyId`` must stay the same."""
    if body["companyId"] != record.company_id:
        raise ApiError(400, "BAD_REQUEST", "companyId cannot change.")
    _check(ctx.state.companies[record.company_id], body, record)
    for name in _FIELDS:
        record.data[name] = body.get(name)
    record.data["archived"] = bool(body["archived"])
    record.data["updatedAt"] = ctx.state.clock.timestamp()
    return Reply(200, {"data": record.data})


@routes("DELETE", "/v0/tax-codes/{taxCodeId}")
def delete_tax_code(ctx: RequestContext) -> Reply:
    """``deleteTaxCode``."""
    record = _tax_code(ctx, ctx.path_params["taxCodeId"])
    ctx.state.companies[record.company_id].tax_codes.remove(record)
    del ctx.state.tax_codes[record.data["id"]]
    return Reply(204)


@routes("POST", "/v0/tax-codes:search")
def search_tax_codes(ctx: RequestContext) -> Reply:
    """``getTaxCodes``: archived (omitted = both), code, ids, type."""
    company = ctx.company(ctx.query.get("company_id"))
    body = ctx.body or {}
    archived = body.get("archived")
    code = body.get("code")
    ids = set(body.get("taxCodeIds") or ()) or None
    kind = body.get("type")

    def where(record: Record) -> bool:
        data = record.data
        return (
            (archived is None or data["archived"] == archived)
            and (code is None or data.get("code") == code)
            and (ids is None or data["id"] in ids)
            and (kind is None or data["type"] == kind)
        )

    page = paginate(
        company.tax_codes,
        ctx.query,
        lambda record: record.data,
        parameters={k: v for k, v in ctx.raw_query.items() if k == "company_id"},
        key=lambda record: record.seq,
        where=where,
        sortable=_SORTABLE,
    )
    return Reply(200, page)

"""Chart of Accounts API v1 routes (accounts-sync-and-auth.md §A6-A7).

* ``POST`` answers ``201`` for a new account, ``200`` when the request matches an existing
  account exactly (a safe retry), ``409`` when the ``externalId`` exists with other values;
* the batch (≤1000 items) creates what it can and lists the rest in ``failed[].reasons``,
  ``201`` either way, nothing rolled back;
* ``PUT`` replaces ``archived``, ``name``, ``code``, ``taxCodeExternalId``, ``metadata``;
* ``DELETE`` is ``409`` while an export item line or contra account references the account;
* a ``taxCodeExternalId`` must name the ``code`` of one of the company's tax codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._app import Reply, RequestContext, RouteTable
from ._errors import ApiError
from ._pagination import paginate
from ._state import Company, JSONDict, Record, SandboxState

__all__ = ["create_account", "routes"]

routes = RouteTable()

_MAX_LENGTH = 255
_MUTABLE_FIELDS = ("archived", "name", "code", "taxCodeExternalId", "metadata")
_ACCOUNT_FIELDS = frozenset(
    {"id", "companyId", "externalId", "code", "name", "archived", "taxCodeExternalId"}
)


def _not_found() -> ApiError:
    return ApiError(404, "ACCOUNT_NOT_FOUND", "Account not found.")


def create_account(state: SandboxState, company: Company, request: Mapping[str, Any]) -> Record:
    """Store a new account from a create/batch item (no checks)."""
    data: JSONDict = {
        "id": state.new_id(),
        "companyId": company.id,
        "externalId": str(request["externalId"]),
        "code": request.get("code"),
        "name": str(request["name"]),
        "archived": bool(request["archived"]),
        "taxCodeExternalId": request.get("taxCodeExternalId"),
        "metadata": request.get("metadata"),
    }
    record = Record(state.next_seq(), company.id, data)
    state.accounts[data["id"]] = record
    company.accounts.append(record)
    company.accounts_by_external_id[data["externalId"]] = record
    return record


def _tax_code_exists(company: Company, external_id: object) -> bool:
    return external_id is None or any(
        record.data.get("code") == external_id for record in company.tax_codes
    )


def _check_tax_code(company: Company, external_id: object) -> None:
    if not _tax_code_exists(company, external_id):
        raise ApiError(
            400, "TAX_CODE_NOT_FOUND", f"Tax code {external_id!r} does not exist in Pleo."
        )


def _account(ctx: RequestContext, account_id: str) -> Record:
    return ctx.visible(ctx.state.accounts.get(account_id), _not_found)


@routes("POST", "/v1/chart-of-accounts")
def post_account(ctx: RequestContext) -> Reply:
    """``createAccountV1``: 201 created, 200 identical retry, 409 externalId taken."""
    body, company = ctx.body_and_company()
    if not str(body["name"]).strip():
        raise ApiError(400, "NAME_EMPTY", "name must not be empty.")
    existing = company.accounts_by_external_id.get(str(body["externalId"]))
    if existing is not None:
        if all(existing.data.get(f) == body.get(f) for f in _MUTABLE_FIELDS):
            return Reply(200, {"data": existing.data})
        raise ApiError(
            409,
            "EXTERNAL_ID_ALREADY_EXISTS",
            f"An account with externalId {body['externalId']!r} already exists.",
        )
    _check_tax_code(company, body.get("taxCodeExternalId"))
    return Reply(201, {"data": create_account(ctx.state, company, body).data})


def _batch_reasons(company: Company, item: Mapping[str, Any], seen: set[str]) -> list[str]:
    reasons: list[str] = []
    external_id = str(item.get("externalId", ""))
    if not external_id.strip():
        reasons.append("EXTERNAL_ID_EMPTY")
    elif len(external_id) > _MAX_LENGTH:
        reasons.append("EXTERNAL_ID_TOO_LONG")
    name = str(item.get("name", ""))
    if not name.strip():
        reasons.append("NAME_EMPTY")
    elif len(name) > _MAX_LENGTH:
        reasons.append("NAME_TOO_LONG")
    if len(str(item.get("code") or "")) > _MAX_LENGTH:
        reasons.append("CODE_TOO_LONG")
    if external_id in company.accounts_by_external_id or external_id in seen:
        reasons.append("EXTERNAL_ID_ALREADY_EXISTS")
    if not _tax_code_exists(company, item.get("taxCodeExternalId")):
        reasons.append("OTHER")
    return reasons


@routes("POST", "/v1/chart-of-accounts/batch")
def post_account_batch(ctx: RequestContext) -> Reply:
    """``createAccountsBatchV1``: per-item outcome, 201 even on partial failure."""
    body, company = ctx.body_and_company()
    created: list[JSONDict] = []
    failed: list[JSONDict] = []
    seen: set[str] = set()
    for item in body["items"]:
        reasons = _batch_reasons(company, item, seen)
        if reasons:
            failed.append({"reasons": reasons, "request": item})
            continue
        seen.add(str(item["externalId"]))
        created.append(create_account(ctx.state, company, item).data)
    return Reply(201, {"data": {"created": created, "failed": failed}})


get_account = routes.get_by_id("/v1/chart-of-accounts/{accountId}", _account)  # getAccountV1


@routes.with_found("PUT", "/v1/chart-of-accounts/{accountId}", _account)
def put_account(ctx: RequestContext, record: Record, body: Any) -> Reply:
    """``updateAccountV1``: replaces every mutable field (omitted optional ones become null)."""
    company = ctx.state.companies[record.company_id]
    if not str(body["name"]).strip():
        raise ApiError(400, "NAME_EMPTY", "name must not be empty.")
    _check_tax_code(company, body.get("taxCodeExternalId"))
    for name in _MUTABLE_FIELDS:
        record.data[name] = body.get(name)
    return Reply(200, {"data": record.data})


@routes("DELETE", "/v1/chart-of-accounts/{accountId}")
def delete_account(ctx: RequestContext) -> Reply:
    """``deleteAccountV1``: 204, or 409 while accounting entries reference the account."""
    record = _account(ctx, ctx.path_params["accountId"])
    company = ctx.state.companies[record.company_id]
    if company.account_usage[record.data["id"]] > 0:
        raise ApiError(
            409,
            "ACCOUNT_IN_USE",
            "The account has accounting entries and cannot be deleted; archive it instead.",
        )
    company.accounts.remove(record)
    company.accounts_by_external_id.pop(record.data["externalId"], None)
    del ctx.state.accounts[record.data["id"]]
    return Reply(204)


@routes("POST", "/v1/chart-of-accounts:search")
def search_accounts(ctx: RequestContext) -> Reply:
    """``searchAccountsV1``: the body's filters, combined with AND."""
    body, company = ctx.body_and_company()
    archived = body.get("archived")
    codes = set(body.get("codes") or ()) or None
    code = body.get("code")
    external_id = body.get("externalId")
    ids = set(body.get("ids") or ()) or None
    name = str(body.get("name") or "").casefold()
    exclude_contra = bool(body.get("excludeIfAssignedToContraAccount"))

    def where(record: Record) -> bool:
        data = record.data
        return (
            (archived is None or data["archived"] == archived)
            and (codes is None or data.get("code") in codes)
            and (code is None or data.get("code") == code)
            and (external_id is None or data["externalId"] == external_id)
            and (ids is None or data["id"] in ids)
            and (not name or name in str(data["name"]).casefold())
            and not (exclude_contra and data["id"] in company.contra_account_ids)
        )

    page = paginate(
        company.accounts,
        ctx.query,
        lambda record: record.data,
        parameters={},
        key=lambda record: record.seq,
        where=where,
        sortable=_ACCOUNT_FIELDS,
    )
    return Reply(200, page)

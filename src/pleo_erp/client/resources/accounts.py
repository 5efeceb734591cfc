"""Chart of accounts (v1): create, batch create, get, update, delete, search.

- ``create(company_id, external_id=, name=, …)``: ``POST /v1/chart-of-accounts`` (a create)
- ``create_batch(company_id, items)``: ``POST /v1/chart-of-accounts/batch`` per 1000 (a create)
- ``get(account_id)``: ``GET /v1/chart-of-accounts/{accountId}`` (re-sendable)
- ``update(account_id, name=, archived=, …)``: ``PUT /v1/chart-of-accounts/{accountId}``
- ``delete(account_id)``: ``DELETE /v1/chart-of-accounts/{accountId}`` (re-sendable)
- ``search(company_id, …)``: ``POST /v1/chart-of-accounts:search`` (read-only, re-sendable)

Rules (accounts-sync-and-auth.md Part 3): fields are validated before any request (rule 26:
``externalId`` and ``name`` 1–255 characters, ``code`` at most 255); batches go in chunks of at
most 1000, never empty, and a 201 may still hold failures, so ``created`` and ``failed`` are
merged across chunks and returned (rule 27); an update always sends the complete body, with
``code``/``taxCodeExternalId``/``metadata`` as ``null`` when not given (rule 28); search always
sends ``companyId`` and both ``excludeIfAssigned…`` flags and sends ``archived`` only when set
(rule 30). Delete exists for completeness; a sync archives instead (rule 29).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pleo_erp.client._request import Call, Operation, ensure_uuid, id_path
from pleo_erp.client.errors import AccountExternalIdConflict, AccountInUse, Conflict, PleoAPIError
from pleo_erp.client.pagination import AsyncPaginator, PagedCall, Paginator
from pleo_erp.client.resources._base import (
    AsyncResource,
    BulkOperation,
    SyncResource,
    check_length,
    chunked,
    data_parser,
    no_result,
    paged,
    raw_body,
)
from pleo_erp.client.serialization import unstructure
from pleo_erp.models.accounts import (
    BookkeepingAccountBatchCreateResponseV1,
    BookkeepingAccountBatchFailedItemV1,
    BookkeepingAccountBatchRequestItemV1,
    BookkeepingAccountCreateRequestV1,
    BookkeepingAccountRestModelV1,
    BookkeepingAccountSearchRequestV1,
    BookkeepingAccountUpdateRequestV1,
)

__all__ = [
    "MAX_ACCOUNTS_PER_BATCH",
    "AccountBatchItem",
    "Accounts",
    "AccountsBatchResult",
    "AsyncAccounts",
]

MAX_ACCOUNTS_PER_BATCH = 1000
"""``BookkeepingAccountBatchCreateRequestV1.items`` holds 1 to 1000 accounts."""

AccountBatchItem = BookkeepingAccountBatchRequestItemV1 | Mapping[str, Any]
"""One batch entry: the typed model or a spec-shaped (camelCase) dict."""

_ACCOUNTS = "/v1/chart-of-accounts"
_ACCOUNT = data_parser(BookkeepingAccountRestModelV1)
_BATCH_RESPONSE = data_parser(BookkeepingAccountBatchCreateResponseV1)
_BATCH_FIELDS = frozenset(
    {"externalId", "name", "archived", "code", "taxCodeExternalId", "metadata"}
)


@dataclass(frozen=True)
class AccountsBatchResult:
    """The merged outcome of ``create_batch`` across all chunks.

    Attributes:
        created: every account Pleo created.
        failed: every refused entry, with its ``reasons`` (``EXTERNAL_ID_ALREADY_EXISTS``, …)
            and the ``request`` as sent. Nothing is rolled back (HT-BATCH).
        requests: how many batch requests were sent.
    """

    created: tuple[BookkeepingAccountRestModelV1, ...]
    failed: tuple[BookkeepingAccountBatchFailedItemV1, ...]
    requests: int

    @property
    def ok(self) -> bool:
        """True when no entry failed."""
        return not self.failed


def _check_account_fields(
    where: str, *, external_id: Any, name: Any, code: Any, archived: Any
) -> None:
    if external_id is not None:
        check_length(external_id, f"{where}external_id", minimum=1)
    check_length(name, f"{where}name", minimum=1)
    check_length(code, f"{where}code")
    if not isinstance(archived, bool):
        raise ValueError(f"{where}archived must be a boolean")


def _metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if metadata is None else dict(metadata)


def _path(account_id: uuid.UUID | str) -> str:
    return id_path(_ACCOUNTS, account_id, "account_id")


def create_op(
    company_id: uuid.UUID | str,
    *,
    external_id: str,
    name: str,
    archived: bool,
    code: str | None,
    tax_code_external_id: str | None,
    metadata: Mapping[str, Any] | None,
) -> Operation[BookkeepingAccountRestModelV1]:
    """``POST /v1/chart-of-accounts`` (a create: not re-sent after ambiguous failures)."""
    _check_account_fields("", external_id=external_id, name=name, code=code, archived=archived)
    body = BookkeepingAccountCreateRequestV1(
        archived=archived,
        company_id=ensure_uuid(company_id, "company_id"),
        external_id=external_id,
        name=name,
        code=code,
        tax_code_external_id=tax_code_external_id,
        metadata=_metadata(metadata),
    )
    call = Call("accounts.create", "POST", _ACCOUNTS, body=unstructure(body), idempotent=False)

    def refine(error: PleoAPIError) -> PleoAPIError:
        # Rule 25: a 409 names the externalId that already exists.
        return (
            AccountExternalIdConflict(external_id, error) if isinstance(error, Conflict) else error
        )

    return Operation(call, _ACCOUNT, refine)


def batch_item_body(item: AccountBatchItem, index: int = 0) -> dict[str, Any]:
    """One validated ``BookkeepingAccountBatchRequestItemV1`` JSON object (no ``companyId``)."""
    where = f"items[{index}]."
    if isinstance(item, BookkeepingAccountBatchRequestItemV1):
        raw: dict[str, Any] = unstructure(item)
    elif isinstance(item, Mapping):
        raw = dict(item)
    else:
        raise TypeError(f"items[{index}] must be a BookkeepingAccountBatchRequestItemV1 or a dict")
    unknown = sorted(set(raw) - _BATCH_FIELDS)
    if unknown:
        raise ValueError(f"items[{index}]: unknown field(s) {', '.join(unknown)}")
    for required in ("externalId", "name", "archived"):
        if raw.get(required) is None:
            raise ValueError(f"items[{index}]: {required} is required")
    _check_account_fields(
        where,
        external_id=raw["externalId"],
        name=raw["name"],
        code=raw.get("code"),
        archived=raw["archived"],
    )
    return raw


def create_batch_op(
    company_id: uuid.UUID | str, items: Iterable[AccountBatchItem]
) -> BulkOperation[Any, AccountsBatchResult]:
    """``POST /v1/chart-of-accounts/batch`` per chunk of ≤1000 (none for no items).

    Everything is validated before the first request; the responses are merged at the end.
    """
    company = str(ensure_uuid(company_id, "company_id"))
    if isinstance(items, Mapping):
        raise TypeError("items must be a list of accounts, not a single account")
    bodies = [batch_item_body(item, index) for index, item in enumerate(items)]
    calls = [
        Call(
            "accounts.create_batch",
            "POST",
            f"{_ACCOUNTS}/batch",
            body={"companyId": company, "items": chunk},
            idempotent=False,
        )
        for chunk in chunked(bodies, MAX_ACCOUNTS_PER_BATCH)
    ]
    return BulkOperation([Operation(call, raw_body) for call in calls], merge_batch_results)


def merge_batch_results(bodies: Sequence[Any]) -> AccountsBatchResult:
    """Structure each chunk's response and merge ``created`` and ``failed``."""
    created: list[BookkeepingAccountRestModelV1] = []
    failed: list[BookkeepingAccountBatchFailedItemV1] = []
    for body in bodies:
        result = _BATCH_RESPONSE(body)
        created.extend(result.created)
        failed.extend(result.failed)
    return AccountsBatchResult(tuple(created), tuple(failed), len(bodies))


def get_op(account_id: uuid.UUID | str) -> Operation[BookkeepingAccountRestModelV1]:
    """``GET /v1/chart-of-accounts/{accountId}``."""
    return Operation(Call("accounts.get", "GET", _path(account_id)), _ACCOUNT)


def update_op(
    account_id: uuid.UUID | str,
    *,
    name: str,
    archived: bool,
    code: str | None,
    tax_code_external_id: str | None,
    metadata: Mapping[str, Any] | None,
) -> Operation[BookkeepingAccountRestModelV1]:
    """``PUT /v1/chart-of-accounts/{accountId}`` with the complete body (rule 28)."""
    _check_account_fields("", external_id=None, name=name, code=code, archived=archived)
    body = BookkeepingAccountUpdateRequestV1(
        archived=archived,
        name=name,
        code=code,
        tax_code_external_id=tax_code_external_id,
        metadata=_metadata(metadata),
    )
    call = Call("accounts.update", "PUT", _path(account_id), body=unstructure(body))
    return Operation(call, _ACCOUNT)


def delete_op(account_id: uuid.UUID | str) -> Operation[None]:
    """``DELETE /v1/chart-of-accounts/{accountId}`` (409 → ``AccountInUse``: archive instead)."""

    def refine(error: PleoAPIError) -> PleoAPIError:
        # Rule 29: an account still in use cannot be deleted.
        return AccountInUse(str(account_id), error) if isinstance(error, Conflict) else error

    return Operation(Call("accounts.delete", "DELETE", _path(account_id)), no_result, refine)


def search_op(
    company_id: uuid.UUID | str,
    *,
    archived: bool | None,
    codes: Iterable[str] | None,
    external_id: str | None,
    ids: Iterable[uuid.UUID | str] | None,
    name: str | None,
    exclude_if_assigned_to_category: bool,
    exclude_if_assigned_to_contra_account: bool,
    page_size: int | None,
) -> PagedCall[BookkeepingAccountRestModelV1]:
    """``POST /v1/chart-of-accounts:search`` (read-only, so safe to re-send)."""
    if isinstance(codes, str):
        raise ValueError("codes must be a list of strings")
    if isinstance(ids, str):
        raise ValueError("ids must be a list of UUIDs")
    body = BookkeepingAccountSearchRequestV1(
        company_id=ensure_uuid(company_id, "company_id"),
        exclude_if_assigned_to_category=exclude_if_assigned_to_category,
        exclude_if_assigned_to_contra_account=exclude_if_assigned_to_contra_account,
        archived=archived,
        codes=tuple(dict.fromkeys(codes)) if codes is not None else None,
        external_id=external_id,
        ids=tuple(dict.fromkeys(ensure_uuid(i, "ids[]") for i in ids)) if ids is not None else None,
        name=name,
    )
    call = Call("accounts.search", "POST", f"{_ACCOUNTS}:search", body=unstructure(body))
    return paged(call, BookkeepingAccountRestModelV1, page_size)


class Accounts(SyncResource):
    """Chart of accounts (``client.accounts``)."""

    def create(
        self,
        company_id: uuid.UUID | str,
        *,
        external_id: str,
        name: str,
        archived: bool = False,
        code: str | None = None,
        tax_code_external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> BookkeepingAccountRestModelV1:
        """Create one account (200 "matched existing" and 201 "created" both return it).

        ``AccountExternalIdConflict`` (a ``Conflict``) when the ``external_id`` exists. Not
        re-sent after an ambiguous failure: search by ``external_id`` to check.
        """
        return self._run(
            create_op(
                company_id,
                external_id=external_id,
                name=name,
                archived=archived,
                code=code,
                tax_code_external_id=tax_code_external_id,
                metadata=metadata,
            )
        )

    def create_batch(
        self, company_id: uuid.UUID | str, items: Iterable[AccountBatchItem]
    ) -> AccountsBatchResult:
        """Create many accounts, ≤1000 per request; returns all ``created`` and ``failed``.

        If a chunk raises, the chunks before it were applied (no rollback).
        """
        return self._run(create_batch_op(company_id, items))

    def get(self, account_id: uuid.UUID | str) -> BookkeepingAccountRestModelV1:
        """One account."""
        return self._run(get_op(account_id))

    def update(
        self,
        account_id: uuid.UUID | str,
        *,
        name: str,
        archived: bool,
        code: str | None = None,
        tax_code_external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> BookkeepingAccountRestModelV1:
        """Replace the account's fields. Fields left ``None`` are sent as ``null`` (cleared):
        pass the current ``code``/``tax_code_external_id``/``metadata`` to keep them."""
        return self._run(
            update_op(
                account_id,
                name=name,
                archived=archived,
                code=code,
                tax_code_external_id=tax_code_external_id,
                metadata=metadata,
            )
        )

    def delete(self, account_id: uuid.UUID | str) -> None:
        """Delete an account (``Conflict`` if it has entries: archive it instead)."""
        self._run(delete_op(account_id))

    def search(
        self,
        company_id: uuid.UUID | str,
        *,
        archived: bool | None = None,
        codes: Iterable[str] | None = None,
        external_id: str | None = None,
        ids: Iterable[uuid.UUID | str] | None = None,
        name: str | None = None,
        exclude_if_assigned_to_category: bool = False,
        exclude_if_assigned_to_contra_account: bool = False,
        page_size: int | None = None,
    ) -> Paginator[BookkeepingAccountRestModelV1]:
        """Iterate the company's accounts matching the filters (all of them by default)."""
        return self._paginate(
            search_op(
                company_id,
                archived=archived,
                codes=codes,
                external_id=external_id,
                ids=ids,
                name=name,
                exclude_if_assigned_to_category=exclude_if_assigned_to_category,
                exclude_if_assigned_to_contra_account=exclude_if_assigned_to_contra_account,
                page_size=page_size,
            )
        )


class AsyncAccounts(AsyncResource):
    """Chart of accounts (``client.accounts`` on the async client)."""

    async def create(
        self,
        company_id: uuid.UUID | str,
        *,
        external_id: str,
        name: str,
        archived: bool = False,
        code: str | None = None,
        tax_code_external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> BookkeepingAccountRestModelV1:
        """Async twin of :meth:`Accounts.create`."""
        return await self._run(
            create_op(
                company_id,
                external_id=external_id,
                name=name,
                archived=archived,
                code=code,
                tax_code_external_id=tax_code_external_id,
                metadata=metadata,
            )
        )

    async def create_batch(
        self, company_id: uuid.UUID | str, items: Iterable[AccountBatchItem]
    ) -> AccountsBatchResult:
        """Async twin of :meth:`Accounts.create_batch`."""
        return await self._run(create_batch_op(company_id, items))

    async def get(self, account_id: uuid.UUID | str) -> BookkeepingAccountRestModelV1:
        """Async twin of :meth:`Accounts.get`."""
        return await self._run(get_op(account_id))

    async def update(
        self,
        account_id: uuid.UUID | str,
        *,
        name: str,
        archived: bool,
        code: str | None = None,
        tax_code_external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> BookkeepingAccountRestModelV1:
        """Async twin of :meth:`Accounts.update`."""
        return await self._run(
            update_op(
                account_id,
                name=name,
                archived=archived,
                code=code,
                tax_code_external_id=tax_code_external_id,
                metadata=metadata,
            )
        )

    async def delete(self, account_id: uuid.UUID | str) -> None:
        """Async twin of :meth:`Accounts.delete`."""
        await self._run(delete_op(account_id))

    def search(
        self,
        company_id: uuid.UUID | str,
        *,
        archived: bool | None = None,
        codes: Iterable[str] | None = None,
        external_id: str | None = None,
        ids: Iterable[uuid.UUID | str] | None = None,
        name: str | None = None,
        exclude_if_assigned_to_category: bool = False,
        exclude_if_assigned_to_contra_account: bool = False,
        page_size: int | None = None,
    ) -> AsyncPaginator[BookkeepingAccountRestModelV1]:
        """Async twin of :meth:`Accounts.search` (iterate with ``async for``)."""
        return self._paginate(
            search_op(
                company_id,
                archived=archived,
                codes=codes,
                external_id=external_id,
                ids=ids,
                name=name,
                exclude_if_assigned_to_category=exclude_if_assigned_to_category,
                exclude_if_assigned_to_contra_account=exclude_if_assigned_to_contra_account,
                page_size=page_size,
            )
        )

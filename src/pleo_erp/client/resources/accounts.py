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

from typing_extensions import TypedDict, Unpack

from pleo_erp.client._request import Call, Operation, ensure_uuid, id_path
from pleo_erp.client.errors import AccountExternalIdConflict, AccountInUse, Conflict, PleoAPIError
from pleo_erp.client.pagination import AsyncPaginator, PagedCall, Paginator
from pleo_erp.client.resources._base import (
    AsyncResource,
    BulkOperation,
    SyncResource,
    check_length,
    check_params,
    chunked,
    data_parser,
    no_result,
    paged,
    raw_body,
    spec_object,
    uuid_tuple,
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
    "AccountCreateParams",
    "AccountSearchParams",
    "AccountUpdateParams",
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


class _AccountOptionalFields(TypedDict, total=False):
    code: str | None
    tax_code_external_id: str | None
    metadata: Mapping[str, Any] | None


class _AccountCreateKeys(TypedDict):
    external_id: str
    name: str


# Required keys come from a total base class, not ``Required[...]``: with postponed
# annotations the runtime ``__required_keys__`` would not see ``Required``.
class AccountCreateParams(_AccountCreateKeys, _AccountOptionalFields, total=False):
    """Keywords of ``accounts.create``: ``external_id`` and ``name`` required; ``archived``
    (default ``False``), ``code``, ``tax_code_external_id``, ``metadata`` optional."""

    archived: bool


class AccountUpdateParams(_AccountOptionalFields):
    """Keywords of ``accounts.update``: ``name`` and ``archived`` required; ``code``,
    ``tax_code_external_id``, ``metadata`` sent as ``null`` (cleared) when left out."""

    name: str
    archived: bool


def create_from_op(
    body: BookkeepingAccountCreateRequestV1,
) -> Operation[BookkeepingAccountRestModelV1]:
    """``POST /v1/chart-of-accounts`` with a complete request model (a create: not re-sent)."""
    _check_account_fields(
        "", external_id=body.external_id, name=body.name, code=body.code, archived=body.archived
    )
    call = Call("accounts.create", "POST", _ACCOUNTS, body=unstructure(body), idempotent=False)
    external_id = body.external_id

    def refine(error: PleoAPIError) -> PleoAPIError:
        # Rule 25: a 409 names the externalId that already exists.
        return (
            AccountExternalIdConflict(external_id, error) if isinstance(error, Conflict) else error
        )

    return Operation(call, _ACCOUNT, refine)


def create_op(
    company_id: uuid.UUID | str, **params: Unpack[AccountCreateParams]
) -> Operation[BookkeepingAccountRestModelV1]:
    """``POST /v1/chart-of-accounts`` (a create: not re-sent after ambiguous failures)."""
    check_params(AccountCreateParams, params, "create")
    body = BookkeepingAccountCreateRequestV1(
        archived=params.get("archived", False),
        company_id=ensure_uuid(company_id, "company_id"),
        external_id=params["external_id"],
        name=params["name"],
        code=params.get("code"),
        tax_code_external_id=params.get("tax_code_external_id"),
        metadata=_metadata(params.get("metadata")),
    )
    return create_from_op(body)


def batch_item_body(item: AccountBatchItem, index: int = 0) -> dict[str, Any]:
    """One validated ``BookkeepingAccountBatchRequestItemV1`` JSON object (no ``companyId``)."""
    where = f"items[{index}]."
    raw = spec_object(item, BookkeepingAccountBatchRequestItemV1, f"items[{index}]")
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


def update_from_op(
    account_id: uuid.UUID | str, body: BookkeepingAccountUpdateRequestV1
) -> Operation[BookkeepingAccountRestModelV1]:
    """``PUT /v1/chart-of-accounts/{accountId}`` with a complete request model (rule 28)."""
    _check_account_fields(
        "", external_id=None, name=body.name, code=body.code, archived=body.archived
    )
    call = Call("accounts.update", "PUT", _path(account_id), body=unstructure(body))
    return Operation(call, _ACCOUNT)


def update_op(
    account_id: uuid.UUID | str, **params: Unpack[AccountUpdateParams]
) -> Operation[BookkeepingAccountRestModelV1]:
    """``PUT /v1/chart-of-accounts/{accountId}`` with the complete body (rule 28)."""
    check_params(AccountUpdateParams, params, "update")
    body = BookkeepingAccountUpdateRequestV1(
        archived=params["archived"],
        name=params["name"],
        code=params.get("code"),
        tax_code_external_id=params.get("tax_code_external_id"),
        metadata=_metadata(params.get("metadata")),
    )
    return update_from_op(account_id, body)


def delete_op(account_id: uuid.UUID | str) -> Operation[None]:
    """``DELETE /v1/chart-of-accounts/{accountId}`` (409 → ``AccountInUse``: archive instead)."""

    def refine(error: PleoAPIError) -> PleoAPIError:
        # Rule 29: an account still in use cannot be deleted.
        return AccountInUse(str(account_id), error) if isinstance(error, Conflict) else error

    return Operation(Call("accounts.delete", "DELETE", _path(account_id)), no_result, refine)


class AccountSearchParams(TypedDict, total=False):
    """Keywords of ``accounts.search`` (all optional): ``archived``, ``codes``,
    ``external_id``, ``ids``, ``name``, the two ``exclude_if_assigned_to_…`` flags (default
    ``False``) and ``page_size``."""

    archived: bool | None
    codes: Iterable[str] | None
    external_id: str | None
    ids: Iterable[uuid.UUID | str] | None
    name: str | None
    exclude_if_assigned_to_category: bool
    exclude_if_assigned_to_contra_account: bool
    page_size: int | None


def search_op(
    company_id: uuid.UUID | str, **params: Unpack[AccountSearchParams]
) -> PagedCall[BookkeepingAccountRestModelV1]:
    """``POST /v1/chart-of-accounts:search`` (read-only, so safe to re-send)."""
    check_params(AccountSearchParams, params, "search")
    codes = params.get("codes")
    if isinstance(codes, str):
        raise ValueError("codes must be a list of strings")
    body = BookkeepingAccountSearchRequestV1(
        company_id=ensure_uuid(company_id, "company_id"),
        exclude_if_assigned_to_category=params.get("exclude_if_assigned_to_category", False),
        exclude_if_assigned_to_contra_account=params.get(
            "exclude_if_assigned_to_contra_account", False
        ),
        archived=params.get("archived"),
        codes=tuple(dict.fromkeys(codes)) if codes is not None else None,
        external_id=params.get("external_id"),
        ids=uuid_tuple(params.get("ids"), "ids"),
        name=params.get("name"),
    )
    call = Call("accounts.search", "POST", f"{_ACCOUNTS}:search", body=unstructure(body))
    return paged(call, BookkeepingAccountRestModelV1, params.get("page_size"))


class Accounts(SyncResource):
    """Chart of accounts (``client.accounts``)."""

    def create(
        self, company_id: uuid.UUID | str, **params: Unpack[AccountCreateParams]
    ) -> BookkeepingAccountRestModelV1:
        """Create one account (200 "matched existing" and 201 "created" both return it).

        Keywords: see :class:`AccountCreateParams`. ``AccountExternalIdConflict`` (a
        ``Conflict``) when the ``external_id`` exists. Not re-sent after an ambiguous
        failure: search by ``external_id`` to check.
        """
        return self._run(create_op(company_id, **params))

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
        self, account_id: uuid.UUID | str, **params: Unpack[AccountUpdateParams]
    ) -> BookkeepingAccountRestModelV1:
        """Replace the account's fields. Fields left out are sent as ``null`` (cleared):
        pass the current ``code``/``tax_code_external_id``/``metadata`` to keep them.

        Keywords: see :class:`AccountUpdateParams`.
        """
        return self._run(update_op(account_id, **params))

    def delete(self, account_id: uuid.UUID | str) -> None:
        """Delete an account (``Conflict`` if it has entries: archive it instead)."""
        self._run(delete_op(account_id))

    def search(
        self, company_id: uuid.UUID | str, **params: Unpack[AccountSearchParams]
    ) -> Paginator[BookkeepingAccountRestModelV1]:
        """Iterate the company's accounts matching the filters (all of them by default).

        Keywords: see :class:`AccountSearchParams`.
        """
        return self._paginate(search_op(company_id, **params))


class AsyncAccounts(AsyncResource):
    """Chart of accounts (``client.accounts`` on the async client)."""

    async def create(
        self, company_id: uuid.UUID | str, **params: Unpack[AccountCreateParams]
    ) -> BookkeepingAccountRestModelV1:
        """Async twin of :meth:`Accounts.create`."""
        return await self._run(create_op(company_id, **params))

    async def create_batch(
        self, company_id: uuid.UUID | str, items: Iterable[AccountBatchItem]
    ) -> AccountsBatchResult:
        """Async twin of :meth:`Accounts.create_batch`."""
        return await self._run(create_batch_op(company_id, items))

    async def get(self, account_id: uuid.UUID | str) -> BookkeepingAccountRestModelV1:
        """Async twin of :meth:`Accounts.get`."""
        return await self._run(get_op(account_id))

    async def update(
        self, account_id: uuid.UUID | str, **params: Unpack[AccountUpdateParams]
    ) -> BookkeepingAccountRestModelV1:
        """Async twin of :meth:`Accounts.update`."""
        return await self._run(update_op(account_id, **params))

    async def delete(self, account_id: uuid.UUID | str) -> None:
        """Async twin of :meth:`Accounts.delete`."""
        await self._run(delete_op(account_id))

    def search(
        self, company_id: uuid.UUID | str, **params: Unpack[AccountSearchParams]
    ) -> AsyncPaginator[BookkeepingAccountRestModelV1]:
        """Async twin of :meth:`Accounts.search` (iterate with ``async for``)."""
        return self._paginate(search_op(company_id, **params))

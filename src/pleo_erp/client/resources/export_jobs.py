"""Export jobs (Export API v3): list, get, create, lifecycle events, job items.

- ``list(company_id=, statuses=)``: ``GET /v3/export-jobs?company_id&statuses…`` (re-sendable)
- ``get(job_id)``: ``GET /v3/export-jobs/{jobId}`` (re-sendable)
- ``create(company_id, accounting_entry_ids)``: ``POST /v3/export-jobs`` (a create)
- ``send_event(job_id, event, …)``: ``POST /v3/export-job-events`` (not re-sendable)
- ``list_items(job_id, status=)``: ``GET /v3/export-jobs/{jobId}/items`` (re-sendable)
- ``update_items(job_id, updates)``: ``PUT /v3/export-jobs/{jobId}/items`` per 100 (re-sendable)

Rules encoded here (export rules, docs/rules.md): the event body key is ``jobId`` (rule 2);
``failureReason``/``failureReasonType`` go only with ``failed`` and must be a *job-level*
reason (rules 2–3); item updates carry only *item-level* reasons and go in chunks of at most
100 (rule 10); every per-item ``errors[]`` entry of a 200 response is returned, never dropped.

Speed (issue 13): an export reports every item through ``update_items``, so its two costs per
item are kept low. A well-typed :class:`UpdateExportJobItemV3` becomes its JSON object without
cattrs or a second validation pass (:func:`item_update_body`; any other input takes the checked
path, and the bytes are the same either way), and a response's ``errors`` are structured at
once while its ``data`` items are structured on first access of
:attr:`ExportJobItemsUpdateResult.items` (the export never reads them).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from typing_extensions import TypedDict, Unpack

from pleo_erp.client._request import Call, Operation, ensure_uuid, id_path, query
from pleo_erp.client._wire import _unstructure_datetime
from pleo_erp.client.pagination import AsyncPaginator, PagedCall, Paginator
from pleo_erp.client.resources._base import (
    AsyncResource,
    BulkOperation,
    SyncResource,
    check_enum,
    check_params,
    chunked,
    data_parser,
    no_result,
    paged,
    raw_body,
    spec_object,
    uuid_tuple,
)
from pleo_erp.client.serialization import structure, unstructure
from pleo_erp.models.export_jobs import (
    CreateExportJob,
    CreateExportJobEvent,
    ExportJobEventType,
    ExportJobFailureReasonType,
    ExportJobItemFailureReasonType,
    ExportJobItemStatus,
    ExportJobItemUpdateErrorV3,
    ExportJobItemUpdateV3,
    ExportJobItemV3,
    ExportJobStatus,
    ExportJobV3,
    Options,
    UpdateExportJobItemV3,
)

__all__ = [
    "MAX_ITEM_UPDATES_PER_REQUEST",
    "AsyncExportJobs",
    "ExportJobCreateOptions",
    "ExportJobItemsUpdateResult",
    "ExportJobListParams",
    "ExportJobs",
    "ItemUpdate",
]

MAX_ITEM_UPDATES_PER_REQUEST = 100
"""Pleo answers 413 ``EXPORT_JOB_ITEMS_UPDATE_LIMIT`` above this (DESIGN decision 2)."""

ItemUpdate = UpdateExportJobItemV3 | Mapping[str, Any]
"""One item update: the typed model or a spec-shaped (camelCase) dict."""

_JOBS = "/v3/export-jobs"
_JOB = data_parser(ExportJobV3)
_EVENTS = "/v3/export-job-events"
_JOB_REASONS = frozenset(member.value for member in ExportJobFailureReasonType)
_ITEM_REASONS = frozenset(member.value for member in ExportJobItemFailureReasonType)
_UTC = dt.timezone.utc


@dataclass(frozen=True)
class ExportJobItemsUpdateResult:
    """What ``update_items`` achieved across all its chunks.

    ``update_items`` structures ``errors`` at once and ``items`` on first access (an export
    reads only the errors), so a malformed item of ``data`` raises
    :class:`~pleo_erp.client.errors.ResponseValidationError` when ``items`` is first read
    rather than from the call. Equality, ``repr`` and :func:`dataclasses.replace` read
    ``items`` like any other field.

    Attributes:
        items: every job item Pleo returned as updated (``data`` of each response).
        errors: every per-item error Pleo reported inside a 200 response (``errors`` of each
            response), with its ``type`` (``ACCOUNTING_ENTRY_DOES_NOT_EXIST``, …).
        requests: how many PUT requests were sent (one per chunk of ≤100).
    """

    items: tuple[ExportJobItemV3, ...]
    errors: tuple[ExportJobItemUpdateErrorV3, ...]
    requests: int

    @property
    def ok(self) -> bool:
        """True when Pleo reported no per-item error."""
        return not self.errors

    def failed_entry_ids(self) -> frozenset[uuid.UUID]:
        """The accounting entry ids Pleo reported an error for."""
        return frozenset(error.accounting_entry_id for error in self.errors)

    def errors_of_type(self, *types: str) -> tuple[ExportJobItemUpdateErrorV3, ...]:
        """The errors whose ``type`` is one of ``types`` (compared case-insensitively)."""
        wanted = {t.upper() for t in types}
        return tuple(e for e in self.errors if _text(e.type).upper() in wanted)

    @classmethod
    def _deferred(
        cls,
        item_parts: Sequence[list[Any] | tuple[ExportJobItemV3, ...]],
        errors: tuple[ExportJobItemUpdateErrorV3, ...],
        requests: int,
    ) -> ExportJobItemsUpdateResult:
        """A result whose ``items`` are structured on first access, from each chunk's ``data``
        (a raw JSON list, or items already structured)."""
        result = object.__new__(cls)
        object.__setattr__(result, "errors", errors)
        object.__setattr__(result, "requests", requests)
        object.__setattr__(result, "_item_parts", tuple(item_parts))
        return result

    if not TYPE_CHECKING:  # hidden from type checkers: a typo must stay a type error

        def __getattr__(self, name: str) -> Any:
            # Only reached when normal lookup fails: ``items`` of a deferred result, not yet
            # structured. Anything else is a plain missing attribute.
            state = self.__dict__
            parts = state.get("_item_parts")
            if name != "items" or parts is None:
                if name == "items" and "items" in state:  # another thread just finished
                    return state["items"]
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            items = tuple(item for part in parts for item in _structured_items(part))
            object.__setattr__(self, "items", items)
            state.pop("_item_parts", None)  # the raw JSON is no longer needed
            return items


def _structured_items(part: list[Any] | tuple[ExportJobItemV3, ...]) -> tuple[ExportJobItemV3, ...]:
    """One chunk's ``data`` as models; errors carry the path ``$.data[i]…`` as before."""
    if isinstance(part, tuple):
        return part
    response: ExportJobItemUpdateV3 = structure({"data": part, "errors": []}, ExportJobItemUpdateV3)
    return response.data


def _text(value: object) -> str:
    return str(getattr(value, "value", value))


def _statuses(statuses: Iterable[ExportJobStatus | str] | ExportJobStatus | str | None) -> Any:
    if statuses is None:
        return None
    if isinstance(statuses, str):  # a single status (str enums are str too)
        statuses = [statuses]
    return [check_enum(ExportJobStatus, s, "statuses").value for s in statuses]


class ExportJobListParams(TypedDict, total=False):
    """Keywords of ``export_jobs.list`` (all optional): ``company_id`` (needed with an
    organisation-level credential), ``statuses`` (one or several :class:`ExportJobStatus`),
    ``page_size``."""

    company_id: uuid.UUID | str | None
    statuses: Iterable[ExportJobStatus | str] | ExportJobStatus | str | None
    page_size: int | None


def list_op(**params: Unpack[ExportJobListParams]) -> PagedCall[ExportJobV3]:
    """``GET /v3/export-jobs`` with ``company_id`` and repeated ``statuses``."""
    check_params(ExportJobListParams, params, "list")
    company_id = params.get("company_id")
    company = ensure_uuid(company_id, "company_id") if company_id is not None else None
    query_params = query(company_id=company, statuses=_statuses(params.get("statuses")))
    call = Call("export_jobs.list", "GET", _JOBS, query_params)
    return paged(call, ExportJobV3, params.get("page_size"))


def get_op(job_id: uuid.UUID | str) -> Operation[ExportJobV3]:
    """``GET /v3/export-jobs/{jobId}``."""
    return Operation(Call("export_jobs.get", "GET", id_path(_JOBS, job_id, "job_id")), _JOB)


class ExportJobCreateOptions(TypedDict, total=False):
    """Optional keywords of ``export_jobs.create``: ``employee_id``, ``is_interactive``,
    ``vendor_based_bookkeeping``."""

    employee_id: uuid.UUID | str | None
    is_interactive: bool | None
    vendor_based_bookkeeping: bool | None


def create_op(
    company_id: uuid.UUID | str,
    accounting_entry_ids: Iterable[uuid.UUID | str],
    **options: Unpack[ExportJobCreateOptions],
) -> Operation[ExportJobV3]:
    """``POST /v3/export-jobs`` (a create: not re-sent after an ambiguous failure)."""
    check_params(ExportJobCreateOptions, options, "create")
    employee_id = options.get("employee_id")
    vendor_based_bookkeeping = options.get("vendor_based_bookkeeping")
    body = CreateExportJob(
        accounting_entry_ids=uuid_tuple(accounting_entry_ids, "accounting_entry_ids", unique=False),
        company_id=ensure_uuid(company_id, "company_id"),
        employee_id=ensure_uuid(employee_id, "employee_id") if employee_id is not None else None,
        is_interactive=options.get("is_interactive"),
        options=(
            Options(vendor_based_bookkeeping=vendor_based_bookkeeping)
            if vendor_based_bookkeeping is not None
            else None
        ),
    )
    call = Call("export_jobs.create", "POST", _JOBS, body=unstructure(body), idempotent=False)
    return Operation(call, _JOB)


def send_event_op(
    job_id: uuid.UUID | str,
    event: ExportJobEventType | str,
    failure_reason: str | None,
    failure_reason_type: ExportJobFailureReasonType | str | None,
) -> Operation[None]:
    """``POST /v3/export-job-events`` with ``{"event", "jobId"}`` (+ failure fields if failed).

    Raises ``ValueError`` for an unknown event, failure fields on a non-``failed`` event, or
    a failure reason that is not a job-level ``ExportJobFailureReasonType`` (an item-only value
    such as ``vendor_unknown`` is refused: export-api.md Part 3 rule 3).
    """
    kind = check_enum(ExportJobEventType, event, "event")
    reason_type: ExportJobFailureReasonType | None = None
    if kind is not ExportJobEventType.FAILED:
        if failure_reason is not None or failure_reason_type is not None:
            raise ValueError(
                "failure_reason and failure_reason_type may only be sent with the 'failed' event"
            )
    elif failure_reason_type is not None:
        value = _text(failure_reason_type)
        if value not in _JOB_REASONS:
            if value in _ITEM_REASONS:
                raise ValueError(
                    f"{value!r} is an item-level failure reason; a job event needs an"
                    " ExportJobFailureReasonType (e.g. 'validation_failure')"
                )
            check_enum(ExportJobFailureReasonType, value, "failure_reason_type")
        reason_type = ExportJobFailureReasonType(value)
    body = CreateExportJobEvent(
        event=kind,
        job_id=ensure_uuid(job_id, "job_id"),
        failure_reason=failure_reason,
        failure_reason_type=reason_type,
    )
    call = Call("export_jobs.send_event", "POST", _EVENTS, body=unstructure(body), idempotent=False)
    return Operation(call, no_result)


def list_items_op(
    job_id: uuid.UUID | str, status: ExportJobItemStatus | str | None, page_size: int | None
) -> PagedCall[ExportJobItemV3]:
    """``GET /v3/export-jobs/{jobId}/items`` with an optional single ``status`` filter."""
    path = id_path(_JOBS, job_id, "job_id", "/items")
    item_status = check_enum(ExportJobItemStatus, status, "status") if status is not None else None
    call = Call("export_jobs.list_items", "GET", path, query(status=item_status))
    return paged(call, ExportJobItemV3, page_size)


def item_update_body(update: ItemUpdate, index: int = 0) -> dict[str, Any]:
    """One validated ``UpdateExportJobItemV3`` JSON object.

    Accepts the typed model or a camelCase dict; refuses unknown keys, a missing
    ``accountingEntryId``/``status``, an unknown status, and a ``failureReasonType`` outside the
    18 item-level values (a job-only value such as ``pleo_rate_limit`` is refused too).
    ``None`` values are left out (the spec declares none of these fields nullable).
    """
    if type(update) is UpdateExportJobItemV3:
        body = _typed_item_body(update)
        if body is not None:
            return body
    where = f"updates[{index}]"
    raw = spec_object(update, UpdateExportJobItemV3, where)
    body = {key: value for key, value in raw.items() if value is not None}
    if "accountingEntryId" not in body:
        raise ValueError(f"{where}: accountingEntryId is required")
    if "status" not in body:
        raise ValueError(f"{where}: status is required")
    body["accountingEntryId"] = str(
        ensure_uuid(body["accountingEntryId"], f"{where}.accountingEntryId")
    )
    body["status"] = check_enum(ExportJobItemStatus, body["status"], f"{where}.status").value
    if "failureReasonType" in body:
        value = _text(body["failureReasonType"])
        if value not in _ITEM_REASONS:
            hint = " (that is a job-level reason)" if value in _JOB_REASONS else ""
            raise ValueError(
                f"{where}.failureReasonType must be an ExportJobItemFailureReasonType;"
                f" got {value!r}{hint}"
            )
        body["failureReasonType"] = value
    return body


def _typed_item_body(update: UpdateExportJobItemV3) -> dict[str, Any] | None:
    """The JSON object of a model whose every field has its declared type, built directly.

    ``None`` when any field does not (attrs does not check types: ``status="x"``, a str id,
    a naive datetime, a str subclass…); the caller then takes the checked path, which refuses
    or converts it exactly as before. Keys come in the model's field order and ``None`` fields
    are left out, as cattrs writes them, so the bytes sent are the same.
    """
    entry_id = update.accounting_entry_id
    status = update.status
    if type(entry_id) is not uuid.UUID or type(status) is not ExportJobItemStatus:
        return None
    body: dict[str, Any] = {"accountingEntryId": str(entry_id), "status": status.value}
    exported_at = update.exported_at
    if exported_at is not None:
        if type(exported_at) is not dt.datetime:
            return None
        if exported_at.tzinfo is _UTC:  # what the export sends: no conversion needed
            body["exportedAt"] = exported_at.isoformat()[:-6] + "Z"
        elif exported_at.utcoffset() is None:
            return None  # naive: the checked path raises
        else:
            body["exportedAt"] = _unstructure_datetime(exported_at)
    for key, text in (
        ("externalId", update.external_id),
        ("externalUrl", update.external_url),
        ("failureReason", update.failure_reason),
    ):
        if text is not None:
            if type(text) is not str:
                return None
            body[key] = text
    reason = update.failure_reason_type
    if reason is not None:
        if type(reason) is not ExportJobItemFailureReasonType:
            return None
        body["failureReasonType"] = reason.value
    return body


def update_items_op(
    job_id: uuid.UUID | str, updates: Iterable[ItemUpdate]
) -> BulkOperation[Any, ExportJobItemsUpdateResult]:
    """One ``PUT /v3/export-jobs/{jobId}/items`` per chunk of at most 100 updates.

    Everything is validated before the first request, so a bad update sends nothing; the
    responses are merged at the end.
    """
    path = id_path(_JOBS, job_id, "job_id", "/items")
    if isinstance(updates, Mapping):
        raise TypeError("updates must be a list of updates, not a single update")
    bodies = [item_update_body(update, index) for index, update in enumerate(updates)]
    parts = [
        Operation(Call("export_jobs.update_items", "PUT", path, body=chunk), raw_body)
        for chunk in chunked(bodies, MAX_ITEM_UPDATES_PER_REQUEST)
    ]
    return BulkOperation(parts, merge_update_results_deferred)


def merge_update_results_deferred(bodies: Sequence[Any]) -> ExportJobItemsUpdateResult:
    """Like :func:`merge_update_results`, but only each chunk's ``errors`` are structured now;
    the ``data`` items are structured on first access of the result's ``items``."""
    item_parts: list[list[Any] | tuple[ExportJobItemV3, ...]] = []
    errors: list[ExportJobItemUpdateErrorV3] = []
    for body in bodies:
        data = body.get("data") if isinstance(body, dict) else None
        if type(data) is list:
            # The envelope without its items: the same checks and JSON paths for the rest.
            response: ExportJobItemUpdateV3 = structure({**body, "data": []}, ExportJobItemUpdateV3)
            item_parts.append(data)
        else:  # an unexpected shape: the full structure judges it, as before
            response = structure(body, ExportJobItemUpdateV3)
            item_parts.append(response.data)
        errors.extend(response.errors)
    return ExportJobItemsUpdateResult._deferred(item_parts, tuple(errors), len(bodies))


def merge_update_results(bodies: Sequence[Any]) -> ExportJobItemsUpdateResult:
    """Structure each chunk's ``ExportJobItemUpdateV3`` and combine them."""
    items: list[ExportJobItemV3] = []
    errors: list[ExportJobItemUpdateErrorV3] = []
    for body in bodies:
        response: ExportJobItemUpdateV3 = structure(body, ExportJobItemUpdateV3)
        items.extend(response.data)
        errors.extend(response.errors)
    return ExportJobItemsUpdateResult(tuple(items), tuple(errors), len(bodies))


class ExportJobs(SyncResource):
    """Export jobs and their items (``client.export_jobs``)."""

    def list(self, **params: Unpack[ExportJobListParams]) -> Paginator[ExportJobV3]:
        """Iterate the company's export jobs, optionally only those in ``statuses``.

        Keywords: see :class:`ExportJobListParams`. Pass ``company_id`` whenever the
        credential is organisation-level (rule 5). Pleo's order is not guaranteed: sort by
        ``created_at`` to pick the oldest job (rule 7).
        """
        return self._paginate(list_op(**params))

    def get(self, job_id: uuid.UUID | str) -> ExportJobV3:
        """One export job (``NotFound`` with type ``EXPORT_NOT_FOUND`` if absent)."""
        return self._run(get_op(job_id))

    def create(
        self,
        company_id: uuid.UUID | str,
        accounting_entry_ids: Iterable[uuid.UUID | str],
        **options: Unpack[ExportJobCreateOptions],
    ) -> ExportJobV3:
        """Create an export job (Pleo normally creates jobs from its web app).

        Keywords: see :class:`ExportJobCreateOptions`.

        Raises ``Conflict`` (``EXPORT_ALREADY_IN_PROGRESS``) while the company has an
        unfinished job. Not re-sent after an ambiguous failure: list the jobs to check.
        """
        return self._run(create_op(company_id, accounting_entry_ids, **options))

    def send_event(
        self,
        job_id: uuid.UUID | str,
        event: ExportJobEventType | str,
        failure_reason: str | None = None,
        failure_reason_type: ExportJobFailureReasonType | str | None = None,
    ) -> None:
        """Post a lifecycle event: ``started``, ``completed``, ``completed_with_errors`` or
        ``failed`` (with a job-level reason). ``202`` means accepted; confirm with :meth:`get`.

        Raises ``Unprocessable`` (``INVALID_EXPORT_JOB_STATUS_CHANGE``) for a transition the
        job cannot make. Not re-sent after an ambiguous failure: re-read the job instead.
        """
        self._run(send_event_op(job_id, event, failure_reason, failure_reason_type))

    def list_items(
        self,
        job_id: uuid.UUID | str,
        status: ExportJobItemStatus | str | None = None,
        *,
        page_size: int | None = None,
    ) -> Paginator[ExportJobItemV3]:
        """Iterate the job's control-layer items, optionally with one ``status``."""
        return self._paginate(list_items_op(job_id, status, page_size))

    def update_items(
        self, job_id: uuid.UUID | str, updates: Iterable[ItemUpdate]
    ) -> ExportJobItemsUpdateResult:
        """Report item outcomes in chunks of ≤100; returns every updated item and every
        per-item error across all chunks.

        If a chunk fails with an HTTP error (e.g. ``Unprocessable`` once the job finished),
        the earlier chunks have been applied; re-sending them is harmless (PUT).
        """
        return self._run(update_items_op(job_id, updates))


class AsyncExportJobs(AsyncResource):
    """Export jobs and their items (``await client.export_jobs…``)."""

    def list(self, **params: Unpack[ExportJobListParams]) -> AsyncPaginator[ExportJobV3]:
        """Async twin of :meth:`ExportJobs.list` (iterate with ``async for``)."""
        return self._paginate(list_op(**params))

    async def get(self, job_id: uuid.UUID | str) -> ExportJobV3:
        """Async twin of :meth:`ExportJobs.get`."""
        return await self._run(get_op(job_id))

    async def create(
        self,
        company_id: uuid.UUID | str,
        accounting_entry_ids: Iterable[uuid.UUID | str],
        **options: Unpack[ExportJobCreateOptions],
    ) -> ExportJobV3:
        """Async twin of :meth:`ExportJobs.create`."""
        return await self._run(create_op(company_id, accounting_entry_ids, **options))

    async def send_event(
        self,
        job_id: uuid.UUID | str,
        event: ExportJobEventType | str,
        failure_reason: str | None = None,
        failure_reason_type: ExportJobFailureReasonType | str | None = None,
    ) -> None:
        """Async twin of :meth:`ExportJobs.send_event`."""
        await self._run(send_event_op(job_id, event, failure_reason, failure_reason_type))

    def list_items(
        self,
        job_id: uuid.UUID | str,
        status: ExportJobItemStatus | str | None = None,
        *,
        page_size: int | None = None,
    ) -> AsyncPaginator[ExportJobItemV3]:
        """Async twin of :meth:`ExportJobs.list_items` (iterate with ``async for``)."""
        return self._paginate(list_items_op(job_id, status, page_size))

    async def update_items(
        self, job_id: uuid.UUID | str, updates: Iterable[ItemUpdate]
    ) -> ExportJobItemsUpdateResult:
        """Async twin of :meth:`ExportJobs.update_items`."""
        return await self._run(update_items_op(job_id, updates))

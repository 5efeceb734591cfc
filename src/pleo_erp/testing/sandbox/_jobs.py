"""The export job lifecycle as Pleo runs it: creation, events, item updates and expiry.

State machine (export-api.md §4.4, §8)::

    pending --started--> in_progress --completed | completed_with_errors | failed--> (final)

Any other event is ``422 INVALID_EXPORT_JOB_STATUS_CHANGE``. When a job reaches a final
status, its items still ``pending``/``in_progress`` become ``abandoned``. A job expires one
hour after ``lastUpdatedAt`` (events and item updates refresh it, reads do not): it becomes
``failed`` with ``job_expired`` and its unfinished items are abandoned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from ._clock import format_timestamp
from ._errors import ApiError
from ._state import Company, Job, JSONDict, SandboxState

__all__ = [
    "EXPIRY_SECONDS",
    "FINAL_ITEM_STATUSES",
    "FINAL_JOB_STATUSES",
    "MAX_ITEM_UPDATES",
    "apply_event",
    "expire_due",
    "job_view",
    "new_job",
    "register_entries",
    "update_items",
]

EXPIRY_SECONDS = 3600
MAX_ITEM_UPDATES = 100
FINAL_JOB_STATUSES = frozenset({"completed", "completed_with_errors", "failed"})
FINAL_ITEM_STATUSES = frozenset({"successful", "failed", "abandoned"})
_UNFINISHED_ITEMS = frozenset({"pending", "in_progress"})
_TERMINAL_EVENTS = frozenset({"completed", "completed_with_errors", "failed"})


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def register_entries(company: Company, items: Iterable[JSONDict]) -> list[str]:
    """Store export items (``ExportItemV3``) as the company's accounting entries.

    Returns their ``accountingEntryId``s in order. Account ids used by the lines and contra
    accounts are counted, so deleting an account in use can be refused.
    """
    ids: list[str] = []
    for item in items:
        entry_id = str(item["accountingEntryId"])
        previous = company.entries.get(entry_id)
        if previous is not None:
            _count_accounts(company, previous, -1)
        company.entries[entry_id] = item
        company.encoded_entries.pop(entry_id, None)
        _count_accounts(company, item, +1)
        ids.append(entry_id)
    return ids


def _count_accounts(company: Company, item: Mapping[str, Any], delta: int) -> None:
    for line in item.get("accountingEntryLines") or ():
        account = line.get("account")
        if account and account.get("id"):
            company.account_usage[str(account["id"])] += delta
    contra = item.get("contraAccount")
    if contra and contra.get("id"):
        company.account_usage[str(contra["id"])] += delta
        company.contra_account_ids.add(str(contra["id"]))


def new_job(
    state: SandboxState,
    company: Company,
    entry_ids: Sequence[str],
    *,
    created_by: str | None = None,
    is_interactive: bool = True,
    vendor_based_bookkeeping: bool = False,
    job_id: str | None = None,
    created_at: str | None = None,
) -> Job:
    """Create a ``pending`` job over already registered entries (no 409 check here).

    ``job_id`` and ``created_at`` let demo data keep its own ids and timestamps.
    """
    now = created_at or format_timestamp(state.clock.now())
    job_id = job_id or state.new_id()
    items: list[JSONDict] = []
    index: dict[str, int] = {}
    for entry_id in entry_ids:
        if entry_id in index:
            continue
        index[entry_id] = len(items)
        items.append(
            {
                "accountingEntryId": entry_id,
                "exportJobId": job_id,
                "status": "pending",
                "exportedAt": None,
                "externalId": None,
                "externalUrl": None,
                "failureReason": None,
            }
        )
    data: JSONDict = {
        "id": job_id,
        "companyId": company.id,
        "status": "pending",
        "createdAt": now,
        "createdBy": created_by,
        "startedAt": None,
        "completedAt": None,
        "lastUpdatedAt": now,
        "expiredAt": None,
        "numberOfItems": len(items),
        "isInteractive": is_interactive,
        "vendorBasedBookkeeping": vendor_based_bookkeeping,
    }
    job = Job(state.next_seq(), data, items, index, Counter({"pending": len(items)}))
    state.jobs[job_id] = job
    company.jobs.append(job)
    for listener in state.job_listeners:
        listener(job)
    return job


def _expires(state: SandboxState, job: Job) -> bool:
    if job.status == "in_progress":
        return True
    return job.status == "pending" and state.expire_pending_jobs


def job_view(state: SandboxState, job: Job) -> JSONDict:
    """The job as ``ExportJobV3`` JSON, with ``expiresIn`` counted from ``lastUpdatedAt``."""
    view = dict(job.data)
    if job.status in FINAL_JOB_STATUSES:
        expires_in = 0
    elif _expires(state, job):
        elapsed = (state.clock.now() - _parse(str(job.data["lastUpdatedAt"]))).total_seconds()
        expires_in = max(0, int(EXPIRY_SECONDS - elapsed))
    else:
        expires_in = EXPIRY_SECONDS
    view["expiresIn"] = expires_in
    return view


def _abandon_unfinished(job: Job) -> int:
    abandoned = 0
    if not (job.counts["pending"] or job.counts["in_progress"]):
        return 0
    for item in job.items:
        if item["status"] in _UNFINISHED_ITEMS:
            job.counts[item["status"]] -= 1
            item["status"] = "abandoned"
            abandoned += 1
    job.counts["abandoned"] += abandoned
    return abandoned


def expire_due(state: SandboxState, jobs: Iterable[Job]) -> None:
    """Expire every job in ``jobs`` whose hour since ``lastUpdatedAt`` has passed."""
    now = state.clock.now()
    for job in jobs:
        if not _expires(state, job):
            continue
        deadline = _parse(str(job.data["lastUpdatedAt"])) + timedelta(seconds=EXPIRY_SECONDS)
        if now < deadline:
            continue
        job.data["status"] = "failed"
        job.data["failureReasonType"] = "job_expired"
        job.data["failureReason"] = (
            f"Export job expired: it was not updated within {EXPIRY_SECONDS} seconds."
        )
        job.data["expiredAt"] = format_timestamp(deadline)
        _abandon_unfinished(job)


def apply_event(
    state: SandboxState,
    job: Job,
    event: str,
    failure_reason: str | None,
    failure_reason_type: str | None,
) -> None:
    """Move ``job`` through the state machine, or raise 422."""
    expire_due(state, [job])
    status = job.status
    allowed = (status == "pending" and event == "started") or (
        status == "in_progress" and event in _TERMINAL_EVENTS
    )
    if not allowed:
        raise ApiError(422, "INVALID_EXPORT_JOB_STATUS_CHANGE", "Export Job status change failed")
    now = format_timestamp(state.clock.now())
    job.data["lastUpdatedAt"] = now
    if event == "started":
        job.data["status"] = "in_progress"
        job.data["startedAt"] = now
        return
    if event != "failed" and (failure_reason is not None or failure_reason_type is not None):
        state.warn(
            f"job {job.id}: failureReason/failureReasonType sent with {event!r}; "
            "Pleo documents them for 'failed' only"
        )
    job.data["status"] = event
    if event == "failed":
        job.data["failureReason"] = failure_reason
        if failure_reason_type is not None:
            job.data["failureReasonType"] = failure_reason_type
    else:
        job.data["completedAt"] = now
    abandoned = _abandon_unfinished(job)
    if abandoned and event != "failed":
        state.warn(f"job {job.id} was marked {event!r} with {abandoned} unfinished item(s)")


def update_items(
    state: SandboxState, job: Job, updates: Sequence[Mapping[str, Any]]
) -> tuple[list[JSONDict], list[JSONDict]]:
    """Apply ``PUT /v3/export-jobs/{jobId}/items``; returns (updated items, errors[])."""
    if len(updates) > MAX_ITEM_UPDATES:
        raise ApiError(
            413, "EXPORT_JOB_ITEMS_UPDATE_LIMIT", "Number of items to update is more than 100."
        )
    expire_due(state, [job])
    if job.status in FINAL_JOB_STATUSES:
        raise ApiError(422, "EXPORT_JOB_STATUS_UNPROCESSABLE", "Export job is finished.")
    if job.status == "pending":
        state.warn(f"job {job.id}: items updated before the 'started' event")
    now = format_timestamp(state.clock.now())
    updated: list[JSONDict] = []
    errors: list[JSONDict] = []
    for update in updates:
        entry_id = str(update["accountingEntryId"])
        position = job.index.get(entry_id)
        if position is None:
            errors.append(
                {
                    "accountingEntryId": entry_id,
                    "message": f"Accounting entry {entry_id} is not part of export job {job.id}.",
                    "type": "ACCOUNTING_ENTRY_DOES_NOT_EXIST",
                }
            )
            continue
        item = job.items[position]
        _apply_item_update(state, job, item, update, now)
        updated.append(item)
    job.data["lastUpdatedAt"] = now
    return updated, errors


def _apply_item_update(
    state: SandboxState, job: Job, item: JSONDict, update: Mapping[str, Any], now: str
) -> None:
    old = str(item["status"])
    new = str(update["status"])
    if old in FINAL_ITEM_STATUSES and new != old:
        state.warn(f"job {job.id}: item {item['accountingEntryId']} changed from {old} to {new}")
    if new == "failed" and "failureReasonType" not in update:
        state.warn(f"job {job.id}: item {item['accountingEntryId']} failed without a type")
    job.counts[old] -= 1
    job.counts[new] += 1
    item["status"] = new
    item["externalId"] = update.get("externalId")
    item["externalUrl"] = update.get("externalUrl")
    if new == "successful":
        item["exportedAt"] = update.get("exportedAt") or now
        item["failureReason"] = None
        item.pop("failureReasonType", None)
    else:
        item["exportedAt"] = update.get("exportedAt")
        item["failureReason"] = update.get("failureReason")
        if update.get("failureReasonType") is not None:
            item["failureReasonType"] = update["failureReasonType"]
        else:
            item.pop("failureReasonType", None)

"""Export API v3 routes: jobs, job events, job items (control layer), export items (data)."""

from __future__ import annotations

from ._app import Reply, RequestContext, RouteTable, encode_json
from ._errors import ApiError
from ._jobs import (
    FINAL_JOB_STATUSES,
    apply_event,
    expire_due,
    job_view,
    new_job,
    update_items,
)
from ._pagination import paginate
from ._routes_sandbox import encoded_with_file_urls
from ._state import Company, Job, JSONDict

__all__ = ["routes"]

routes = RouteTable()

_JOB_FIELDS = frozenset(
    {"id", "companyId", "status", "createdAt", "createdBy", "startedAt", "completedAt",
     "lastUpdatedAt", "expiresIn", "expiredAt", "numberOfItems", "isInteractive",
     "vendorBasedBookkeeping", "failureReason", "failureReasonType"}
)  # fmt: skip
_ITEM_FIELDS = frozenset(
    {"accountingEntryId", "exportJobId", "status", "exportedAt", "externalId", "externalUrl",
     "failureReason", "failureReasonType"}
)  # fmt: skip
_EXPORT_ITEM_FIELDS = frozenset({"accountingEntryId", "date", "type", "subType", "note"})


def _not_found() -> ApiError:
    return ApiError(404, "EXPORT_NOT_FOUND", "Export job not found.")


def _job(ctx: RequestContext, job_id: str) -> Job:
    job = ctx.visible(ctx.state.jobs.get(job_id), _not_found)
    expire_due(ctx.state, [job])
    return job


def _require_contra_accounts(company: Company) -> None:
    """Pleo's 400 on export jobs and items while the contra accounts are not mapped."""
    if company.missing_contra_accounts:
        raise ApiError(
            400,
            "MISSING_CONTRA_ACCOUNTS",
            "Contra accounts are not fully configured. Please map contra accounts in the "
            "Accounting settings.",
        )


def _echo(ctx: RequestContext, *names: str) -> dict[str, list[str]]:
    return {name: ctx.raw_query[name] for name in names if name in ctx.raw_query}


@routes("GET", "/v3/export-jobs")
def list_jobs(ctx: RequestContext) -> Reply:
    """``getExportJobsListV3``: a company's jobs, oldest first, filtered by ``statuses``."""
    company = ctx.company(ctx.query.get("company_id"))
    expire_due(ctx.state, company.jobs)
    statuses = ctx.query.get("statuses")
    wanted = frozenset(statuses) if statuses else None
    page = paginate(
        company.jobs,
        ctx.query,
        lambda job: job_view(ctx.state, job),
        parameters=_echo(ctx, "company_id", "statuses"),
        key=lambda job: job.seq,
        where=(lambda job: job.status in wanted) if wanted is not None else None,
        sortable=_JOB_FIELDS,
    )
    return Reply(200, page)


@routes("POST", "/v3/export-jobs")
def create_job(ctx: RequestContext) -> Reply:
    """``createExportJobV3``: 400 without contra accounts, 409 while one is in progress."""
    body, company = ctx.body_and_company()
    _require_contra_accounts(company)
    expire_due(ctx.state, company.jobs)
    if any(job.status == "in_progress" for job in company.jobs):
        raise ApiError(
            409, "EXPORT_ALREADY_IN_PROGRESS", "Export Job already in progress for this company."
        )
    entry_ids = [str(entry) for entry in body["accountingEntryIds"]]
    if not entry_ids:
        raise ApiError(400, "BAD_REQUEST", "accountingEntryIds must not be empty.")
    unknown = [entry for entry in entry_ids if entry not in company.entries]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ApiError(
            400, "ACCOUNTING_ENTRY_NOT_FOUND", f"Unknown accounting entries for company: {shown}"
        )
    options = body.get("options") or {}
    interactive = body.get("isInteractive")
    job = new_job(
        ctx.state,
        company,
        entry_ids,
        created_by=body.get("employeeId"),
        is_interactive=True if interactive is None else bool(interactive),
        vendor_based_bookkeeping=bool(options.get("vendorBasedBookkeeping") or False),
    )
    return Reply(201, {"data": job_view(ctx.state, job)})


@routes("GET", "/v3/export-jobs/{jobId}")
def get_job(ctx: RequestContext) -> Reply:
    """``getExportJobByIdV3``."""
    return Reply(200, {"data": job_view(ctx.state, _job(ctx, ctx.path_params["jobId"]))})


@routes("POST", "/v3/export-job-events")
def create_event(ctx: RequestContext) -> Reply:
    """``createExportJobEventV3``: 202 with an empty body, or 422 for a bad transition."""
    body = ctx.json_body()
    job = _job(ctx, str(body["jobId"]))
    apply_event(
        ctx.state,
        job,
        str(body["event"]),
        body.get("failureReason"),
        body.get("failureReasonType"),
    )
    return Reply(202)


@routes("GET", "/v3/export-jobs/{jobId}/items")
def list_job_items(ctx: RequestContext) -> Reply:
    """``getExportJobItemsV3``: the control layer, in job order, filtered by ``status``."""
    job = _job(ctx, ctx.path_params["jobId"])
    status = ctx.query.get("status")
    page = paginate(
        job.items,
        ctx.query,
        _identity,
        parameters=_echo(ctx, "status"),
        where=(lambda item: item["status"] == status) if status else None,
        total=job.counts[status] if status else len(job.items),
        sortable=_ITEM_FIELDS,
    )
    return Reply(200, page)


@routes("PUT", "/v3/export-jobs/{jobId}/items")
def put_job_items(ctx: RequestContext) -> Reply:
    """``updateExportJobItemsV3``: ≤100 updates; unknown entries come back in ``errors``."""
    job = _job(ctx, ctx.path_params["jobId"])
    updates = ctx.json_body()
    if not isinstance(updates, list):
        raise ApiError(400, "BAD_REQUEST", "The body must be a JSON array of item updates.")
    updated, errors = update_items(ctx.state, job, updates)
    return Reply(200, {"data": updated, "errors": errors})


@routes("GET", "/v3/export-items")
def list_export_items(ctx: RequestContext) -> Reply:
    """``getExportItemsV3``: the payloads of a pending or in-progress job's items."""
    job_id = ctx.query.get("job_id")
    if job_id is None:
        raise ApiError(400, "REQUIRED_PARAMETER_MISSING", "job_id is required.")
    job = _job(ctx, str(job_id))
    company = ctx.state.companies[job.company_id]
    _require_contra_accounts(company)
    if job.status in FINAL_JOB_STATUSES:
        raise ApiError(
            422,
            "EXPORT_JOB_STATUS_UNPROCESSABLE",
            "Export Job is finished and can no longer be processed.",
        )
    entries = company.entries
    page = paginate(
        job.items,
        ctx.query,
        lambda item: entries[item["accountingEntryId"]],
        parameters=_echo(ctx, "job_id"),
        total=len(job.items),
        sortable=_EXPORT_ITEM_FIELDS,
    )
    # The stored entries are validated as they are (a placeholder URL is as much a string as
    # a signed one); the bytes sent carry signed URLs, spliced into cached JSON text.
    return Reply(200, page, encoded=_encode_page(ctx, company, page))


def _encode_page(ctx: RequestContext, company: Company, page: JSONDict) -> bytes:
    cache = company.encoded_entries
    parts: list[bytes] = []
    for entry in page["data"]:
        entry_id = entry["accountingEntryId"]
        encoded = cache.get(entry_id)
        if encoded is None:
            encoded = cache[entry_id] = encode_json(entry)
        parts.append(encoded_with_file_urls(ctx.state, ctx.base_url, entry, encoded))
    return (
        b'{"data":['
        + b",".join(parts)
        + b'],"pagination":'
        + encode_json(page["pagination"])
        + b"}"
    )


def _identity(item: JSONDict) -> JSONDict:
    return item

"""Sandbox-only routes: signed receipt downloads and a small admin API for other processes.

Receipt URLs look like Pleo's pre-signed links: ``/_sandbox/files/<id>?expires=<epoch>&
signature=<hmac>``. They need no credentials, expire 24 hours after the export item was
fetched (export-api.md §6) and answer ``403`` once expired or when tampered with.

The admin routes let a process that only has the base URL and an API key drive a served
sandbox (create a job, move the clock); they require a valid credential.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from ._app import Reply, RequestContext, RouteTable
from ._errors import ApiError
from ._factory import complete_export_item
from ._jobs import expire_due, job_view, new_job, register_entries
from ._spec import load_spec_index
from ._state import JSONDict, SandboxState
from ._validation import schema_error

__all__ = [
    "FILE_URL_TTL_SECONDS",
    "PLACEHOLDER_SCHEME",
    "encoded_with_file_urls",
    "file_url",
    "routes",
]

routes = RouteTable()

#: Receipt links stay valid for 24 hours after the item was fetched.
FILE_URL_TTL_SECONDS = 24 * 3600
#: Demo and test items point at stored files with ``sandbox-file://<file id>``.
PLACEHOLDER_SCHEME = "sandbox-file://"


def _signature(state: SandboxState, file_id: str, expires: int) -> str:
    message = f"{file_id}:{expires}".encode()
    return hmac.new(state.file_secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def file_url(state: SandboxState, base_url: str, file_id: str) -> str:
    """A signed download link for ``file_id``, valid for 24 hours of sandbox time."""
    expires = int(state.now_epoch()) + FILE_URL_TTL_SECONDS
    signature = _signature(state, file_id, expires)
    return f"{base_url}/_sandbox/files/{file_id}?expires={expires}&signature={signature}"


def encoded_with_file_urls(
    state: SandboxState, base_url: str, item: JSONDict, encoded: bytes
) -> bytes:
    """``encoded`` (the JSON text of ``item``) with placeholders replaced by signed URLs.

    The replacement is on whole JSON strings, so only values equal to a placeholder change.
    """
    for entry in item.get("files") or ():
        url = str(entry.get("url", "")) if isinstance(entry, Mapping) else ""
        if url.startswith(PLACEHOLDER_SCHEME):
            signed = file_url(state, base_url, url[len(PLACEHOLDER_SCHEME) :])
            encoded = encoded.replace(json.dumps(url).encode(), json.dumps(signed).encode())
    return encoded


@routes("GET", "/_sandbox/files/{file_id}", auth=False)
def download_file(ctx: RequestContext) -> Reply:
    """Serve a stored receipt if the link is genuine and not expired."""
    file_id = ctx.path_params["file_id"]
    stored = ctx.state.files.get(file_id)
    if stored is None:
        raise ApiError(404, "NOT_FOUND", "File not found.")
    expires_raw = ctx.raw_query.get("expires", [""])[0]
    signature = ctx.raw_query.get("signature", [""])[0]
    if not expires_raw.isdigit() or not hmac.compare_digest(
        _signature(ctx.state, file_id, int(expires_raw)), signature
    ):
        raise ApiError(403, "ACCESS_DENIED", "The file link is not valid.")
    if int(expires_raw) <= ctx.state.now_epoch():
        raise ApiError(
            403, "ACCESS_DENIED", "The file link has expired; fetch the export item again."
        )
    return Reply(200, raw=stored.content, content_type=stored.content_type)


@routes("POST", "/_sandbox/clock:advance")
def advance_clock(ctx: RequestContext) -> Reply:
    """Move the sandbox clock: body ``{"seconds": N}``."""
    seconds = _json_body(ctx).get("seconds")
    if not isinstance(seconds, (int, float)) or seconds < 0:
        raise ApiError(400, "BAD_REQUEST", 'Body must be {"seconds": <non-negative number>}.')
    now = ctx.state.clock.advance(float(seconds))
    return Reply(200, {"data": {"now": now.strftime("%Y-%m-%dT%H:%M:%SZ")}})


@routes("POST", "/_sandbox/export-jobs")
def create_demo_job(ctx: RequestContext) -> Reply:
    """Simulate a bookkeeper clicking Export: ``{"companyId": ..., "count": N}`` or ``"items"``.

    Items are (partial) ``ExportItemV3`` objects completed with defaults; ``count`` makes
    that many generated card purchases. Refused with 409 while the company has a job in
    progress, like ``POST /v3/export-jobs``.
    """
    body = _json_body(ctx)
    company_id = body.get("companyId")
    company = ctx.company(company_id if isinstance(company_id, str) else None)
    partials = body.get("items")
    if partials is None:
        count = body.get("count", 3)
        if not isinstance(count, int) or not 1 <= count <= 100_000:
            raise ApiError(400, "BAD_REQUEST", "count must be an integer between 1 and 100000.")
        partials = [None] * count
    if not isinstance(partials, list) or not partials:
        raise ApiError(400, "BAD_REQUEST", "items must be a non-empty list of export items.")
    expire_due(ctx.state, company.jobs)
    if any(job.status == "in_progress" for job in company.jobs):
        raise ApiError(409, "EXPORT_ALREADY_IN_PROGRESS", "Export Job already in progress.")
    schema = load_spec_index().schema("ExportItemV3")
    items = []
    for index, partial in enumerate(partials):
        if partial is not None and not isinstance(partial, dict):
            raise ApiError(400, "BAD_REQUEST", f"items[{index}] must be an object.")
        item = complete_export_item(ctx.state, company, partial, len(company.entries) + index)
        problem = schema_error(schema, item)
        if problem:
            raise ApiError(400, "BAD_REQUEST", f"items[{index}] is not an ExportItemV3: {problem}")
        items.append(item)
    job = new_job(ctx.state, company, register_entries(company, items))
    return Reply(201, {"data": job_view(ctx.state, job)})


@routes("GET", "/_sandbox/state")
def describe_state(ctx: RequestContext) -> Reply:
    """A summary of what the caller can see: companies, job counts, warnings."""
    companies = []
    for company_id in ctx.accessible_company_ids():
        company = ctx.state.companies[company_id]
        expire_due(ctx.state, company.jobs)
        companies.append(
            {
                "id": company.id,
                "name": company.name,
                "jobs": {job.id: job.status for job in company.jobs},
                "accounts": len(company.accounts),
                "taxCodes": len(company.tax_codes),
                "tagGroups": len(company.tag_groups),
            }
        )
    return Reply(200, {"data": {"companies": companies, "warnings": list(ctx.state.warnings)}})


def _json_body(ctx: RequestContext) -> dict[str, Any]:
    try:
        body = json.loads(ctx.raw_body or b"{}")
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", "Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "BAD_REQUEST", "Request body must be a JSON object.")
    return body

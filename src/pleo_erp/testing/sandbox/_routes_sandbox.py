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
from collections.abc import Mapping
from typing import Any

from ._app import Reply, RequestContext, RouteTable
from ._errors import ApiError
from ._state import JSONDict, SandboxState

__all__ = ["FILE_URL_TTL_SECONDS", "PLACEHOLDER_SCHEME", "file_url", "routes", "with_file_urls"]

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


def with_file_urls(state: SandboxState, base_url: str, item: JSONDict) -> JSONDict:
    """``item`` with every ``sandbox-file://`` placeholder turned into a signed URL.

    The stored item is not changed; a shallow copy is returned only when needed.
    """
    files = item.get("files")
    if not files or not any(
        isinstance(f, Mapping) and str(f.get("url", "")).startswith(PLACEHOLDER_SCHEME)
        for f in files
    ):
        return item
    rewritten: list[Any] = []
    for entry in files:
        url = str(entry.get("url", "")) if isinstance(entry, Mapping) else ""
        if url.startswith(PLACEHOLDER_SCHEME):
            entry = {**entry, "url": file_url(state, base_url, url[len(PLACEHOLDER_SCHEME) :])}
        rewritten.append(entry)
    return {**item, "files": rewritten}


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
        raise ApiError(403, "ACCESS_DENIED", "The file link has expired; fetch the export item again.")
    return Reply(200, raw=stored.content, content_type=stored.content_type)


@routes("POST", "/_sandbox/clock:advance")
def advance_clock(ctx: RequestContext) -> Reply:
    """Move the sandbox clock: body ``{"seconds": N}``."""
    seconds = _json_body(ctx).get("seconds")
    if not isinstance(seconds, (int, float)) or seconds < 0:
        raise ApiError(400, "BAD_REQUEST", "Body must be {\"seconds\": <non-negative number>}.")
    now = ctx.state.clock.advance(float(seconds))
    return Reply(200, {"data": {"now": now.strftime("%Y-%m-%dT%H:%M:%SZ")}})


@routes("GET", "/_sandbox/state")
def describe_state(ctx: RequestContext) -> Reply:
    """A summary of what the caller can see: companies, job counts, warnings."""
    companies = []
    for company_id in ctx.accessible_company_ids():
        company = ctx.state.companies[company_id]
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
    import json

    try:
        body = json.loads(ctx.raw_body or b"{}")
    except ValueError:
        raise ApiError(400, "BAD_REQUEST", "Request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "BAD_REQUEST", "Request body must be a JSON object.")
    return body

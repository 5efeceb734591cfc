"""Export items (Export API v3 data layer): ``GET /v3/export-items?job_id=…``.

The payloads (amounts, lines, vendor, receipts) of a job's accounting entries. Only ``pending``
and ``in_progress`` jobs serve them; a finished job answers 422
``EXPORT_JOB_STATUS_UNPROCESSABLE`` and unmapped contra accounts 400
``MISSING_CONTRA_ACCOUNTS`` (export-api.md §4.7, Part 3 rules 11 and 13). There is no status
filter. Receipt URLs expire 24 hours after the fetch (rule 15).
"""

from __future__ import annotations

import uuid

from pleo_erp.client._request import Call, ensure_uuid, query
from pleo_erp.client.pagination import AsyncPaginator, PagedCall, Paginator
from pleo_erp.client.resources._base import AsyncResource, SyncResource, paged
from pleo_erp.models.export_items import ExportItemV3

__all__ = ["AsyncExportItems", "ExportItems", "list_call"]


def list_call(job_id: uuid.UUID | str) -> Call:
    """``GET /v3/export-items?job_id=…``."""
    return Call(
        "export_items.list", "GET", "/v3/export-items", query(job_id=ensure_uuid(job_id, "job_id"))
    )


def list_op(job_id: uuid.UUID | str, page_size: int | None) -> PagedCall[ExportItemV3]:
    """:func:`list_call` paged, each page structured as ``ExportItemV3`` items."""
    return paged(list_call(job_id), ExportItemV3, page_size)


class ExportItems(SyncResource):
    """Export item payloads (``client.export_items``)."""

    def list(
        self, job_id: uuid.UUID | str, *, page_size: int | None = None
    ) -> Paginator[ExportItemV3]:
        """Iterate every ``ExportItemV3`` of the job, page by page (fetch all before posting)."""
        return self._paginate(list_op(job_id, page_size))


class AsyncExportItems(AsyncResource):
    """Export item payloads (``client.export_items`` on the async client)."""

    def list(
        self, job_id: uuid.UUID | str, *, page_size: int | None = None
    ) -> AsyncPaginator[ExportItemV3]:
        """Async twin of :meth:`ExportItems.list` (iterate with ``async for``)."""
        return self._paginate(list_op(job_id, page_size))

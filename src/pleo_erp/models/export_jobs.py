"""Export API v3: export jobs, job events, and the control-layer job items.

Responses type every "one of …" string as an open enum (``Enum | str``). Request bodies
(``CreateExportJob``, ``CreateExportJobEvent``, ``UpdateExportJobItemV3``,
``SearchExportJobItemsRequest``) use the closed enums, because the spec closes them there and
a request must only carry values Pleo accepts. The two failure-reason enums are distinct on
purpose: ``ExportJobFailureReasonType`` (15 job-level values) goes on job events,
``ExportJobItemFailureReasonType`` (18 item-level values) on item updates (export-api.md
Part 3 rule 3).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import TypeAlias

from attrs import define, field

from pleo_erp.models._fields import NULLABLE
from pleo_erp.models.common import CursorPage, DataResponse

__all__ = [
    "CreateExportJob",
    "CreateExportJobEvent",
    "CursorPaginatedResponseExportJobItemV3",
    "CursorPaginatedResponseExportJobV3",
    "DataResponseExportJobItemV3",
    "DataResponseExportJobV3",
    "ExportJobEventType",
    "ExportJobFailureReasonType",
    "ExportJobItemFailureReasonType",
    "ExportJobItemStatus",
    "ExportJobItemUpdateErrorType",
    "ExportJobItemUpdateErrorV3",
    "ExportJobItemUpdateV3",
    "ExportJobItemV3",
    "ExportJobStatus",
    "ExportJobV3",
    "Options",
    "SearchExportJobItemsRequest",
    "UpdateExportJobItemV3",
]


class ExportJobStatus(str, enum.Enum):
    """Lifecycle status of an export job."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"


class ExportJobEventType(str, enum.Enum):
    """Event the integration posts to move a job: ``started`` then one final event."""

    STARTED = "started"
    FAILED = "failed"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"


class ExportJobFailureReasonType(str, enum.Enum):
    """Job-level failure reason (15 values), sent only with the ``failed`` event."""

    INVALID_CONFIGURATION = "invalid_configuration"
    MISSING_CONFIGURATION = "missing_configuration"
    AUTHENTICATION_FAILURE = "authentication_failure"
    ACCOUNTING_SYSTEM_AUTHENTICATION_FAILURE = "accounting_system_authentication_failure"
    PLEO_RATE_LIMIT = "pleo_rate_limit"
    ACCOUNTING_SYSTEM_RATE_LIMIT = "accounting_system_rate_limit"
    SERVICE_UNREACHABLE = "service_unreachable"
    ACCOUNTING_SYSTEM_UNREACHABLE = "accounting_system_unreachable"
    VALIDATION_FAILURE = "validation_failure"
    AUTHORIZATION_FAILURE = "authorization_failure"
    INTEGRATION_UNUSABLE = "integration_unusable"
    JOB_EXPIRED = "job_expired"
    SERVICE_TIMEOUT = "service_timeout"
    ACCOUNTING_SYSTEM_TIMEOUT = "accounting_system_timeout"
    CANCELED_BY_USER = "canceled_by_user"


class ExportJobItemStatus(str, enum.Enum):
    """Status of one job item; the integration reports ``successful`` or ``failed``."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    SUCCESSFUL = "successful"
    ABANDONED = "abandoned"


class ExportJobItemFailureReasonType(str, enum.Enum):
    """Item-level failure reason (18 values), sent with a ``failed`` item update.

    Never valid on a job event: ``vendor_unknown`` and friends exist only here.
    """

    RECEIPT_UPLOAD_FAILURE = "receipt_upload_failure"
    RECEIPT_DOWNLOAD_FAILURE = "receipt_download_failure"
    RECEIPT_FILE_SIZE_LIMIT_EXCEEDED = "receipt_file_size_limit_exceeded"
    RECEIPT_CONVERSION_FAILURE = "receipt_conversion_failure"
    UNEXPECTED_FAILURE = "unexpected_failure"
    INVALID_CONFIGURATION = "invalid_configuration"
    MISSING_CONFIGURATION = "missing_configuration"
    ACCOUNTING_SYSTEM_AUTHENTICATION_FAILURE = "accounting_system_authentication_failure"
    ACCOUNTING_SYSTEM_RATE_LIMIT = "accounting_system_rate_limit"
    ACCOUNTING_SYSTEM_UNREACHABLE = "accounting_system_unreachable"
    VALIDATION_FAILURE = "validation_failure"
    ACCOUNTING_SYSTEM_VALIDATION_FAILURE = "accounting_system_validation_failure"
    AUTHORIZATION_FAILURE = "authorization_failure"
    ACCOUNTING_SYSTEM_TIMEOUT = "accounting_system_timeout"
    VENDOR_UNKNOWN = "vendor_unknown"
    ACCOUNT_UNKNOWN = "account_unknown"
    TAX_CODE_UNKNOWN = "tax_code_unknown"
    TAG_UNKNOWN = "tag_unknown"


class ExportJobItemUpdateErrorType(str, enum.Enum):
    """Per-item error type in a 200 response to an item update (open enum).

    The spec's descriptions of the last two look swapped (export-api.md Part 2 #22).
    """

    ACCOUNTING_ENTRY_DOES_NOT_EXIST = "ACCOUNTING_ENTRY_DOES_NOT_EXIST"
    EXPORT_ENTRY_STATUS_UPDATE_FAILED = "EXPORT_ENTRY_STATUS_UPDATE_FAILED"
    ACCOUNTING_ENTRY_UPDATE_FAILED = "ACCOUNTING_ENTRY_UPDATE_FAILED"


@define(frozen=True)
class ExportJobV3:
    """An export job: a batch of accounting entries a bookkeeper queued for export.

    A job expires ``expires_in`` seconds after ``last_updated_at`` (one hour).
    """

    company_id: uuid.UUID
    created_at: dt.datetime
    expires_in: int
    id: uuid.UUID
    is_interactive: bool
    number_of_items: int
    status: ExportJobStatus | str
    vendor_based_bookkeeping: bool
    completed_at: dt.datetime | None = field(default=None, metadata=NULLABLE)
    created_by: uuid.UUID | None = field(default=None, metadata=NULLABLE)
    expired_at: dt.datetime | None = field(default=None, metadata=NULLABLE)
    failure_reason: str | None = field(default=None, metadata=NULLABLE)
    failure_reason_type: ExportJobFailureReasonType | str | None = None
    last_updated_at: dt.datetime | None = field(default=None, metadata=NULLABLE)
    started_at: dt.datetime | None = field(default=None, metadata=NULLABLE)


@define(frozen=True)
class ExportJobItemV3:
    """Control-layer status of one accounting entry inside a job.

    ``status`` is required by the spec, yet the spec also says it stays null until processing
    was attempted (export-api.md Part 2 #25), so ``null`` is accepted here.
    """

    accounting_entry_id: uuid.UUID
    export_job_id: uuid.UUID
    status: ExportJobItemStatus | str | None
    exported_at: dt.datetime | None = field(default=None, metadata=NULLABLE)
    external_id: str | None = field(default=None, metadata=NULLABLE)
    external_url: str | None = field(default=None, metadata=NULLABLE)
    failure_reason: str | None = field(default=None, metadata=NULLABLE)
    failure_reason_type: ExportJobItemFailureReasonType | str | None = None


@define(frozen=True)
class ExportJobItemUpdateErrorV3:
    """One per-item error inside a successful (200) item-update response."""

    accounting_entry_id: uuid.UUID
    message: str
    type: ExportJobItemUpdateErrorType | str


@define(frozen=True)
class ExportJobItemUpdateV3:
    """Response to ``PUT /v3/export-jobs/{jobId}/items``: updated items and per-item errors."""

    data: tuple[ExportJobItemV3, ...]
    errors: tuple[ExportJobItemUpdateErrorV3, ...]


@define(frozen=True)
class UpdateExportJobItemV3:
    """One entry of the ``PUT /v3/export-jobs/{jobId}/items`` body (at most 100 per request).

    ``failure_reason`` / ``failure_reason_type`` belong to a ``failed`` status; ``external_id``
    / ``external_url`` / ``exported_at`` to a ``successful`` one.
    """

    accounting_entry_id: uuid.UUID
    status: ExportJobItemStatus
    exported_at: dt.datetime | None = None
    external_id: str | None = None
    external_url: str | None = None
    failure_reason: str | None = None
    failure_reason_type: ExportJobItemFailureReasonType | None = None


@define(frozen=True)
class CreateExportJobEvent:
    """Body of ``POST /v3/export-job-events`` (key ``jobId``, never ``exportJobId``).

    Send ``failure_reason`` / ``failure_reason_type`` only with ``ExportJobEventType.FAILED``.
    """

    event: ExportJobEventType
    job_id: uuid.UUID
    failure_reason: str | None = None
    failure_reason_type: ExportJobFailureReasonType | None = None


@define(frozen=True)
class Options:
    """Options of a new export job."""

    vendor_based_bookkeeping: bool | None = None


@define(frozen=True)
class CreateExportJob:
    """Body of ``POST /v3/export-jobs`` (normally Pleo creates jobs from its web app)."""

    accounting_entry_ids: tuple[uuid.UUID, ...]
    company_id: uuid.UUID
    employee_id: uuid.UUID | None = None
    is_interactive: bool | None = None
    options: Options | None = None


@define(frozen=True)
class SearchExportJobItemsRequest:
    """Body of the deprecated, excluded ``POST /v3/export-job-items:search`` (do not build on
    it; modelled only so that the spec is covered)."""

    accounting_entry_ids: tuple[uuid.UUID, ...]
    status: ExportJobItemStatus | None = None


DataResponseExportJobV3: TypeAlias = DataResponse[ExportJobV3]
"""``GET /v3/export-jobs/{jobId}`` and ``POST /v3/export-jobs`` response."""

DataResponseExportJobItemV3: TypeAlias = DataResponse[ExportJobItemV3]
"""``GET /v3/export-job-items`` (hidden endpoint) response."""

CursorPaginatedResponseExportJobV3: TypeAlias = CursorPage[ExportJobV3]
"""``GET /v3/export-jobs`` response page."""

CursorPaginatedResponseExportJobItemV3: TypeAlias = CursorPage[ExportJobItemV3]
"""``GET /v3/export-jobs/{jobId}/items`` response page."""

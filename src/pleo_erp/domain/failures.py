"""The two failure vocabularies of the Export API, as typed literals.

Pleo keeps two *different* enums (Export API reference ``export-api.md`` §5.3, Part 3 rule 3):

- :data:`ItemFailureType` — ``ExportJobItemFailureReasonType``, 18 values, for a failed item;
- :data:`JobFailureType` — ``ExportJobFailureReasonType``, 15 values, for a ``failed`` job.

Some values exist in only one of them (``vendor_unknown`` is item-only, ``job_expired`` is
job-only), so the domain never passes one where the other is expected. Literals (plain strings)
keep this module dependency-free; they compare equal to the wire models' ``str`` enums.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "ITEM_FAILURE_TYPES",
    "JOB_FAILURE_TYPES",
    "ItemFailureType",
    "JobFailureType",
    "is_item_failure_type",
    "is_job_failure_type",
]

ItemFailureType = Literal[
    "receipt_upload_failure",
    "receipt_download_failure",
    "receipt_file_size_limit_exceeded",
    "receipt_conversion_failure",
    "unexpected_failure",
    "invalid_configuration",
    "missing_configuration",
    "accounting_system_authentication_failure",
    "accounting_system_rate_limit",
    "accounting_system_unreachable",
    "validation_failure",
    "accounting_system_validation_failure",
    "authorization_failure",
    "accounting_system_timeout",
    "vendor_unknown",
    "account_unknown",
    "tax_code_unknown",
    "tag_unknown",
]
"""An item-level ``failureReasonType`` (``ExportJobItemFailureReasonType``)."""

JobFailureType = Literal[
    "invalid_configuration",
    "missing_configuration",
    "authentication_failure",
    "accounting_system_authentication_failure",
    "pleo_rate_limit",
    "accounting_system_rate_limit",
    "service_unreachable",
    "accounting_system_unreachable",
    "validation_failure",
    "authorization_failure",
    "integration_unusable",
    "job_expired",
    "service_timeout",
    "accounting_system_timeout",
    "canceled_by_user",
]
"""A job-level ``failureReasonType`` (``ExportJobFailureReasonType``)."""

ITEM_FAILURE_TYPES: Final[frozenset[str]] = frozenset(get_args(ItemFailureType))
"""Every value of :data:`ItemFailureType`."""

JOB_FAILURE_TYPES: Final[frozenset[str]] = frozenset(get_args(JobFailureType))
"""Every value of :data:`JobFailureType`."""


def is_item_failure_type(value: str) -> bool:
    """Whether ``value`` is one of the 18 item failure types."""
    return value in ITEM_FAILURE_TYPES


def is_job_failure_type(value: str) -> bool:
    """Whether ``value`` is one of the 15 job failure types."""
    return value in JOB_FAILURE_TYPES

"""Item and job outcomes: what gets reported to Pleo, and the failure messages (C23–C25).

Every processed item ends with exactly one :class:`ItemOutcome` — ``successful`` (with the AS's
id and URL) or ``failed`` (with one of the 18 item failure types and an actionable message).
The job's final event follows DESIGN decision 3 (:func:`job_outcome`): all items successful →
``completed``; otherwise ``completed_with_errors`` — even when every item failed — unless a
*job-level* cause exists (AS unreachable, authentication lost …), which sends ``failed`` with a
job-enum reason. ``failureReason*`` go only with ``failed`` (export-api.md Part 3 rule 2).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final, Literal, Protocol
from uuid import UUID

from attrs import Attribute, define, field

from pleo_erp.domain.failures import (
    ITEM_FAILURE_TYPES,
    JOB_FAILURE_TYPES,
    ItemFailureType,
    JobFailureType,
)
from pleo_erp.domain.journal import PostedEntry

__all__ = [
    "MAX_REASON_LENGTH",
    "ClassifiedError",
    "DomainFailure",
    "ItemFailure",
    "ItemOutcome",
    "JobFailure",
    "JobOutcome",
    "clean_message",
    "failure_for_error",
    "job_outcome",
    "unexpected_failure",
]

MAX_REASON_LENGTH: Final = 1000
"""Longest ``failureReason`` we send; longer AS messages are cut with an ellipsis."""

FinalEvent = Literal["completed", "completed_with_errors", "failed"]


def clean_message(text: str, limit: int = MAX_REASON_LENGTH) -> str:
    """A one-line, printable, bounded message (AS error texts can be multi-line or huge)."""
    printable = "".join(
        " " if unicodedata.category(ch)[0] == "C" else ch for ch in text if ch != "\r"
    )
    collapsed = " ".join(printable.split())
    if not collapsed:
        return "no details given"
    if len(collapsed) > limit:
        return collapsed[: limit - 1].rstrip() + "…"
    return collapsed


def _one_of(allowed: Iterable[str], what: str) -> Callable[[object, Attribute[Any], Any], None]:
    """An attrs validator refusing a failure type Pleo's enum does not have."""
    members = frozenset(allowed)

    def check(instance: object, attribute: Attribute[Any], value: Any) -> None:
        if value not in members:
            raise ValueError(f"{value!r} is not {what}")

    return check


@define(frozen=True, slots=True)
class ItemFailure:
    """Why one item failed: an item-enum type and a message for the bookkeeper."""

    failure_type: ItemFailureType = field(
        validator=_one_of(ITEM_FAILURE_TYPES, "an item failure type")
    )
    message: str


class DomainFailure(Exception):
    """A typed, expected failure of one item raised by the pure domain functions."""

    def __init__(self, failure_type: ItemFailureType, message: str) -> None:
        super().__init__(message)
        self.failure = ItemFailure(failure_type, clean_message(message))

    @property
    def failure_type(self) -> ItemFailureType:
        """The item failure type."""
        return self.failure.failure_type

    @property
    def message(self) -> str:
        """The message for the bookkeeper."""
        return self.failure.message


@define(frozen=True, slots=True)
class JobFailure:
    """A job-level cause: a job-enum type and a message (sent with the ``failed`` event)."""

    failure_type: JobFailureType = field(validator=_one_of(JOB_FAILURE_TYPES, "a job failure type"))
    message: str


@define(frozen=True, slots=True, kw_only=True)
class ItemOutcome:
    """The final status of one item, ready to be sent as an ``UpdateExportJobItemV3``."""

    accounting_entry_id: UUID
    status: Literal["successful", "failed"]
    external_id: str | None = None
    external_url: str | None = None
    exported_at: datetime | None = None
    failure_type: ItemFailureType | None = None
    failure_reason: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.status == "failed":
            if self.failure_type is None or not self.failure_reason:
                raise ValueError("a failed outcome needs a failure type and a reason (C23)")
        elif self.failure_type is not None or self.failure_reason is not None:
            raise ValueError("a successful outcome carries no failure (C23)")

    @classmethod
    def success(
        cls, accounting_entry_id: UUID, posted: PostedEntry, exported_at: datetime
    ) -> ItemOutcome:
        """A ``successful`` outcome for an entry the AS holds."""
        return cls(
            accounting_entry_id=accounting_entry_id,
            status="successful",
            external_id=posted.external_id,
            external_url=posted.url,
            exported_at=exported_at,
        )

    @classmethod
    def failure(cls, accounting_entry_id: UUID, failure: ItemFailure) -> ItemOutcome:
        """A ``failed`` outcome."""
        return cls(
            accounting_entry_id=accounting_entry_id,
            status="failed",
            failure_type=failure.failure_type,
            failure_reason=clean_message(failure.message),
        )


@define(frozen=True, slots=True, kw_only=True)
class JobOutcome:
    """The one final event of a job, with a reason only for ``failed``."""

    event: FinalEvent
    failure_type: JobFailureType | None = None
    failure_reason: str | None = None


def job_outcome(statuses: Iterable[str], *, job_failure: JobFailure | None = None) -> JobOutcome:
    """The final event for a job whose items ended with ``statuses`` (DESIGN decision 3, C25).

    ``statuses`` are the final item statuses of the whole job (earlier runs included).
    ``abandoned`` counts as not successful. No items at all → ``completed`` (B7: nothing
    failed).
    """
    if job_failure is not None:
        return JobOutcome(
            event="failed",
            failure_type=job_failure.failure_type,
            failure_reason=clean_message(job_failure.message),
        )
    for status in statuses:
        if status != "successful":
            return JobOutcome(event="completed_with_errors")
    return JobOutcome(event="completed")


class ClassifiedError(Protocol):
    """An error that names the Pleo item failure type it means.

    :class:`~pleo_erp.accounting_system.AccountingSystemError` (and every subclass) fits; the
    domain reads errors through this shape so it never imports the accounting-system layer.
    """

    @property
    def failure_type(self) -> ItemFailureType:
        """The item failure type this error means (before configured overrides)."""
        ...

    @property
    def message(self) -> str:
        """The bookkeeper-facing text (actionable, free of secrets)."""
        ...


def failure_for_error(
    error: ClassifiedError,
    overrides: Mapping[str, ItemFailureType] | None = None,
) -> ItemFailure:
    """The item failure an AS error means, after the configured type overrides (B6)."""
    failure_type: ItemFailureType = error.failure_type
    if overrides and failure_type in overrides:
        failure_type = overrides[failure_type]
    if failure_type not in ITEM_FAILURE_TYPES:
        failure_type = "unexpected_failure"
    return ItemFailure(failure_type, clean_message(error.message or type(error).__name__))


def unexpected_failure(error: BaseException, *, reference: str | None = None) -> ItemFailure:
    """The failure for an exception nobody classified (a bug or an undocumented AS error).

    The message is generic on purpose: the exception's text is untrusted (a driver error may
    quote a connection string with its password) and goes to the logs only, under
    ``reference`` — the correlation id the message quotes so support can find it.
    """
    del error  # only its reference reaches Pleo; the caller logs the details
    shown = f" (reference {reference})" if reference else ""
    return ItemFailure(
        "unexpected_failure",
        "The accounting system integration hit an unexpected error while exporting this "
        f"expense{shown}. Export it again; if it keeps failing, contact the integration's "
        "support" + (" and quote the reference." if reference else "."),
    )

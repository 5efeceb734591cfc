"""``ExportConfig``: every choice the export makes that a vendor or customer may change.

The defaults are the safe reading of Pleo's docs (each documented in ``docs/export.md``):
drafts (C22), a closed period fails the item (C21), ``bookkeeping: null`` is a journal entry
(B3, DESIGN decision 7), no fallback AP account for unknown vendors (DESIGN decision 6), a
receipt problem fails the item (C20), reports in batches of 100 (C24).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from attrs import define, field, validators

from pleo_erp.domain.failures import ITEM_FAILURE_TYPES, ItemFailureType
from pleo_erp.domain.journal import (
    AccountsMapping,
    Attachment,
    Capabilities,
    PostingMode,
    VendorKeyField,
)
from pleo_erp.domain.mapping import AccountKey, PostingRule

__all__ = [
    "DEFAULT_SUPPLIER_KEY_ORDER",
    "DEFAULT_VENDOR_KEY_ORDER",
    "ClosedPeriodPolicy",
    "ExportConfig",
    "NullBookkeepingPolicy",
    "ReceiptFailurePolicy",
    "ReceiptMerger",
]

ClosedPeriodPolicy = Literal["fail", "today", "next_open"]
"""What to do when the posting date is in a closed period (C21)."""

NullBookkeepingPolicy = Literal["journal", "accounts_payable"]
"""How to book an item whose ``bookkeeping`` object is ``null`` (C1, B3)."""

ReceiptFailurePolicy = Literal["fail", "warn"]
"""Whether a receipt problem fails the item or only adds a warning (C20)."""

ReceiptMerger = Callable[[Sequence[Attachment], Path], Attachment]
"""Merges several receipts into one file at the given path (C19); default: a ZIP archive."""

DEFAULT_VENDOR_KEY_ORDER: tuple[VendorKeyField, ...] = (
    "vendor.code",
    "vendor.externalId",
    "vendor.taxRegistrationNumber",
    "vendor.registrationNumber",
)
"""C3 / B5: vendor match order when the item has a ``vendor`` object."""

DEFAULT_SUPPLIER_KEY_ORDER: tuple[VendorKeyField, ...] = (
    "supplier.code",
    "supplier.account",
    "supplier.taxIdentifier",
)
"""C3: legacy match order on the ``supplier`` object (only when no ``vendor`` is present)."""


def _rules(value: Mapping[str, PostingRule] | None) -> Mapping[str, PostingRule]:
    return dict(value or {})


def _overrides(value: Mapping[str, str] | None) -> Mapping[str, ItemFailureType]:
    result: dict[str, ItemFailureType] = {}
    for source, target in (value or {}).items():
        if source not in ITEM_FAILURE_TYPES or target not in ITEM_FAILURE_TYPES:
            raise ValueError(
                f"failure_type_overrides maps item failure types to item failure types; "
                f"got {source!r} → {target!r}"
            )
        result[source] = target  # type: ignore[assignment]  # checked just above
    return result


def _positive(_instance: object, attribute: Any, value: Any) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0 (got {value})")


def _non_negative(_instance: object, attribute: Any, value: Any) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0 (got {value})")


@define(frozen=True, slots=True, kw_only=True)
class ExportConfig:
    """Configuration of :func:`pleo_erp.export_expenses` (all optional).

    Accounts:
        accounts: overrides laid over the AS's ``accounts_mapping()`` (every field set here
            wins).
        posting_rules: per-type (``"refund"``) or per-type-and-subtype
            (``"direct_reimbursement:reimbursement_to_company"``) debit/credit rules laid over
            :data:`~pleo_erp.domain.mapping.DEFAULT_POSTING_RULES`; also the way to support a
            type Pleo adds later.
        account_key: which field of a Pleo account names the AS account first (``code`` or
            ``identifier``; the other is the fallback).
        team_dimension: when set, the item's ``team.code`` is added to every expense line as
            a value of this dimension (B19).

    Bookkeeping:
        null_bookkeeping: ``bookkeeping: null`` → ``journal`` (default) or ``accounts_payable``.
        fallback_ap: book AP items whose vendor is absent or unknown in the AS on the shared
            AP account instead of failing them with ``vendor_unknown`` (B4). Blocked vendors
            always fail.
        vendor_key_order / supplier_key_order: vendor lookup order (C3).

    Posting:
        posting_mode: ``draft`` | ``final``; ``None`` → ``draft`` (C22).
        closed_period: ``fail`` | ``today`` | ``next_open`` (C21).
        explicit_vat: post VAT as separate lines; ``None`` → the AS's capability.
        description_max_length: overrides the AS's description field size.
        description_separator: between supplier, user and note (C13).
        unknown_type_failure: the failure type for item types no rule covers (C28).
        failure_type_overrides: item failure type → item failure type, e.g.
            ``{"account_unknown": "invalid_configuration"}`` for the older mapping (B6).
        fx_rounding_tolerance: minor units *per line* by which the wallet-currency lines of
            a split may miss the wallet total (Pleo converts each line on its own); the
            difference is posted to ``AccountsMapping.rounding``. Default 1; ``0`` fails
            every difference as before.

    Receipts:
        receipts: download and attach receipts at all.
        receipt_failure: ``fail`` the item (default) or ``warn`` and post without the receipt.
        receipt_concurrency: parallel downloads (``0``: download inline, one at a time).
        receipt_prefetch: how many upcoming items' receipts may be downloading ahead.
        receipt_allowed_hosts: hosts allowed over plain http (their addresses are still
            checked; loopback only from a trusted sandbox origin, see the client's
            ``allow_local_receipts_from``).
        allow_cross_host_redirects: follow a receipt redirect to another host.
        receipt_merger: how to merge receipts for an AS that takes one file per entry.
        receipt_timeout: overall deadline in seconds per receipt download (retries included).
        receipt_retries: further attempts after a transient download failure (429, 5xx,
            connection errors), with backoff and ``Retry-After``.
        receipt_memory_limit: receipts up to this many bytes stay in memory; bigger ones are
            streamed to a private temporary file.

    Reporting and retries:
        batch_size: item updates per request (1..100, C24).
        page_size: page size asked of Pleo's list endpoints (``None``: Pleo's default).
        post_concurrency: how many items may be in the accounting system at once (their
            ``find_posted`` / ``post`` calls in flight), capped by the adapter's
            ``Capabilities.max_concurrent_posts``. Default 1: one item at a time.
        report_interval: seconds after which pending outcomes are sent even if the batch is
            not full (keeps a slow job from expiring: jobs expire 1 h after the last update).
        as_max_retries: retries of an AS call that was rate-limited or unreachable before
            the job is failed with a job-level reason.
        as_retry_delay / as_max_retry_delay: first backoff and its cap (seconds).
        transient_give_up_after: seconds since the job's last update (``lastUpdatedAt``) during
            which a transient AS condition (not ready, unreachable, timeout, rate limited)
            leaves the job for the next run; after that it is failed with the matching job
            reason. Default 45 minutes, inside Pleo's one-hour expiry; ``0`` fails at once.
    """

    accounts: AccountsMapping | None = None
    posting_rules: Mapping[str, PostingRule] = field(factory=dict, converter=_rules)
    account_key: AccountKey = field(
        default="code", validator=validators.in_(("code", "identifier"))
    )
    team_dimension: str | None = None

    null_bookkeeping: NullBookkeepingPolicy = field(
        default="journal", validator=validators.in_(("journal", "accounts_payable"))
    )
    fallback_ap: bool = False
    vendor_key_order: tuple[VendorKeyField, ...] = DEFAULT_VENDOR_KEY_ORDER
    supplier_key_order: tuple[VendorKeyField, ...] = DEFAULT_SUPPLIER_KEY_ORDER

    posting_mode: PostingMode | None = field(
        default=None, validator=validators.optional(validators.in_(("draft", "final")))
    )
    closed_period: ClosedPeriodPolicy = field(
        default="fail", validator=validators.in_(("fail", "today", "next_open"))
    )
    explicit_vat: bool | None = None
    description_max_length: int | None = field(
        default=None, validator=validators.optional(_positive)
    )
    description_separator: str = " - "
    unknown_type_failure: ItemFailureType = field(
        default="validation_failure", validator=validators.in_(ITEM_FAILURE_TYPES)
    )
    failure_type_overrides: Mapping[str, ItemFailureType] = field(
        factory=dict, converter=_overrides
    )
    fx_rounding_tolerance: int = field(default=1, validator=_non_negative)

    receipts: bool = True
    receipt_failure: ReceiptFailurePolicy = field(
        default="fail", validator=validators.in_(("fail", "warn"))
    )
    receipt_concurrency: int = field(default=4, validator=_non_negative)
    receipt_prefetch: int = field(default=16, validator=_positive)
    receipt_allowed_hosts: tuple[str, ...] = ()
    allow_cross_host_redirects: bool = False
    receipt_merger: ReceiptMerger | None = None
    receipt_timeout: float = field(default=60.0, validator=_positive)
    receipt_retries: int = field(default=6, validator=_non_negative)
    receipt_memory_limit: int = field(default=1024 * 1024, validator=_non_negative)

    batch_size: int = field(default=100, validator=validators.and_(_positive, validators.le(100)))
    page_size: int | None = field(default=None, validator=validators.optional(_positive))
    post_concurrency: int = field(default=1, validator=_positive)
    report_interval: float = field(default=300.0, validator=_positive)
    as_max_retries: int = field(default=3, validator=_non_negative)
    as_retry_delay: float = field(default=1.0, validator=_non_negative)
    as_max_retry_delay: float = field(default=60.0, validator=_non_negative)
    transient_give_up_after: float = field(
        default=2700.0, validator=validators.and_(_non_negative, validators.lt(3600.0))
    )

    def effective_mapping(self, from_as: AccountsMapping) -> AccountsMapping:
        """The AS's accounts mapping with this config's overrides laid over it."""
        return from_as.merged(self.accounts)

    def effective_posting_mode(self, capabilities: Capabilities) -> PostingMode:
        """``draft`` unless configured ``final`` — or the AS has no drafts (C22)."""
        if not capabilities.supports_drafts:
            return "final"
        return self.posting_mode or "draft"

    def effective_explicit_vat(self, capabilities: Capabilities) -> bool:
        """Whether VAT goes on separate lines (config, else the AS's capability)."""
        return capabilities.explicit_vat if self.explicit_vat is None else self.explicit_vat

    def effective_description_length(self, capabilities: Capabilities) -> int | None:
        """The description field size (config, else the AS's capability)."""
        return self.description_max_length or capabilities.description_max_length

"""Per-item validation before any AS call (C5, FETCH/HT-FETCH).

Pleo's data-layer step says: before recording an item, check that the configuration it needs
is present (journal configured, required accounts mapped) and that every line has its expense
GL account; an item that fails is marked failed at once and never reaches the AS. We also check
here what the builders would refuse anyway — unknown type/method, unusable currency, lines that
do not add up — so a bad item costs no AS call at all.

For accounts-payable items the AP account may come from the vendor (an AS lookup), so it is
checked later, after vendor resolution.
"""

from __future__ import annotations

from pleo_erp.domain.bookkeeping import AP_DOCUMENT_TYPES, BookkeepingMethod
from pleo_erp.domain.entries import (
    EntryContext,
    bookable_currency,
    check_lines,
    item_kind,
    posting_rule,
)
from pleo_erp.domain.mapping import ACCOUNT_ROLES, resolve_role_account
from pleo_erp.models import ExportItemV3

__all__ = ["validate_item"]


def validate_item(item: ExportItemV3, method: BookkeepingMethod, ctx: EntryContext) -> None:
    """Raise :class:`DomainFailure` if ``item`` cannot be booked with this configuration."""
    currency = bookable_currency(item)
    item_type, sub_type = item_kind(item)
    uses_lines: bool
    if method is BookkeepingMethod.ACCOUNTS_PAYABLE and item_type in AP_DOCUMENT_TYPES:
        uses_lines = item_type != "invoice_payment"
        if item_type != "invoice":
            resolve_role_account(
                "wallet",
                mapping=ctx.mapping,
                currency=currency,
                contra_account=item.contra_account,
                prefer=ctx.config.account_key,
            )
    else:
        rule = posting_rule(item_type, sub_type, ctx)
        for side in (rule.debit, rule.credit):
            if side != "lines" and (not isinstance(side, str) or side in ACCOUNT_ROLES):
                resolve_role_account(
                    side,
                    mapping=ctx.mapping,
                    currency=currency,
                    contra_account=item.contra_account,
                    prefer=ctx.config.account_key,
                )
        uses_lines = rule.lines_side is not None
    check_lines(item, ctx, require_accounts=uses_lines)

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

from pleo_erp.domain.bookkeeping import AP_DOCUMENT_TYPES, BookkeepingMethod, enum_value
from pleo_erp.domain.entries import EntryContext, check_lines
from pleo_erp.domain.mapping import ACCOUNT_ROLES, resolve_role_account, rule_for
from pleo_erp.domain.money import minor_unit_exponent
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.models import ExportItemV3

__all__ = ["validate_item"]


def validate_item(item: ExportItemV3, method: BookkeepingMethod, ctx: EntryContext) -> None:
    """Raise :class:`DomainFailure` if ``item`` cannot be booked with this configuration."""
    currency = item.amount.in_wallet_currency.currency
    if minor_unit_exponent(currency) is None:
        raise DomainFailure(
            "validation_failure",
            f"Wallet currency {currency!r} is not a usable ISO 4217 currency; "
            "the expense cannot be booked.",
        )
    if not item.accounting_entry_lines:
        raise DomainFailure(
            "validation_failure", "The expense has no accounting lines; re-save it in Pleo."
        )
    item_type = enum_value(item.type)
    sub_type = enum_value(item.sub_type) if item.sub_type is not None else None
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
        rule = rule_for(item_type, sub_type, ctx.config.posting_rules)
        if rule is None:
            kind = f"{item_type!r}" + (f" (subtype {sub_type!r})" if sub_type else "")
            raise DomainFailure(
                ctx.config.unknown_type_failure,
                f"Expense type {kind} is not supported by this integration yet; add a "
                "posting rule for it in the export configuration.",
            )
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

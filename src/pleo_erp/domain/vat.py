"""VAT of one line: how a line's amount splits into expense and tax postings (C11, B14).

Inputs are the line's *gross* amount — what left (or came back to) the wallet for that line —
and its tax (type, amount, rate, accounts), already normalised to the item's natural direction
(positive = the rule's line side). Pleo's wording of ``netAmount`` is contradictory (B14), so
the split only relies on the gross amount and the tax amount:

============  ======================================  ==========================================
tax type      explicit VAT (separate tax lines)       implicit (AS splits by tax code)
============  ======================================  ==========================================
inclusive     expense = gross − tax; input VAT = tax  expense = gross with tax code, tax inside
exclusive     expense = gross − tax; input VAT = tax  expense = gross with tax code, tax inside
reverse       expense = gross; input VAT = tax on the expense = gross with tax code and
              line side, output VAT = tax opposite    ``reverse_charge_tax`` = tax (nothing
              (the two cancel: net VAT 0)             inside the gross is VAT); the AS books
                                                      both legs
none / 0 %    expense = gross                          expense = gross
============  ======================================  ==========================================

For reverse charge with a zero tax amount but a positive rate, the tax is computed from the
rate (half-up to the minor unit) — the purchaser must self-assess it. Input VAT goes to the
line's ``ingoingTaxAccount`` (else the mapping's ``vat_input``), reverse-charge output VAT to
``outgoingTaxAccount`` (else ``vat_output``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from attrs import define

from pleo_erp.domain.outcomes import DomainFailure

__all__ = ["KNOWN_TAX_TYPES", "TaxPosting", "VatSplit", "reverse_charge_amount", "split_vat"]

KNOWN_TAX_TYPES: Final[frozenset[str]] = frozenset({"inclusive", "exclusive", "reverse"})
"""Tax types the split understands; others fail the item (C11: never a crash)."""


@define(frozen=True, slots=True)
class TaxPosting:
    """One explicit VAT posting: signed amount (positive = the line's side)."""

    account: str
    amount: int
    output: bool = False


@define(frozen=True, slots=True, kw_only=True)
class VatSplit:
    """The postings of one line.

    ``expense`` goes to the line's account (signed, positive = line side); ``taxes`` are the
    explicit VAT postings (empty when VAT is implicit). ``implicit_tax`` is the VAT the AS must
    split out of the expense line by its tax code (0 when explicit). ``reverse_charge_tax`` is
    the reverse-charge VAT the AS must self-assess on top of the full expense (implicit VAT
    only; never inside ``expense``).
    """

    expense: int
    taxes: tuple[TaxPosting, ...] = ()
    implicit_tax: int = 0
    reverse_charge_tax: int = 0

    @property
    def total(self) -> int:
        """Σ of the postings (= the line's gross amount: VAT postings of reverse charge cancel)."""
        return self.expense + sum(t.amount for t in self.taxes)


def reverse_charge_amount(gross: int, rate: Decimal) -> int:
    """Self-assessed reverse-charge VAT on ``gross`` minor units, rounded half-up."""
    value = (Decimal(gross) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(value)


def _code_text(tax_code: str | None) -> str:
    return f" {tax_code!r}" if tax_code else ""


def split_vat(
    gross: int,
    *,
    tax_type: str | None,
    tax_amount: int,
    rate: Decimal | None,
    tax_code: str | None,
    explicit: bool,
    input_account: str | None,
    output_account: str | None,
    line_label: str = "line",
) -> VatSplit:
    """Split one line into expense and VAT postings (see the module table).

    Raises :class:`DomainFailure`: unknown tax type (``validation_failure``), a tax larger than
    the line (``validation_failure``), a VAT account needed but not configured
    (``missing_configuration``).
    """
    if tax_type is None:
        return VatSplit(expense=gross)
    if tax_type not in KNOWN_TAX_TYPES:
        raise DomainFailure(
            "validation_failure",
            f"Tax type {tax_type!r} on {line_label} is not supported; "
            "choose an inclusive, exclusive or reverse-charge tax code in Pleo.",
        )
    if tax_type == "reverse":
        tax = tax_amount
        if tax == 0 and rate is not None and rate > 0:
            tax = reverse_charge_amount(gross, rate)
        if not explicit or tax == 0:
            # Implicit: the full gross is the expense; the VAT is *not* inside it (C11, B14).
            return VatSplit(expense=gross, reverse_charge_tax=0 if explicit else tax)
        if not input_account or not output_account:
            code = _code_text(tax_code)  # only on failure: the hot path formats nothing
            raise DomainFailure(
                "missing_configuration",
                f"Tax accounts for reverse-charge tax code{code} missing – set the ingoing and "
                "outgoing tax accounts on the tax code, or AccountsMapping.vat_input and "
                "vat_output.",
            )
        return VatSplit(
            expense=gross,
            taxes=(
                TaxPosting(input_account, tax),
                TaxPosting(output_account, -tax, output=True),
            ),
        )
    # inclusive / exclusive: the tax is part of what was paid.
    if abs(tax_amount) > abs(gross) or (tax_amount and (tax_amount > 0) != (gross > 0)):
        raise DomainFailure(
            "validation_failure",
            f"Tax amount {tax_amount} on {line_label} does not fit its amount {gross}; "
            "check the tax code and amounts of the expense in Pleo.",
        )
    if not explicit or tax_amount == 0:
        return VatSplit(expense=gross, implicit_tax=0 if explicit else tax_amount)
    if not input_account:
        code = _code_text(tax_code)
        raise DomainFailure(
            "missing_configuration",
            f"Tax account for tax code{code} missing – set the ingoing tax account on the "
            "tax code, or AccountsMapping.vat_input.",
        )
    return VatSplit(expense=gross - tax_amount, taxes=(TaxPosting(input_account, tax_amount),))

"""Accounts mapping: which account each side of an item's entry goes to (C6, C7).

Pleo says the debit side is the line's own account (``accountingEntryLines[].account``) and the
counter side comes from "type/subType rules, ``contraAccount`` when provided, or the configured
Wallet / Out-of-pocket / Contra accounts" (erp-processing.md A6) — but the per-type table itself
was not retrievable (B1). :data:`DEFAULT_POSTING_RULES` is our **derived** table (B-derived),
written as data so a vendor can override any row through ``ExportConfig.posting_rules``.

A rule names two sides. A side is a :data:`Role` — ``"lines"`` (each Pleo line's own account,
with VAT and dimensions), ``"wallet"`` (``item.contraAccount``, else the configured wallet
account for the wallet currency), ``"out_of_pocket"``, ``"balancing"`` (the "Pleo Contra
Account"), ``"external_reimbursement"``, ``"accounts_payable"`` — or a fixed account
(:class:`FixedAccount`). The rule describes the *natural* direction of the item; amounts of
the opposite sign are booked the other way round (DESIGN decision 11, see
:mod:`pleo_erp.domain.entries`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, TypeAlias

from attrs import define, field

from pleo_erp.domain.journal import AccountsMapping
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.models import AccountV3, ContraAccount

__all__ = [
    "ACCOUNT_ROLES",
    "DEFAULT_POSTING_RULES",
    "AccountKey",
    "FixedAccount",
    "PostingRule",
    "Role",
    "Side",
    "account_code",
    "resolve_role_account",
    "rule_for",
]

Role = Literal[
    "lines",
    "wallet",
    "out_of_pocket",
    "balancing",
    "external_reimbursement",
    "accounts_payable",
]
"""A side of a posting rule that is resolved per item (see the module docstring)."""

ACCOUNT_ROLES: Final[frozenset[str]] = frozenset(
    {"wallet", "out_of_pocket", "balancing", "external_reimbursement", "accounts_payable"}
)
"""Roles that resolve to one configured (or item-given) account."""

AccountKey = Literal["code", "identifier"]
"""Which field of a Pleo account names the AS account first (the other is the fallback)."""


@define(frozen=True, slots=True)
class FixedAccount:
    """A side that always books on one AS account, whatever the item says."""

    account: str = field()

    @account.validator
    def _check(self, _attribute: object, value: str) -> None:
        if not value:
            raise ValueError("FixedAccount needs an account")


Side: TypeAlias = Role | FixedAccount
"""One side of a :class:`PostingRule`."""


def _check_side(_instance: object, attribute: object, value: object) -> None:
    if isinstance(value, FixedAccount):
        return
    if value != "lines" and value not in ACCOUNT_ROLES:
        raise ValueError(f"unknown posting side {value!r}")


@define(frozen=True, slots=True)
class PostingRule:
    """Debit and credit sides of an item type's natural direction; at most one is ``"lines"``."""

    debit: Side = field(validator=_check_side)
    credit: Side = field(validator=_check_side)

    def __attrs_post_init__(self) -> None:
        if self.debit == "lines" and self.credit == "lines":
            raise ValueError("a posting rule cannot book the lines on both sides")

    @property
    def lines_side(self) -> Literal["debit", "credit"] | None:
        """Which side carries the Pleo lines, if any."""
        if self.debit == "lines":
            return "debit"
        if self.credit == "lines":
            return "credit"
        return None

    def uses(self, role: str) -> bool:
        """Whether either side is ``role``."""
        return role in (self.debit, self.credit)


def _rule(debit: Side, credit: Side) -> PostingRule:
    return PostingRule(debit, credit)


# Keys are "type" or "type:subType" (the more specific key wins). Every row is [derived];
# docs/export.md explains each one.
DEFAULT_POSTING_RULES: Final[Mapping[str, PostingRule]] = {
    # Spend from the wallet: expense (+VAT) against the wallet's contra account.
    "card_purchase": _rule("lines", "wallet"),
    "card_invoice": _rule("lines", "wallet"),
    "fee": _rule("lines", "wallet"),
    # Money back into the wallet: the inverse of a purchase.
    "refund": _rule("wallet", "lines"),
    "chargeback": _rule("wallet", "lines"),
    "cashback": _rule("wallet", "lines"),
    # Cash / private use: the employee owes the company.
    "atm_withdrawal": _rule("out_of_pocket", "wallet"),
    "personal_spend": _rule("out_of_pocket", "wallet"),
    # Employee paid privately: expense against the liability to the employee.
    "out_of_pocket": _rule("lines", "out_of_pocket"),
    "mileage": _rule("lines", "out_of_pocket"),
    "per_diem": _rule("lines", "out_of_pocket"),
    # Reimbursements settle the out-of-pocket balance.
    "direct_reimbursement": _rule("out_of_pocket", "wallet"),
    "direct_reimbursement:reimbursement_to_company": _rule("wallet", "out_of_pocket"),
    "direct_reimbursement:reimbursement_to_employee_refund": _rule("wallet", "out_of_pocket"),
    "external_reimbursement": _rule("out_of_pocket", "external_reimbursement"),
    "external_reimbursement:reimbursement_to_company": _rule(
        "external_reimbursement", "out_of_pocket"
    ),
    "external_reimbursement:reimbursement_to_employee_refund": _rule(
        "external_reimbursement", "out_of_pocket"
    ),
    # Wallet loads/unloads are always journal entries against the balancing account.
    "wallet_topup": _rule("wallet", "balancing"),
    "wallet_unload": _rule("balancing", "wallet"),
    # Invoices under the journal method: through the balancing account, so invoice + payment
    # net to "expense against wallet" (C7: a journal rule never uses an AP account).
    "invoice": _rule("lines", "balancing"),
    "invoice_payment": _rule("balancing", "wallet"),
    "invoice_payment:invoice_payment_returned": _rule("wallet", "balancing"),
}
"""The derived per-type table for journal entries (erp-processing.md B-derived)."""


def rule_for(
    item_type: str,
    sub_type: str | None,
    overrides: Mapping[str, PostingRule] | None = None,
) -> PostingRule | None:
    """The posting rule for ``type`` / ``subType``: overrides first, specific key first.

    ``None`` means the type is unknown (C28: the item fails, it never crashes the job).
    """
    keys = [f"{item_type}:{sub_type}", item_type] if sub_type else [item_type]
    for table in (overrides or {}, DEFAULT_POSTING_RULES):
        for key in keys:
            rule = table.get(key)
            if rule is not None:
                return rule
    return None


def account_code(
    account: AccountV3 | ContraAccount | None, prefer: AccountKey = "code"
) -> str | None:
    """The AS account named by a Pleo account: ``code`` (GL number) else ``identifier`` (C6)."""
    if account is None:
        return None
    first, second = (
        (account.code, account.identifier)
        if prefer == "code"
        else (account.identifier, account.code)
    )
    for value in (first, second):
        if value is not None:
            stripped = value.strip()
            if stripped:
                return stripped
    return None


_ROLE_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "wallet": ("Pleo Wallet account", "wallet"),
    "out_of_pocket": ("Pleo Out-of-Pocket account", "out_of_pocket"),
    "balancing": ("Pleo Contra (balancing) account", "balancing"),
    "external_reimbursement": ("external reimbursement account", "external_reimbursement"),
    "accounts_payable": ("Accounts Payable account", "accounts_payable"),
}


def resolve_role_account(
    side: Side,
    *,
    mapping: AccountsMapping,
    currency: str,
    contra_account: ContraAccount | None,
    prefer: AccountKey = "code",
) -> str:
    """The AS account for a non-line side, or :class:`DomainFailure` ``missing_configuration``.

    ``wallet`` uses the item's ``contraAccount`` when present, then the mapping's account for
    the wallet currency, then its default wallet account if that is kept in the same currency
    (:meth:`AccountsMapping.wallet_account`). ``external_reimbursement`` falls back
    to ``balancing``.
    """
    if isinstance(side, FixedAccount):
        return side.account
    account: str | None
    if side == "wallet":
        account = account_code(contra_account, prefer) or mapping.wallet_account(currency)
    elif side == "out_of_pocket":
        account = mapping.out_of_pocket
    elif side == "balancing":
        account = mapping.balancing
    elif side == "external_reimbursement":
        account = mapping.external_reimbursement or mapping.balancing
    elif side == "accounts_payable":
        account = mapping.accounts_payable
    else:  # "lines" has no single account
        raise ValueError(f"side {side!r} is not an account role")
    if account:
        return account
    label, attribute = _ROLE_LABELS[side]
    if side == "wallet" and mapping.wallet:
        # Accounts-mapping rule: currency-compatible or fail, never the home-currency wallet.
        home = mapping.default_wallet_currency() or "another currency"
        raise DomainFailure(
            "missing_configuration",
            f"No {currency} wallet account – the default Pleo Wallet account "
            f"{mapping.wallet} is kept in {home}. Map a contra account for the {currency} "
            f"wallet in Pleo's accounting settings, or add wallet_by_currency[{currency!r}] "
            "to the accounts mapping (or set AccountsMapping.wallet_currency if "
            f"{mapping.wallet} is a {currency} account).",
        )
    hint = (
        f"map a contra account for {currency} in Pleo's accounting settings or set "
        f"AccountsMapping.wallet / wallet_by_currency[{currency!r}]"
        if side == "wallet"
        else f"set AccountsMapping.{attribute} in the integration configuration"
    )
    raise DomainFailure("missing_configuration", f"{label} missing – {hint}.")

"""``create_ledger``: a fresh, bean-check-clean ledger from a chart description.

The chart (:class:`ChartLike`, which the sandbox's ``DemoChart`` fits) holds the records of
:mod:`pleo_erp.domain.records` — accounts, tax codes, dimensions with their values — plus an
accounts mapping, vendors and a lock date; it is read structurally, so this module does not
depend on the testing package. Account names are derived from each account's kind and name
(``expense`` "Travel" → ``Expenses:Travel``; "AP - Acme" → ``Liabilities:AP:Acme``) and keep
the chart's own ids as metadata (``external-id``, ``code``), so Pleo-side ids and codes match
exactly.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol, TypeAlias

from pleo_erp.adapters.beancount._atomic import atomic_write_bytes
from pleo_erp.adapters.beancount._ledger import BeancountLedger
from pleo_erp.adapters.beancount._render import (
    AccountToken,
    check_account,
    check_currency,
    check_meta_key,
    quote,
    render_custom,
)
from pleo_erp.domain.records import Dimension, DimensionValue, LedgerAccount, LedgerTaxCode

__all__ = [
    "ChartAccount",
    "ChartDimension",
    "ChartDimensionValue",
    "ChartLike",
    "ChartMapping",
    "ChartTaxCode",
    "ChartVendor",
    "account_name_for",
    "create_ledger",
    "render_ledger",
]

_ROOTS: Mapping[str, str] = {
    "expense": "Expenses",
    "income": "Income",
    "asset": "Assets",
    "liability": "Liabilities",
    "equity": "Equity",
}
_PLEO_TAX_TYPES = frozenset({"inclusive", "exclusive", "reverse"})


ChartAccount: TypeAlias = LedgerAccount
"""An account of the chart: the record :class:`~pleo_erp.domain.records.LedgerAccount`
(alias kept). ``kind`` picks the ledger root (``None``: ``Expenses``); an account without a
``code`` is keyed by its ``external_id``."""


ChartTaxCode: TypeAlias = LedgerTaxCode
"""A tax code of the chart: the record :class:`~pleo_erp.domain.records.LedgerTaxCode`
(alias kept)."""


ChartDimensionValue: TypeAlias = DimensionValue
"""A dimension value: the record :class:`~pleo_erp.domain.records.DimensionValue` (alias
kept)."""


ChartDimension: TypeAlias = Dimension
"""A dimension with its values (``Dimension.values``): the record
:class:`~pleo_erp.domain.records.Dimension` (alias kept)."""


class ChartVendor(Protocol):
    """A vendor (``DemoVendor``-shaped); ``ap_account`` is an account code."""

    @property
    def code(self) -> str:
        """The vendor's code."""
        ...

    @property
    def name(self) -> str:
        """The vendor's display name."""
        ...

    @property
    def currency(self) -> str:
        """The vendor's ISO 4217 currency code."""
        ...

    @property
    def ap_account(self) -> str:
        """The code of the vendor's accounts-payable account."""
        ...

    @property
    def external_id(self) -> str:
        """The vendor's stable id, stored in the ledger's metadata."""
        ...

    @property
    def registration_number(self) -> str | None:
        """The company registration number, if known."""
        ...

    @property
    def tax_registration_number(self) -> str | None:
        """The VAT / tax registration number, if known."""
        ...

    @property
    def active(self) -> bool:
        """Whether the vendor is in use."""
        ...


class ChartMapping(Protocol):
    """The accounts mapping; values are account codes (``None``: not configured).

    :class:`~pleo_erp.domain.journal.AccountsMapping` fits, and so does the sandbox's
    ``DemoAccountsMapping``.
    """

    @property
    def wallet(self) -> str | None:
        """The account code of the Pleo wallet (the default for every currency)."""
        ...

    @property
    def wallet_by_currency(self) -> Mapping[str, str]:
        """Wallet account codes per ISO 4217 currency, overriding ``wallet``."""
        ...

    @property
    def out_of_pocket(self) -> str | None:
        """The account code owed to employees for out-of-pocket expenses."""
        ...

    @property
    def balancing(self) -> str | None:
        """The Pleo contra (balancing) account code, used for wallet top-ups and unloads.

        A mapping that only has the older name ``contra`` is read too.
        """
        ...

    @property
    def external_reimbursement(self) -> str | None:
        """The clearing account code for reimbursements paid outside Pleo (e.g. payroll)."""
        ...

    @property
    def accounts_payable(self) -> str | None:
        """The accounts-payable code used when a vendor is unknown (if allowed).

        A mapping that only has the older name ``fallback_ap`` is read too.
        """
        ...


def _mapped(mapping: ChartMapping, name: str, old_name: str) -> str | None:
    """``mapping.<name>``, or the older attribute name of a mapping built before the rename."""
    if hasattr(mapping, name):
        value: str | None = getattr(mapping, name)
        return value
    old: str | None = getattr(mapping, old_name, None)
    return old


class ChartLike(Protocol):
    """What :func:`create_ledger` reads: the chart's records (:mod:`pleo_erp.domain.records`),
    an accounts mapping, vendors and a lock date (the sandbox's ``DemoChart`` has these)."""

    @property
    def accounts(self) -> Sequence[ChartAccount]:
        """The chart's accounts."""
        ...

    @property
    def tax_codes(self) -> Sequence[ChartTaxCode]:
        """The chart's tax codes."""
        ...

    @property
    def dimensions(self) -> Sequence[ChartDimension]:
        """The accounting dimensions with their values."""
        ...

    @property
    def mapping(self) -> ChartMapping:
        """Which accounts the export books wallet, reimbursement and AP amounts to."""
        ...

    @property
    def vendors(self) -> Sequence[ChartVendor]:
        """The vendors (suppliers)."""
        ...

    @property
    def closed_until(self) -> date | None:
        """The last day of the closed period, or ``None`` if no period is closed."""
        ...


def _component(text: str) -> str:
    """One account component: letters/digits joined by ``-``, starting upper-case."""
    words = [w for w in re.split(r"[^\w]+|_", unicodedata.normalize("NFC", text)) if w]
    joined = "-".join(words) or "Account"
    first = joined[0]
    if first.isascii() and first.isalpha():
        return first.upper() + joined[1:]
    if first.isascii() and not first.isdigit():
        return "X" + joined
    return joined  # a digit or a non-ASCII letter may start a component


def account_name_for(kind: str, name: str) -> str:
    """The Beancount account for a chart account: root by kind, components from the name."""
    root = _ROOTS.get(kind, "Expenses")
    parts = [_component(part) for part in name.split(" - ") if part.strip()]
    return check_account(":".join([root, *(parts or ["Account"])]))


def _account_key(account: ChartAccount) -> str:
    """How the chart refers to an account: its code, else (no code) its external id."""
    return account.code if account.code is not None else account.external_id


def _assign_names(accounts: Sequence[ChartAccount]) -> dict[str, str]:
    """Account code → unique Beancount name (a clash gets the code appended)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for account in accounts:
        key = _account_key(account)
        name = account_name_for(account.kind or "expense", account.name)
        if name in taken:
            name = check_account(f"{name}-{_component(key)}")
        taken.add(name)
        names[key] = name
    return names


def _meta_lines(pairs: Iterable[tuple[str, str | None]]) -> str:
    return "".join(
        f"  {check_meta_key(key)}: {quote(value)}\n" for key, value in pairs if value is not None
    )


def _most_common(values: Iterable[str | None]) -> str | None:
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0][0] if counts else None


def render_ledger(
    chart: ChartLike,
    *,
    currency: str,
    opened: date = date(2020, 1, 1),
    company_id: str | None = None,
    title: str | None = None,
) -> str:
    """The text of a fresh ledger for ``chart`` (see :func:`create_ledger`)."""
    check_currency(currency)
    names = _assign_names(chart.accounts)

    def named(code: str) -> AccountToken:
        return AccountToken(names.get(code) or check_account(code))

    out = [
        f"option {quote('title')} {quote(title or 'Pleo reference ledger')}\n",
        f"option {quote('operating_currency')} {quote(currency)}\n",
        "\n; Chart of accounts. Pleo reads code, name, external-id and tax-code from here.\n",
    ]
    closing: list[str] = []
    for account in chart.accounts:
        name = names[_account_key(account)]
        out.append(f"{opened.isoformat()} open {name}\n")
        out.append(
            _meta_lines(
                [
                    ("code", account.code),
                    ("name", account.name),
                    ("external-id", account.external_id),
                    ("tax-code", account.tax_code_external_id),
                ]
            )
        )
        if not account.active:
            closing.append(f"{(opened + timedelta(days=1)).isoformat()} close {name}\n")
    out += closing

    out.append("\n; Tax codes: code, name, rate, Pleo type, active.\n")
    for tax in chart.tax_codes:
        kind = tax.type if tax.type in _PLEO_TAX_TYPES else "inclusive"  # "exempt" = 0 %
        out.append(
            render_custom(opened, "pleo-tax-code", tax.code, tax.name, tax.rate, kind, tax.active)
        )
        out.append(
            _meta_lines(
                [
                    ("ingoing-account", tax.ingoing_tax_account),
                    ("outgoing-account", tax.outgoing_tax_account),
                ]
            )
        )

    out.append("\n; Dimensions (Pleo tag groups) and their values (tags).\n")
    for dimension in chart.dimensions:
        out.append(
            render_custom(
                opened, "pleo-dimension", dimension.code, dimension.name, dimension.active
            )
        )
        for value in dimension.values:
            out.append(
                render_custom(
                    opened,
                    "pleo-dimension-value",
                    dimension.code,
                    value.code,
                    value.name,
                    value.active,
                )
            )

    mapping = chart.mapping
    out.append("\n; Accounts mapping used by the export.\n")
    pairs: list[tuple[str, str | None]] = [
        ("wallet", mapping.wallet),
        *((f"wallet:{cur}", code) for cur, code in sorted(mapping.wallet_by_currency.items())),
        ("out-of-pocket", mapping.out_of_pocket),
        ("balancing", _mapped(mapping, "balancing", "contra")),
        ("external-reimbursement", mapping.external_reimbursement),
        ("accounts-payable", _mapped(mapping, "accounts_payable", "fallback_ap")),
        ("vat-input", _most_common(t.ingoing_tax_account for t in chart.tax_codes if t.active)),
        ("vat-output", _most_common(t.outgoing_tax_account for t in chart.tax_codes if t.active)),
    ]
    for key, code in pairs:
        if code:
            out.append(render_custom(opened, "pleo-mapping", key, named(code)))

    out.append("\n; Vendors with their payable accounts.\n")
    for vendor in chart.vendors:
        out.append(
            render_custom(
                opened,
                "pleo-vendor",
                vendor.code,
                vendor.name,
                named(vendor.ap_account),
                vendor.active,
            )
        )
        out.append(
            _meta_lines(
                [
                    ("external-id", vendor.external_id),
                    ("tax-id", vendor.tax_registration_number),
                    ("registration-number", vendor.registration_number),
                    ("currency", vendor.currency),
                ]
            )
        )

    if company_id is not None:
        out.append("\n" + render_custom(opened, "pleo-company", company_id))
    if chart.closed_until is not None:
        out.append("\n; Books are closed up to and including this date.\n")
        lock_day = max(opened, chart.closed_until)
        out.append(render_custom(lock_day, "pleo-lock-date", chart.closed_until))
    out.append("\n; Pleo exports are appended below.\n")
    return "".join(out)


def create_ledger(
    path: str | os.PathLike[str],
    chart: ChartLike,
    *,
    currency: str,
    opened: date = date(2020, 1, 1),
    company_id: str | None = None,
    title: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a new ledger for ``chart`` at ``path`` and check it loads with zero errors.

    ``currency`` is the operating currency (the wallet currency); accounts open on
    ``opened`` without currency constraints, inactive ones close the day after. Refuses to
    replace an existing file unless ``overwrite``. Returns the absolute path.
    """
    target = Path(path).absolute()
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    text = render_ledger(
        chart, currency=currency, opened=opened, company_id=company_id, title=title
    )
    atomic_write_bytes(target, text.encode("utf-8"))
    BeancountLedger(target).snapshot()  # raises if Beancount or our config reader objects
    return target

"""The integration configuration a Beancount ledger carries about itself.

Everything lives in the ledger, so it is versioned with the books and Fava shows it:

```beancount
2026-01-01 open Expenses:Travel EUR
  code: "6000"                ; account number shown in Pleo
  name: "Travel"              ; display name (default: the last account component)
  tax-code: "VAT25"           ; the account's default tax code
  external-id: "gl-6000"      ; Pleo externalId (default: the account name itself)
2026-01-01 custom "pleo-company" "6f1c…"                        ; optional: the Pleo company
2026-01-01 custom "pleo-dimension" "CC" "Cost centre" TRUE         ; code, name, active
2026-01-01 custom "pleo-dimension-value" "CC" "ENG" "Engineering" TRUE
2026-01-01 custom "pleo-tax-code" "VAT25" "Standard VAT 25%" 0.25 "inclusive" TRUE
  account: Assets:VAT:Input            ; where input VAT is posted
  ingoing-account: Assets:VAT:Input    ; reverse charge: input side   (optional)
  outgoing-account: Liabilities:VAT:Output  ; reverse charge: output side (optional)
2026-01-01 custom "pleo-mapping" "wallet" Assets:Pleo:Wallet      ; also wallet:EUR, out-of-pocket,
  ; balancing, external-reimbursement, accounts-payable, vat-input, vat-output, rounding
2026-01-01 custom "pleo-vendor" "ACME" "Acme Ltd" Liabilities:AP:Acme TRUE
  tax-id: "DK12345678"                 ; also: external-id, registration-number, account-number
2026-09-30 custom "pleo-lock-date" 2026-09-30                   ; books closed up to this day
```

Directives are read in date order and a later directive for the same key replaces an earlier
one, so deactivating a dimension or moving the lock date is one appended line. A ``close``
directive makes an account inactive. The trailing ``TRUE``/``FALSE`` (active) is optional
everywhere and defaults to ``TRUE``. Malformed ``pleo-*`` directives are errors with the file
and line, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from beancount.core import data

from pleo_erp.accounting_system.sources import (
    Dimension,
    DimensionValue,
    LedgerAccount,
    LedgerTaxCode,
    parse_tax_type,
)

__all__ = [
    "DIRECTIVE_PREFIX",
    "MAPPING_KEYS",
    "AccountInfo",
    "LedgerConfig",
    "LedgerConfigError",
    "VendorInfo",
    "read_config",
]

DIRECTIVE_PREFIX = "pleo-"
_TAX_TYPES = frozenset({"inclusive", "exclusive", "reverse"})
MAPPING_KEYS = frozenset(
    {
        "wallet",
        "out-of-pocket",
        "balancing",
        "external-reimbursement",
        "accounts-payable",
        "vat-input",
        "vat-output",
        "rounding",
    }
)
"""Keys of ``custom "pleo-mapping"``; ``wallet:<CURRENCY>`` sets a per-currency wallet."""


class LedgerConfigError(ValueError):
    """One or more ``pleo-*`` directives or account metadata entries are malformed."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("invalid pleo configuration in ledger: " + "; ".join(problems))
        self.problems: tuple[str, ...] = tuple(problems)


@dataclass(frozen=True)
class AccountInfo:
    """One Beancount account with the metadata of its ``open`` (and ``close``) directive."""

    name: str
    opened: date
    code: str | None = None
    display_name: str | None = None
    tax_code: str | None = None
    currencies: tuple[str, ...] = ()
    closed: date | None = None
    external_id: str | None = None

    @property
    def active(self) -> bool:
        """``False`` once the account has a ``close`` directive."""
        return self.closed is None

    def is_open_on(self, day: date) -> bool:
        """Whether a posting dated ``day`` is allowed on this account."""
        return self.opened <= day and (self.closed is None or day < self.closed)

    @property
    def effective_external_id(self) -> str:
        """Pleo's ``externalId`` for the account: ``external-id`` metadata, else the name."""
        return self.external_id or self.name

    def to_ledger_account(self) -> LedgerAccount:
        """The protocol value for the chart-of-accounts sync."""
        return LedgerAccount(
            external_id=self.effective_external_id,
            code=self.code,
            name=self.display_name or self.name.rsplit(":", 1)[-1],
            active=self.active,
            tax_code_external_id=self.tax_code,
        )


@dataclass(frozen=True)
class VendorInfo:
    """A vendor known to the ledger, with its own payable account.

    The optional identifiers come from the directive's metadata (``external-id``, ``tax-id``,
    ``registration-number``, ``account-number``, ``currency``) and let Pleo's other vendor
    keys match (rule C3).
    """

    code: str
    name: str
    account: str
    active: bool = True
    external_id: str | None = None
    tax_id: str | None = None
    registration_number: str | None = None
    account_number: str | None = None
    currency: str | None = None


@dataclass(frozen=True)
class LedgerConfig:
    """Chart, dimensions, tax codes, mapping, vendors and lock date read from one ledger."""

    accounts: dict[str, AccountInfo] = field(default_factory=dict)
    dimensions: dict[str, Dimension] = field(default_factory=dict)
    dimension_values: dict[str, dict[str, DimensionValue]] = field(default_factory=dict)
    tax_codes: dict[str, LedgerTaxCode] = field(default_factory=dict)
    tax_posting_accounts: dict[str, str] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    vendors: dict[str, VendorInfo] = field(default_factory=dict)
    lock_date: date | None = None
    company_id: str | None = None
    operating_currencies: tuple[str, ...] = ()

    def find_dimension(self, code: str) -> Dimension | None:
        """The dimension whose code equals ``code`` case-insensitively (tags rule)."""
        return _find_folded(self.dimensions, code)

    def find_dimension_value(self, dimension_code: str, code: str) -> DimensionValue | None:
        """The value ``code`` of a dimension, both matched case-insensitively."""
        dimension = self.find_dimension(dimension_code)
        if dimension is None:
            return None
        return _find_folded(self.dimension_values.get(dimension.code, {}), code)

    def find_account(self, reference: str) -> AccountInfo | None:
        """An account by Beancount name, else by ``external-id``, else by unique ``code``.

        Pleo names accounts by ``code`` or ``identifier`` (the externalId); both resolve.
        """
        found = self.accounts.get(reference)
        if found is not None:
            return found
        for key in ("external_id", "code"):
            matches = [a for a in self.accounts.values() if getattr(a, key) == reference]
            if matches:
                # Two accounts sharing a code make the reference ambiguous: resolve nothing.
                return matches[0] if len(matches) == 1 else None
        return None

    def find_vendor(self, key: str) -> VendorInfo | None:
        """A vendor by code (exact, then case-insensitive)."""
        return _find_folded(self.vendors, key)

    def find_tax_code(self, code: str) -> LedgerTaxCode | None:
        """A tax code by its code (exact)."""
        return self.tax_codes.get(code)

    def is_period_open(self, day: date) -> bool:
        """Days after the lock date are open; the lock date itself is closed."""
        return self.lock_date is None or day > self.lock_date


_V = TypeVar("_V")


def _find_folded(table: Mapping[str, _V], key: str) -> _V | None:
    """``table[key]``, else the value whose key equals ``key`` case-insensitively."""
    found = table.get(key)
    if found is not None:
        return found
    folded = key.casefold()
    return next((value for code, value in table.items() if code.casefold() == folded), None)


def _where(entry: data.Directive) -> str:
    meta = entry.meta or {}
    return f"{meta.get('filename', '?')}:{meta.get('lineno', '?')}"


class _Values:
    """Positional arguments of one ``custom`` directive with typed accessors."""

    def __init__(self, entry: data.Custom, problems: list[str]) -> None:
        self._entry = entry
        self._values: list[Any] = [v.value for v in (entry.values or [])]
        self._problems = problems
        self.ok = True

    def _fail(self, what: str) -> None:
        self.ok = False
        self._problems.append(f'{_where(self._entry)}: custom "{self._entry.type}": {what}')

    def count(self, minimum: int, maximum: int) -> bool:
        if not minimum <= len(self._values) <= maximum:
            expected = str(minimum) if minimum == maximum else f"{minimum} to {maximum}"
            self._fail(f"expected {expected} values, got {len(self._values)}")
        return self.ok

    def text(self, index: int) -> str:
        value = self._values[index]
        if not isinstance(value, str) or not value.strip():
            self._fail(f"value {index + 1} must be a non-empty string")
            return ""
        return value.strip()

    def flag(self, index: int) -> bool:
        if index >= len(self._values):
            return True
        value = self._values[index]
        if not isinstance(value, bool):
            self._fail(f"value {index + 1} must be TRUE or FALSE")
            return True
        return value

    def number(self, index: int) -> Decimal:
        value = self._values[index]
        if not isinstance(value, Decimal):
            self._fail(f"value {index + 1} must be a number")
            return Decimal(0)
        return value

    def day(self, index: int) -> date:
        value = self._values[index]
        if not isinstance(value, date):
            self._fail(f"value {index + 1} must be a date")
            return date.min
        return value


def _meta_text(entry: data.Directive, key: str, problems: list[str]) -> str | None:
    value = (entry.meta or {}).get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{_where(entry)}: metadata {key!r} must be a non-empty string")
        return None
    return value.strip()


class _Reader:
    """Accumulates configuration while walking the (date-sorted) directives."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.problems: list[str] = []
        self.accounts: dict[str, AccountInfo] = {}
        self.dimensions: dict[str, Dimension] = {}
        self.values: dict[str, dict[str, DimensionValue]] = {}
        self.tax_codes: dict[str, LedgerTaxCode] = {}
        self.tax_accounts: dict[str, str] = {}
        self.mapping: dict[str, str] = {}
        self.vendors: dict[str, VendorInfo] = {}
        self.lock_date: date | None = None
        self.company_id: str | None = None
        self.currencies = tuple(options.get("operating_currency") or ())
        # (kind, key) -> (account, location): accounts named by directives, checked at the end.
        self.references: dict[tuple[str, str], tuple[str, str]] = {}
        self.value_locations: dict[str, str] = {}
        self.account_locations: dict[str, str] = {}

    def refer(self, owner: str, account: str | None, entry: data.Directive) -> None:
        key = (owner, owner)
        if account is None:
            self.references.pop(key, None)
        else:
            self.references[key] = (account, _where(entry))

    def open(self, entry: data.Open) -> None:
        self.account_locations[entry.account] = _where(entry)
        self.accounts[entry.account] = AccountInfo(
            name=entry.account,
            opened=entry.date,
            code=_meta_text(entry, "code", self.problems),
            display_name=_meta_text(entry, "name", self.problems),
            tax_code=_meta_text(entry, "tax-code", self.problems),
            currencies=tuple(entry.currencies or ()),
            external_id=_meta_text(entry, "external-id", self.problems),
        )

    def close(self, entry: data.Close) -> None:
        info = self.accounts.get(entry.account)
        if info is not None:  # beancount itself reports a close without open
            self.accounts[entry.account] = _replace_closed(info, entry.date)

    def custom(self, entry: data.Custom) -> None:
        handler = _CUSTOM_HANDLERS.get(entry.type)
        if handler is not None:
            handler(self, entry)
        elif entry.type.startswith(DIRECTIVE_PREFIX):
            self.problems.append(f'{_where(entry)}: unknown directive custom "{entry.type}"')

    def dimension(self, entry: data.Custom) -> None:
        v = _Values(entry, self.problems)
        if v.count(2, 3):
            code, name, active = v.text(0), v.text(1), v.flag(2)
            if v.ok:
                self.dimensions[code] = Dimension(code=code, name=name, active=active)

    def dimension_value(self, entry: data.Custom) -> None:
        v = _Values(entry, self.problems)
        if v.count(3, 4):
            dim, code, name, active = v.text(0), v.text(1), v.text(2), v.flag(3)
            if v.ok:
                value = DimensionValue(code=code, name=name, active=active)
                self.values.setdefault(dim, {})[code] = value
                self.value_locations.setdefault(dim, _where(entry))

    def tax_code(self, entry: data.Custom) -> None:
        v = _Values(entry, self.problems)
        if not v.count(4, 5):
            return
        code, name, rate, kind, active = v.text(0), v.text(1), v.number(2), v.text(3), v.flag(4)
        if v.ok and kind not in _TAX_TYPES:
            self.problems.append(
                f"{_where(entry)}: tax code type must be inclusive, exclusive or reverse"
            )
            return
        if v.ok and not Decimal(0) <= rate < Decimal(1):
            self.problems.append(f"{_where(entry)}: tax rate must be a fraction in [0, 1)")
            return
        if not v.ok:
            return
        tax = LedgerTaxCode(
            code=code,
            name=name,
            rate=rate,
            type=parse_tax_type(kind),
            active=active,
            ingoing_tax_account=_meta_text(entry, "ingoing-account", self.problems),
            outgoing_tax_account=_meta_text(entry, "outgoing-account", self.problems),
        )
        self.tax_codes[code] = tax
        account = _meta_text(entry, "account", self.problems)
        if account is not None:
            self.tax_accounts[code] = account
        else:
            self.tax_accounts.pop(code, None)
        self.refer(f"tax code {code!r} account", account, entry)
        self.refer(f"tax code {code!r} ingoing-account", tax.ingoing_tax_account, entry)
        self.refer(f"tax code {code!r} outgoing-account", tax.outgoing_tax_account, entry)

    def mapping_entry(self, entry: data.Custom) -> None:
        v = _Values(entry, self.problems)
        if v.count(2, 2):
            key, account = v.text(0), v.text(1)
            if v.ok and key not in MAPPING_KEYS and not _is_wallet_currency_key(key):
                keys = ", ".join(sorted(MAPPING_KEYS))
                self.problems.append(
                    f"{_where(entry)}: unknown mapping {key!r} (use {keys} or wallet:<CURRENCY>)"
                )
            elif v.ok:
                self.mapping[key] = account
                self.refer(f"mapping {key!r}", account, entry)

    def vendor(self, entry: data.Custom) -> None:
        v = _Values(entry, self.problems)
        if v.count(3, 4):
            code, name, account, active = v.text(0), v.text(1), v.text(2), v.flag(3)
            if v.ok:
                self.vendors[code] = VendorInfo(
                    code=code,
                    name=name,
                    account=account,
                    active=active,
                    external_id=_meta_text(entry, "external-id", self.problems),
                    tax_id=_meta_text(entry, "tax-id", self.problems),
                    registration_number=_meta_text(entry, "registration-number", self.problems),
                    account_number=_meta_text(entry, "account-number", self.problems),
                    currency=_meta_text(entry, "currency", self.problems),
                )
                self.refer(f"vendor {code!r}", account, entry)

    def lock(self, entry: data.Custom) -> None:
        day = self._only_argument(entry, _Values.day)
        if day is not None:
            self.lock_date = day

    def company(self, entry: data.Custom) -> None:
        company = self._only_argument(entry, _Values.text)
        if company is not None:
            self.company_id = company

    def _only_argument(self, entry: data.Custom, read: Callable[[_Values, int], _V]) -> _V | None:
        """The one argument of ``entry`` as ``read`` takes it; ``None`` (a problem) if bad."""
        v = _Values(entry, self.problems)
        if v.count(1, 1):
            value = read(v, 0)
            if v.ok:
                return value
        return None

    def check_references(self, config: LedgerConfig) -> None:
        """Accounts named by the configuration must exist, or postings would fail later.

        A reference may be an account name, an ``external-id`` or a unique ``code`` (tax
        accounts are usually codes, because Pleo shows them verbatim).
        """
        for (owner, _), (reference, where) in self.references.items():
            if config.find_account(reference) is None:
                self.problems.append(
                    f"{where}: {owner} names account {reference!r}, which is not opened "
                    "(or whose code is ambiguous)"
                )
        for account in self.accounts.values():
            if account.tax_code is not None and account.tax_code not in self.tax_codes:
                self.problems.append(
                    f"{self.account_locations[account.name]}: account {account.name} has "
                    f"tax-code {account.tax_code!r} with no pleo-tax-code directive"
                )
        owners: dict[str, str] = {}
        for account in self.accounts.values():
            other = owners.setdefault(account.effective_external_id, account.name)
            if other != account.name:
                self.problems.append(
                    f"{self.account_locations[account.name]}: accounts {other} and "
                    f"{account.name} share the externalId {account.effective_external_id!r}"
                )
        for dim, where in self.value_locations.items():
            if dim not in self.dimensions:
                self.problems.append(f"{where}: values given for unknown dimension {dim!r}")

    def build(self) -> LedgerConfig:
        config = LedgerConfig(
            accounts=self.accounts,
            dimensions=self.dimensions,
            dimension_values=self.values,
            tax_codes=self.tax_codes,
            tax_posting_accounts=self.tax_accounts,
            mapping=self.mapping,
            vendors=self.vendors,
            lock_date=self.lock_date,
            company_id=self.company_id,
            operating_currencies=self.currencies,
        )
        self.check_references(config)
        if self.problems:
            raise LedgerConfigError(self.problems)
        return config


def _is_wallet_currency_key(key: str) -> bool:
    prefix, _, currency = key.partition(":")
    return prefix == "wallet" and len(currency) == 3 and currency.isascii() and currency.isupper()


def _replace_closed(info: AccountInfo, closed: date) -> AccountInfo:
    return replace(info, closed=closed)


_CUSTOM_HANDLERS = {
    "pleo-dimension": _Reader.dimension,
    "pleo-dimension-value": _Reader.dimension_value,
    "pleo-tax-code": _Reader.tax_code,
    "pleo-mapping": _Reader.mapping_entry,
    "pleo-vendor": _Reader.vendor,
    "pleo-lock-date": _Reader.lock,
    "pleo-company": _Reader.company,
}


def read_config(entries: Iterable[data.Directive], options: dict[str, Any]) -> LedgerConfig:
    """Read the configuration from loaded, date-sorted entries; raise on malformed directives."""
    reader = _Reader(options)
    for entry in entries:
        if isinstance(entry, data.Open):
            reader.open(entry)
        elif isinstance(entry, data.Close):
            reader.close(entry)
        elif isinstance(entry, data.Custom):
            reader.custom(entry)
    return reader.build()

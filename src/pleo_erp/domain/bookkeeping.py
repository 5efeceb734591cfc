"""Step 1 of AS processing: the bookkeeping method of an item, and its vendor lookup keys.

C1: ``accounts_payable`` → AP; ``journal`` / ``none`` → journal entry; wallet loads, unloads
and balance amendments → journal entry whatever the method; ``bookkeeping: null`` → the
configured legacy policy (journal by default, B3); an unknown method string → a typed item
failure. AP documents exist only for the vendor-taggable types (vendor tagging is limited to
them, VTAG); any other type booked ``accounts_payable`` becomes a journal entry.

C2/C3: an item with a ``vendor`` object is matched on the vendor's identifiers only (never the
supplier's); without one, on the supplier's (legacy). Empty keys are skipped, first hit wins.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Final

from pleo_erp.domain.config import ExportConfig
from pleo_erp.domain.journal import VendorKey, VendorKeyField
from pleo_erp.domain.outcomes import DomainFailure
from pleo_erp.models import ExportItemV3

__all__ = [
    "ALWAYS_JOURNAL_TYPES",
    "AP_DOCUMENT_TYPES",
    "BookkeepingMethod",
    "enum_value",
    "resolve_method",
    "vendor_match_keys",
]


class BookkeepingMethod(str, enum.Enum):
    """The workflow an item is booked with."""

    JOURNAL = "journal"
    ACCOUNTS_PAYABLE = "accounts_payable"


ALWAYS_JOURNAL_TYPES: Final[frozenset[str]] = frozenset(
    {"wallet_topup", "wallet_unload", "balance_amendment"}
)
"""Not vendor liabilities: always journal entries (BMR, BM-OV). ``balance_amendment`` is not in
the known v3 type list but is named by the docs, so it is covered if it ever arrives."""

AP_DOCUMENT_TYPES: Final[frozenset[str]] = frozenset(
    {
        "invoice",
        "invoice_payment",
        "card_invoice",
        "card_purchase",
        "fee",
        "refund",
        "chargeback",
        "cashback",
    }
)
"""Types that can carry a vendor and so become AP documents (VTAG + ``card_invoice``).

VTAG also names ``overdraft``, which is not an ``ExportItemTypeV3`` value: like any type
without a posting rule it fails the item (C28) until a rule for it is configured."""


def enum_value(value: object) -> str:
    """The raw string of an open-enum field (an ``Enum`` member or an unknown string)."""
    if type(value) is str:  # an unknown value kept as sent (hot path: no isinstance)
        return value
    if isinstance(value, enum.Enum):
        return str(value._value_)  # the member's value without the ``value`` descriptor
    return str(value)


def resolve_method(item: ExportItemV3, config: ExportConfig) -> BookkeepingMethod:
    """The bookkeeping method for ``item`` (C1). Raises :class:`DomainFailure` on an unknown one."""
    item_type = enum_value(item.type)
    if item_type in ALWAYS_JOURNAL_TYPES:
        return BookkeepingMethod.JOURNAL
    method: str
    if item.bookkeeping is None:
        method = config.null_bookkeeping
    else:
        method = enum_value(item.bookkeeping.method)
    if method in ("journal", "none"):
        return BookkeepingMethod.JOURNAL
    if method == "accounts_payable":
        if item_type not in AP_DOCUMENT_TYPES:
            return BookkeepingMethod.JOURNAL
        return BookkeepingMethod.ACCOUNTS_PAYABLE
    raise DomainFailure(
        "validation_failure",
        f"Bookkeeping method {method!r} is not supported by this integration; "
        "use journal or accounts payable for this expense in Pleo.",
    )


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = enum_value(value).strip()
    return text or None


#: Where each vendor key field is read: the item's ``vendor`` or ``supplier`` attribute.
_VENDOR_KEY_ATTRIBUTES = {
    "vendor.code": "code",
    "vendor.externalId": "external_id",
    "vendor.taxRegistrationNumber": "tax_registration_number",
    "vendor.registrationNumber": "registration_number",
}
_SUPPLIER_KEY_ATTRIBUTES = {
    "supplier.code": "code",
    "supplier.account": "account",
    "supplier.taxIdentifier": "tax_identifier",
}


def vendor_match_keys(item: ExportItemV3, config: ExportConfig) -> tuple[VendorKey, ...]:
    """The lookup keys for the item's vendor, in match order (C2, C3). May be empty."""
    party: object
    order: Sequence[VendorKeyField]
    if item.vendor is not None:
        party, attributes = item.vendor, _VENDOR_KEY_ATTRIBUTES
        order = config.vendor_key_order
    elif item.supplier is not None:
        party, attributes = item.supplier, _SUPPLIER_KEY_ATTRIBUTES
        order = config.supplier_key_order
    else:
        return ()
    values = {name: _clean(getattr(party, attr)) for name, attr in attributes.items()}
    keys: list[VendorKey] = []
    seen: set[tuple[str, str]] = set()
    for field_name in order:
        value = values.get(field_name)
        if value is not None and (field_name, value) not in seen:
            seen.add((field_name, value))
            keys.append(VendorKey(field=field_name, value=value))
    return tuple(keys)

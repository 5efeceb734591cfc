"""Pure domain logic: no I/O, no HTTP, no clock reads (time is passed in).

Values: :mod:`~pleo_erp.domain.journal` (the entries, receipts, capabilities and accounts
mapping the export hands to an accounting system) and :mod:`~pleo_erp.domain.records` (the
chart's records: accounts, tax codes, dimensions and their values); both are re-exported
here, and by :mod:`pleo_erp.accounting_system`.
Level 1 (export): :mod:`~pleo_erp.domain.money`, :mod:`~pleo_erp.domain.bookkeeping`,
:mod:`~pleo_erp.domain.mapping`, :mod:`~pleo_erp.domain.config`,
:mod:`~pleo_erp.domain.entries`, :mod:`~pleo_erp.domain.vat`,
:mod:`~pleo_erp.domain.periods`, :mod:`~pleo_erp.domain.receipts`,
:mod:`~pleo_erp.domain.outcomes`, :mod:`~pleo_erp.domain.validation`.
Levels 2–3 (sync): :mod:`~pleo_erp.domain.reconcile`.

The domain is the bottom layer: it imports only the wire models (:mod:`pleo_erp.models`),
never the accounting-system protocols, the client, the orchestrators, the state store, the
adapters or the testing kit (``lint-imports`` checks this; see ``docs/concepts.md``).
"""

from pleo_erp.domain.journal import (
    ATTACHMENT_MAX_BYTES,
    PLEO_ATTACHMENT_EXTENSIONS,
    AccountsMapping,
    Attachment,
    BankAccount,
    Capabilities,
    CreditNote,
    Entry,
    EntryDimension,
    EntryLine,
    InvoiceDetails,
    JobContext,
    JournalEntry,
    LineRole,
    PartyRef,
    PostedEntry,
    PostingMode,
    SupplierInvoice,
    SupplierPayment,
    UnbalancedEntryError,
    VatTreatment,
    VendorAccount,
    VendorKey,
    VendorKeyField,
    with_posting_date,
)
from pleo_erp.domain.records import (
    LEDGER_ACCOUNT_KINDS,
    LEDGER_TAX_TYPES,
    Dimension,
    DimensionValue,
    InvalidTaxCodeError,
    LedgerAccount,
    LedgerAccountKind,
    LedgerTaxCode,
    LedgerTaxType,
    parse_tax_type,
)

__all__ = [
    "ATTACHMENT_MAX_BYTES",
    "LEDGER_ACCOUNT_KINDS",
    "LEDGER_TAX_TYPES",
    "PLEO_ATTACHMENT_EXTENSIONS",
    "AccountsMapping",
    "Attachment",
    "BankAccount",
    "Capabilities",
    "CreditNote",
    "Dimension",
    "DimensionValue",
    "Entry",
    "EntryDimension",
    "EntryLine",
    "InvalidTaxCodeError",
    "InvoiceDetails",
    "JobContext",
    "JournalEntry",
    "LedgerAccount",
    "LedgerAccountKind",
    "LedgerTaxCode",
    "LedgerTaxType",
    "LineRole",
    "PartyRef",
    "PostedEntry",
    "PostingMode",
    "SupplierInvoice",
    "SupplierPayment",
    "UnbalancedEntryError",
    "VatTreatment",
    "VendorAccount",
    "VendorKey",
    "VendorKeyField",
    "parse_tax_type",
    "with_posting_date",
]

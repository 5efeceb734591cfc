"""Builders for export-item JSON and models used by the ``test_export_*`` files."""

from __future__ import annotations

import uuid
from typing import Any

from pleo_erp.client.serialization import structure
from pleo_erp.models import ExportItemV3

COMPANY = "5f2b7a5e-0000-4000-8000-000000000001"

_counter = 0


def next_uuid() -> str:
    """A fresh, deterministic-looking uuid string."""
    global _counter
    _counter += 1
    return str(uuid.UUID(int=(0xE0 << 120) + _counter))


def money(value: int, currency: str = "SEK") -> dict[str, Any]:
    """A MoneyModel JSON object."""
    return {"currency": currency, "value": value}


def amount(
    value: int, currency: str = "SEK", supplier: tuple[int, str] | None = None
) -> dict[str, Any]:
    """An amount pair (wallet + supplier currency)."""
    sv, sc = supplier if supplier is not None else (value, currency)
    return {"inWalletCurrency": money(value, currency), "inSupplierCurrency": money(sv, sc)}


def tax(
    value: int,
    *,
    type: str = "inclusive",
    rate: float = 0.25,
    code: str | None = "VAT25",
    currency: str = "SEK",
    ingoing: str | None = None,
    outgoing: str | None = None,
) -> dict[str, Any]:
    """A TaxV3 JSON object."""
    data: dict[str, Any] = {
        "amount": amount(value, currency),
        "id": next_uuid(),
        "rate": rate,
        "type": type,
        "code": code,
    }
    if ingoing is not None:
        data["ingoingTaxAccount"] = ingoing
    if outgoing is not None:
        data["outgoingTaxAccount"] = outgoing
    return data


def line(
    value: int,
    *,
    account: str | None = "6000",
    identifier: str | None = None,
    currency: str = "SEK",
    tax: dict[str, Any] | None = None,
    tags: list[tuple[str, str]] | None = None,
    net: int | None = None,
    no_account: bool = False,
) -> dict[str, Any]:
    """An ExportItemLineV3 JSON object."""
    data: dict[str, Any] = {
        "accountingEntryLineId": next_uuid(),
        "lineAmount": amount(value, currency),
        "netAmount": amount(value if net is None else net, currency),
        "account": None
        if no_account
        else {
            "id": next_uuid(),
            "name": f"Account {account}",
            "code": account,
            "identifier": identifier,
        },
        "tags": [{"id": next_uuid(), "groupCode": g, "code": c} for g, c in (tags or [])],
        "tax": tax,
    }
    return data


def item_json(
    type: str = "card_purchase",
    value: int = 10000,
    *,
    currency: str = "SEK",
    lines: list[dict[str, Any]] | None = None,
    sub_type: str | None = None,
    date: str = "2024-03-15T10:00:00Z",
    contra: str | None = "1930",
    bookkeeping: str | None = None,
    vendor: dict[str, Any] | None = None,
    supplier: dict[str, Any] | None = None,
    user: str | None = "Jane Doe",
    note: str | None = "Team lunch",
    files: list[dict[str, Any]] | None = None,
    reconciliation_id: str = "R-1",
    reconciled: list[str] | None = None,
    attendees: list[str] | None = None,
    invoice: dict[str, Any] | None = None,
    supplier_amount: tuple[int, str] | None = None,
    aeid: str | None = None,
    team: tuple[str, str | None] | None = None,
) -> dict[str, Any]:
    """An ExportItemV3 JSON object with sensible defaults (valid against the spec)."""
    data: dict[str, Any] = {
        "_links": {"web": {"exportItem": "https://app.example/x"}},
        "accountingEntryId": aeid or next_uuid(),
        "accountingEntryLines": lines if lines is not None else [line(value, currency=currency)],
        "additionalInformation": {
            "reconciliationId": reconciliation_id,
            "reconciledEntries": reconciled,
            "attendees": attendees,
            "invoiceInformation": invoice,
        },
        "amount": amount(value, currency, supplier_amount),
        "companyId": COMPANY,
        "date": date,
        "type": type,
        "subType": sub_type,
        "bookkeeping": None if bookkeeping is None else {"method": bookkeeping},
        "contraAccount": None
        if contra is None
        else {"id": next_uuid(), "name": "Pleo SEK", "code": contra, "identifier": None},
        "vendor": vendor,
        "supplier": supplier if supplier is not None else {"name": "Noma Restaurant", "code": None},
        "user": None if user is None else {"id": next_uuid(), "name": user, "code": "E1"},
        "team": None if team is None else {"id": next_uuid(), "name": team[0], "code": team[1]},
        "note": note,
        "files": files,
    }
    if sub_type is None:
        del data["subType"]  # not nullable in the spec
    return data


def make_item(**kwargs: Any) -> ExportItemV3:
    """An ExportItemV3 model (see :func:`item_json` for the arguments)."""
    return structure(item_json(**kwargs), ExportItemV3)


def vendor(code: str | None = "V100", name: str = "ACME Ltd", **extra: Any) -> dict[str, Any]:
    """A VendorV3 JSON object."""
    data: dict[str, Any] = {"id": next_uuid(), "name": name, "defaultCurrency": "SEK"}
    if code is not None:
        data["code"] = code
    data.update(extra)
    return data


def invoice_info(number: str = "INV-1", status: str = "paid") -> dict[str, Any]:
    """An InvoiceInformationV3 JSON object."""
    return {
        "invoiceDate": "2024-03-01T00:00:00Z",
        "invoiceNumber": number,
        "status": status,
        "dueDate": "2024-03-31T00:00:00Z",
        "paymentDate": None,
        "supplierBankAccount": {"bankName": "Bank", "country": "SE", "iban": "SE00"},
    }


def sandbox_item(**kwargs: Any) -> dict[str, Any]:
    """A partial item for ``PleoSandbox.create_export_job`` (the sandbox sets ``companyId``)."""
    data = item_json(**kwargs)
    del data["companyId"]
    return data

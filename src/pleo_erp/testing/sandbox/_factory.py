"""Complete partial export items for tests: ``create_export_job(company_id, items=3)``.

Tests rarely care about every required field of ``ExportItemV3``; they pass what matters
(``type``, an amount, a file) and the factory fills in the rest with a valid, balanced,
single-line card purchase in the company's currency (SEK unless told otherwise).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ._state import Company, JSONDict, SandboxState

__all__ = ["complete_export_item"]


def _money(currency: str, value: int) -> JSONDict:
    return {"currency": currency, "value": value}


def _amount(currency: str, value: int) -> JSONDict:
    return {
        "inSupplierCurrency": _money(currency, value),
        "inWalletCurrency": _money(currency, value),
    }


def _default_account(state: SandboxState, company: Company) -> JSONDict:
    for record in company.accounts:
        if not record.data["archived"]:
            data = record.data
            return {
                "id": data["id"],
                "name": data["name"],
                "code": data.get("code"),
                "identifier": data["externalId"],
            }
    # No chart of accounts yet: point at a plausible expense account.
    return {
        "id": state.new_id(),
        "name": "Office Supplies",
        "code": "6110",
        "identifier": "ext-6110",
    }


def complete_export_item(
    state: SandboxState,
    company: Company,
    partial: Mapping[str, Any] | None,
    index: int,
    *,
    currency: str = "SEK",
) -> JSONDict:
    """A full ``ExportItemV3`` from ``partial`` (deep-copied; given keys always win)."""
    item: JSONDict = copy.deepcopy(dict(partial or {}))
    entry_id = str(item.get("accountingEntryId") or state.new_id())
    value = 10_000 + 100 * index
    amount = item.get("amount") or _amount(currency, value)
    item.setdefault("accountingEntryId", entry_id)
    item.setdefault("companyId", company.id)
    item.setdefault("type", "card_purchase")
    item.setdefault("date", state.clock.timestamp())
    item.setdefault("amount", amount)
    item.setdefault(
        "_links", {"web": {"exportItem": f"https://app.pleo.io/export/items/{entry_id}"}}
    )
    item.setdefault("additionalInformation", {"reconciliationId": f"SBX-{index + 1:06d}"})
    item.setdefault(
        "accountingEntryLines",
        [
            {
                "accountingEntryLineId": state.new_id(),
                "account": _default_account(state, company),
                "lineAmount": copy.deepcopy(amount),
                "netAmount": copy.deepcopy(amount),
                "tags": [],
                "tax": None,
            }
        ],
    )
    item.setdefault("supplier", {"name": "Sandbox Supplies AB", "country": "SE"})
    item.setdefault("note", None)
    item.setdefault("files", [])
    return item

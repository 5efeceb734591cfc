"""A tiny in-process fake of "AcmeLedger REST", the imaginary ERP of this example.

It stands in for the vendor's real API so the example runs offline: ``FakeAcme().transport()``
is an ``httpx.MockTransport`` that the adapter's ``httpx.Client`` talks to. It is strict the
way a real ledger is: entries must balance per currency, amounts must have the currency's
number of decimals, accounts / VAT codes / dimension values must exist and be active, the
books are locked up to a date, an external reference is unique, and attachments are limited.

The API (all JSON, ``Authorization: Bearer <token>``):

======  ===================================  ==============================================
GET     /api/v1/company                      tenant: name, base currency, lock date
GET     /api/v1/settings/pleo                the integration's account settings
GET     /api/v1/accounts?page=N              chart of accounts (paged)
GET     /api/v1/vat-codes                    VAT codes
GET     /api/v1/dimensions                   dimensions
GET     /api/v1/dimensions/{key}/values      a dimension's values
GET     /api/v1/suppliers?identifier=X       suppliers matching a number / id / VAT number
GET     /api/v1/journal-entries?page=N       every journal entry (paged)
GET     /api/v1/journal-entries?externalReference=X   the entry with that reference
POST    /api/v1/journal-entries              create (201; 409 duplicate reference; 422)
POST    /api/v1/journal-entries/{id}/attachments      add a file (base64 JSON body)
======  ===================================  ==============================================
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

BASE_URL = "https://acme-ledger.example/api/v1"
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})
DECIMALS = {"JPY": 0, "KRW": 0, "ISK": 0, "KWD": 3, "BHD": 3}
PAGE_SIZE = 50

JSON = dict[str, Any]


class _Problem(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class FakeAcme:
    """The fake server's state and request handler (thread-safe)."""

    def __init__(self, *, token: str = "acme-test-token", base_currency: str = "DKK") -> None:
        self.token = token
        self.company: JSON = {
            "id": "acme-1",
            "name": "Acme Test Tenant",
            "lockDate": None,
            "baseCurrency": base_currency,
        }
        self.settings: JSON = {}
        self.accounts: dict[str, JSON] = {}  # by number
        self.vat_codes: dict[str, JSON] = {}
        self.dimensions: dict[str, JSON] = {}
        self.values: dict[str, list[JSON]] = {}
        self.suppliers: list[JSON] = []
        self.entries: list[JSON] = []
        self.requests: list[tuple[str, str]] = []
        #: Answer the next N requests with 429 (rate limit) / 503 (maintenance).
        self.throttle_next = 0
        self.outage = False
        self._lock = threading.Lock()
        self._next_id = 1001

    # ------------------------------------------------------------------ seeding

    @classmethod
    def from_chart(cls, chart: Any, **kwargs: Any) -> FakeAcme:
        """A tenant holding a chart shaped like the conformance kit's ``AdapterSetup.chart``."""
        acme = cls(**kwargs)
        for a in chart.accounts:
            acme.accounts[a.code] = {
                "id": a.external_id,
                "number": a.code,
                "name": a.name,
                "status": "active" if a.active else "archived",
                "defaultVatCode": a.tax_code_external_id,
            }
        for t in chart.tax_codes:
            acme.vat_codes[t.code] = {
                "code": t.code,
                "description": t.name,
                "rate": str(t.rate),
                "kind": t.type,
                "active": t.active,
                "inputAccount": t.ingoing_tax_account,
                "outputAccount": t.outgoing_tax_account,
            }
        for d in chart.dimensions:
            acme.dimensions[d.code] = {"key": d.code, "label": d.name, "active": d.active}
            acme.values[d.code] = [
                {"code": v.code, "label": v.name, "active": v.active} for v in d.values
            ]
        for v in chart.vendors:
            acme.suppliers.append(
                {
                    "number": v.code,
                    "name": v.name,
                    "externalId": v.external_id,
                    "vatNumber": v.tax_registration_number,
                    "registrationNumber": v.registration_number,
                    "payableAccount": v.ap_account,
                    "currency": v.currency,
                    "blocked": not v.active,
                }
            )
        m = chart.mapping
        input_vat = next(
            (t.ingoing_tax_account for t in chart.tax_codes if t.ingoing_tax_account), None
        )
        acme.settings = {
            "walletAccount": m.wallet,
            "walletAccounts": dict(m.wallet_by_currency),
            "outOfPocketAccount": m.out_of_pocket,
            "clearingAccount": m.balancing,
            "reimbursementAccount": m.external_reimbursement,
            "payablesAccount": m.accounts_payable,
            "inputVatAccount": input_vat,
        }
        if chart.closed_until is not None:
            acme.company["lockDate"] = chart.closed_until.isoformat()
        return acme

    # ------------------------------------------------------------------ transport

    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport answering from this fake."""
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        path = request.url.path.removeprefix("/api/v1")
        with self._lock:
            self.requests.append((request.method, path))
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "UNAUTHORIZED", "Missing or invalid API token.")
            if self.outage:
                return _error(503, "MAINTENANCE", "AcmeLedger is down for maintenance.")
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return _error(429, "RATE_LIMITED", "Slow down.", headers={"Retry-After": "2"})
            try:
                status, body = self._route(request, path)
            except _Problem as problem:
                return _error(problem.status, problem.code, problem.message, **problem.extra)
        return httpx.Response(status, json=body)

    def _route(self, request: httpx.Request, path: str) -> tuple[int, Any]:
        query = request.url.params
        parts = [p for p in path.split("/") if p]
        if request.method == "GET":
            if parts == ["company"]:
                return 200, self.company
            if parts == ["settings", "pleo"]:
                return 200, self.settings
            if parts == ["accounts"]:
                return 200, _page(list(self.accounts.values()), query)
            if parts == ["vat-codes"]:
                return 200, {"items": list(self.vat_codes.values())}
            if parts == ["dimensions"]:
                return 200, {"items": list(self.dimensions.values())}
            if len(parts) == 3 and parts[0] == "dimensions" and parts[2] == "values":
                if parts[1] not in self.dimensions:
                    raise _Problem(404, "NOT_FOUND", f"No dimension {parts[1]}.")
                return 200, {"items": self.values.get(parts[1], [])}
            if parts == ["suppliers"]:
                wanted = query.get("identifier", "")
                keys = ("number", "externalId", "vatNumber", "registrationNumber")
                hits = [s for s in self.suppliers if wanted and wanted in (s[k] for k in keys)]
                return 200, {"items": hits}
            if parts == ["journal-entries"]:
                reference = query.get("externalReference")
                if reference is not None:
                    return 200, {
                        "items": [e for e in self.entries if e["externalReference"] == reference]
                    }
                return 200, _page(self.entries, query)
        if request.method == "POST":
            body = json.loads(request.content or b"{}")
            if parts == ["journal-entries"]:
                return 201, self._create_entry(body)
            if len(parts) == 3 and parts[0] == "journal-entries" and parts[2] == "attachments":
                return 201, self._add_attachment(parts[1], body)
        raise _Problem(404, "NOT_FOUND", f"No route {request.method} {path}.")

    # ------------------------------------------------------------------ business rules

    def _create_entry(self, body: Mapping[str, Any]) -> JSON:
        reference = str(body.get("externalReference") or "")
        if not reference:
            raise _Problem(400, "VALIDATION", "externalReference is required.")
        for existing in self.entries:
            if existing["externalReference"] == reference:
                raise _Problem(
                    409,
                    "DUPLICATE_EXTERNAL_REFERENCE",
                    f"An entry with external reference {reference} exists.",
                    existingId=existing["id"],
                )
        day = _date(body.get("date"))
        lock = self.company.get("lockDate")
        if lock is not None and day <= date.fromisoformat(lock):
            raise _Problem(
                422,
                "PERIOD_LOCKED",
                f"The books are locked up to {lock}.",
                nextOpenDate=(date.fromisoformat(lock) + timedelta(days=1)).isoformat(),
            )
        if len(str(body.get("description") or "")) > 200:
            raise _Problem(400, "VALIDATION", "description is longer than 200 characters.")
        supplier = body.get("supplier")
        if supplier is not None and not any(s["number"] == supplier for s in self.suppliers):
            raise _Problem(422, "UNKNOWN_SUPPLIER", f"Supplier {supplier} does not exist.")
        lines = body.get("lines") or []
        if len(lines) < 2:
            raise _Problem(422, "UNBALANCED", "A journal entry needs at least two lines.")
        sums: dict[str, Decimal] = {}
        for index, line in enumerate(lines):
            self._check_line(index, line)
            currency = str(line["currency"])
            sums[currency] = (
                sums.get(currency, Decimal(0)) + _amount(line, "debit") - _amount(line, "credit")
            )
        if any(total != 0 for total in sums.values()):
            raise _Problem(422, "UNBALANCED", f"Debits and credits differ: {sums}.")
        entry = {
            "id": f"JE-{self._next_id}",
            "url": f"https://acme-ledger.example/app/journal/JE-{self._next_id}",
            "externalReference": reference,
            "date": day.isoformat(),
            "status": body.get("status", "draft"),
            "description": body.get("description"),
            "reference": body.get("reference"),
            "supplier": supplier,
            "lines": [dict(line) for line in lines],
            "attachments": [],
        }
        self._next_id += 1
        self.entries.append(entry)
        return entry

    def _check_line(self, index: int, line: Mapping[str, Any]) -> None:
        where = f"lines[{index}]"
        account = self.accounts.get(str(line.get("account")))
        if account is None:
            raise _Problem(
                422,
                "UNKNOWN_ACCOUNT",
                f"Account {line.get('account')} does not exist.",
                field=f"{where}.account",
                value=line.get("account"),
            )
        if account["status"] != "active":
            raise _Problem(
                422,
                "INACTIVE_ACCOUNT",
                f"Account {account['number']} is archived.",
                field=f"{where}.account",
                value=account["number"],
            )
        vat = line.get("vatCode")
        if vat is not None and not (vat in self.vat_codes and self.vat_codes[vat]["active"]):
            raise _Problem(
                422,
                "UNKNOWN_VAT_CODE",
                f"VAT code {vat} does not exist or is inactive.",
                field=f"{where}.vatCode",
                value=vat,
            )
        for key, value in (line.get("dimensions") or {}).items():
            known = self.dimensions.get(key)
            values = [v for v in self.values.get(key, []) if v["active"] and v["code"] == value]
            if known is None or not known["active"] or not values:
                raise _Problem(
                    422,
                    "UNKNOWN_DIMENSION_VALUE",
                    f"Dimension {key} has no active value {value}.",
                    field=f"{where}.dimensions.{key}",
                    value=value,
                )
        currency = str(line.get("currency"))
        for side in ("debit", "credit"):
            text = str(line.get(side, "0"))
            decimals = -_decimal(text).as_tuple().exponent  # type: ignore[operator]
            if decimals > DECIMALS.get(currency, 2) or _decimal(text) < 0:
                raise _Problem(
                    422,
                    "INVALID_AMOUNT",
                    f"{side} {text} is not a valid {currency} amount.",
                    field=f"{where}.{side}",
                )

    def _add_attachment(self, entry_id: str, body: Mapping[str, Any]) -> JSON:
        entry = next((e for e in self.entries if e["id"] == entry_id), None)
        if entry is None:
            raise _Problem(404, "NOT_FOUND", f"No journal entry {entry_id}.")
        content = base64.b64decode(str(body.get("data", "")), validate=True)
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise _Problem(413, "FILE_TOO_LARGE", "Attachments are limited to 10 MB.")
        if body.get("contentType") not in ATTACHMENT_TYPES:
            raise _Problem(415, "UNSUPPORTED_TYPE", f"{body.get('contentType')} is not accepted.")
        attachment = {
            "id": f"ATT-{len(entry['attachments']) + 1}",
            "fileName": body.get("fileName"),
            "tag": body.get("tag"),
            "size": len(content),
        }
        entry["attachments"].append(attachment)
        return attachment


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message, **extra}}, headers=headers
    )


def _page(items: list[JSON], query: Mapping[str, str]) -> JSON:
    page = max(1, int(query.get("page", "1")))
    start = (page - 1) * PAGE_SIZE
    pages = max(1, -(-len(items) // PAGE_SIZE))
    return {"items": items[start : start + PAGE_SIZE], "page": page, "pages": pages}


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _Problem(400, "VALIDATION", f"date {value!r} is not YYYY-MM-DD.") from None


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise _Problem(400, "VALIDATION", f"{text!r} is not a decimal number.") from None


def _amount(line: Mapping[str, Any], side: str) -> Decimal:
    return _decimal(str(line.get(side, "0")))

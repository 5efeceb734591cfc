"""Structuring benchmark: 10 000 realistic ``ExportItemV3`` from one JSON page.

Issue 2 target: turning the parsed page into models costs at most 2.0x ``json.loads`` of the
same bytes. The page is generated here, deterministically: every item has three lines (each
with an account, two tags and a tax), a vendor, a supplier, a user, a team, a contra account,
bookkeeping, links and two files. Identifiers of accounts, tags, tax codes, people and vendors
repeat across items the way they do in a real company; accounting-entry and line ids are
unique.

Run: ``python benchmarks/bench_models.py [--items N] [--repeat R]``. It prints a report; it is
not a timed test and never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from pleo_erp.client.serialization import structure
from pleo_erp.models import CursorPage, ExportItemV3

TARGET_RATIO = 2.0


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _money(currency: str, value: int) -> dict[str, Any]:
    return {"currency": currency, "value": value}


def _amounts(wallet: str, supplier: str, value: int, fx: float) -> dict[str, Any]:
    return {
        "inSupplierCurrency": _money(supplier, round(value * fx)),
        "inWalletCurrency": _money(wallet, value),
    }


def make_page(items: int, seed: int = 7) -> bytes:
    """A ``CursorPaginatedResponseExportItemV3`` JSON page with ``items`` realistic items."""
    rng = random.Random(seed)
    company = _uuid(rng)
    accounts = [
        {
            "id": _uuid(rng),
            "name": f"Expense account {n}",
            "code": str(4000 + n),
            "identifier": None,
        }
        for n in range(60)
    ]
    tag_groups = [
        ("DEPARTMENT", [f"D{n:03}" for n in range(20)]),
        ("PROJECT", [f"P{n:04}" for n in range(40)]),
    ]
    tags = {
        (group, code): {"id": _uuid(rng), "code": code, "groupCode": group}
        for group, codes in tag_groups
        for code in codes
    }
    taxes: list[dict[str, Any]] = [
        {"id": _uuid(rng), "code": code, "rate": rate, "type": kind}
        for code, rate, kind in [
            ("VAT25", 0.25, "inclusive"),
            ("VAT12", 0.12, "inclusive"),
            ("VAT6", 0.06, "inclusive"),
            ("RC25", 0.25, "reverse"),
            ("EX0", 0.0, "exclusive"),
        ]
    ]
    users = [{"id": _uuid(rng), "name": f"Employee {n}", "code": f"E{n:04}"} for n in range(150)]
    teams = [{"id": _uuid(rng), "name": f"Team {n}", "code": f"T{n}"} for n in range(10)]
    vendors = [
        {
            "id": _uuid(rng),
            "name": f"Vendor {n} AB",
            "code": f"V{n:05}",
            "externalId": f"ext-{n}",
            "country": rng.choice(["SE", "DK", "DE", "GB", "US"]),
            "defaultCurrency": "SEK",
            "registrationNumber": f"556{n:07}",
            "taxRegistrationNumber": f"SE556{n:07}01",
        }
        for n in range(300)
    ]
    contra = {"id": _uuid(rng), "name": "Pleo SEK wallet", "code": "1930", "identifier": "1930"}
    types = ["card_purchase", "card_purchase", "card_purchase", "out_of_pocket", "invoice", "fee"]

    data = []
    for n in range(items):
        supplier_currency = rng.choice(["SEK", "SEK", "EUR", "USD"])
        fx = 1.0 if supplier_currency == "SEK" else 0.0912
        lines: list[dict[str, Any]] = []
        total = 0
        for _ in range(3):
            gross = rng.randint(100, 500_000)
            tax = rng.choice(taxes)
            tax_value = round(gross * tax["rate"] / (1 + tax["rate"]))
            total += gross
            lines.append(
                {
                    "accountingEntryLineId": _uuid(rng),
                    "account": rng.choice(accounts),
                    "lineAmount": _amounts("SEK", supplier_currency, gross, fx),
                    "netAmount": _amounts("SEK", supplier_currency, gross - tax_value, fx),
                    "tags": [
                        tags[("DEPARTMENT", rng.choice(tag_groups[0][1]))],
                        tags[("PROJECT", rng.choice(tag_groups[1][1]))],
                    ],
                    "tax": {
                        **tax,
                        "amount": _amounts("SEK", supplier_currency, tax_value, fx),
                        "ingoingTaxAccount": "2645",
                        "outgoingTaxAccount": "2614",
                    },
                }
            )
        entry_id = _uuid(rng)
        vendor = rng.choice(vendors)
        data.append(
            {
                "_links": {
                    "web": {"exportItem": f"https://app.pleo.io/export/{entry_id}"},
                    "mobile": {"exportItem": f"pleo://export/{entry_id}"},
                    "api": {"exportItem": f"https://external.pleo.io/v3/export-items/{entry_id}"},
                },
                "accountingEntryId": entry_id,
                "accountingEntryLines": lines,
                "additionalInformation": {
                    "reconciliationId": f"BK-{100000 + n}",
                    "attendees": None,
                    "reconciledEntries": None,
                    "invoiceInformation": None,
                },
                "amount": _amounts("SEK", supplier_currency, total, fx),
                "bookkeeping": {"method": rng.choice(["journal", "accounts_payable"])},
                "companyId": company,
                "contraAccount": contra,
                "date": f"2025-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}"
                f"T{rng.randint(0, 23):02}:{rng.randint(0, 59):02}:{rng.randint(0, 59):02}Z",
                "files": [
                    {
                        "url": f"https://files.pleo.io/r/{entry_id}/{k}.pdf",
                        "type": "application/pdf",
                        "size": rng.randint(20_000, 2_000_000),
                    }
                    for k in range(2)
                ],
                "note": f"Expense {n}: client meeting and travel",
                "servicePeriod": None,
                "supplier": {
                    "name": vendor["name"].upper(),
                    "code": None,
                    "categoryCode": "5812",
                    "country": vendor["country"],
                    "account": None,
                    "taxIdentifier": None,
                },
                "team": rng.choice(teams),
                "type": rng.choice(types),
                "user": rng.choice(users),
                "vendor": vendor,
            }
        )
    page = {
        "data": data,
        "pagination": {
            "currentRequestPagination": {"parameters": {"job_id": [company]}, "limit": items},
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": "AAAA",
            "endCursor": "ZZZZ",
            "total": items,
        },
    }
    return json.dumps(page, separators=(",", ":")).encode()


def _timed(fn: Callable[[], object]) -> float:
    """CPU seconds of one call, with the GC paused (it would bill one side for the other's
    garbage). CPU time rather than wall time: on a shared machine, time spent descheduled
    says nothing about either side."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        fn()
        return time.process_time() - start
    finally:
        gc.enable()


def run(items: int = 10_000, repeat: int = 5) -> dict[str, float]:
    """Time ``json.loads`` and ``structure`` of one page; returns the best of ``repeat``.

    The two are measured alternately so that a burst of load on the machine hits both.
    """
    raw = make_page(items)
    parsed = json.loads(raw)
    page: CursorPage[ExportItemV3] = structure(parsed, CursorPage[ExportItemV3])  # warm-up
    assert len(page.data) == items
    loads_s = structure_s = float("inf")
    for _ in range(repeat):
        loads_s = min(loads_s, _timed(lambda: json.loads(raw)))
        structure_s = min(structure_s, _timed(lambda: structure(parsed, CursorPage[ExportItemV3])))
    return {
        "items": items,
        "bytes": len(raw),
        "loads_s": loads_s,
        "structure_s": structure_s,
        "ratio": structure_s / loads_s,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the benchmark report (always exits 0: a report, not a test)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    r = run(args.items, args.repeat)
    verdict = "met" if r["ratio"] <= TARGET_RATIO else "missed"
    print(
        f"ExportItemV3 structuring benchmark ({r['items']:,} items, {r['bytes'] / 1e6:.1f} MB JSON)"
    )
    print(f"  json.loads          {r['loads_s'] * 1e3:8.1f} ms  (CPU time, best of {args.repeat})")
    print(
        f"  structure (cattrs)  {r['structure_s'] * 1e3:8.1f} ms  "
        f"({r['structure_s'] / r['items'] * 1e6:.1f} us/item)"
    )
    print(f"  ratio               {r['ratio']:8.2f}x  (target <= {TARGET_RATIO:.1f}x: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Property: random balanced entries keep the Beancount ledger loading with zero errors.

Every example creates a fresh ledger from the demo chart, posts a few random balanced journal
entries (random accounts, amounts, currencies with 0/2/3 decimals, directions, dimensions,
hostile text, draft or final), re-posts one of them, and then checks with Beancount's own
loader: zero errors, one transaction per entry, each transaction summing to zero per currency
and carrying exactly the amounts posted.
"""

from __future__ import annotations

import tempfile
import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from beancount import loader
from beancount.core import data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pleo_erp.accounting_system import EntryDimension, EntryLine, JournalEntry
from pleo_erp.adapters.beancount import BeancountAccountingSystem, create_ledger
from pleo_erp.domain.money import minor_to_major
from pleo_erp.testing.sandbox.demo import build_demo

CHART = build_demo(1).chart
FIRST_OPEN = CHART.closed_until + timedelta(days=1) if CHART.closed_until else date(2026, 1, 1)
LINE_ACCOUNTS = sorted(
    a.code for a in CHART.accounts if a.active and a.kind == "expense" and a.code is not None
)
COUNTER_ACCOUNTS = ["5810", "5811", "5820", "5830"]
TAX_CODES = [None, *sorted(t.code for t in CHART.tax_codes if t.active)]
DIMENSIONS = [
    EntryDimension(d.code, v.code)
    for d in CHART.dimensions
    if d.active
    for v in d.values
    if v.active
]


@st.composite
def journal_entries(draw: st.DrawFn) -> JournalEntry:
    currency = draw(st.sampled_from(["DKK", "EUR", "JPY", "KWD"]))
    natural_debit = draw(st.booleans())  # purchase (debit lines) or refund (credit lines)
    amounts = draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=4))
    lines = []
    for amount in amounts:
        dims = draw(
            st.lists(st.sampled_from(DIMENSIONS), max_size=2, unique_by=lambda d: d.dimension)
        )
        lines.append(
            EntryLine(
                account=draw(st.sampled_from(LINE_ACCOUNTS)),
                debit=amount if natural_debit else 0,
                credit=0 if natural_debit else amount,
                currency=currency,
                role="expense",
                tax_code=draw(st.sampled_from(TAX_CODES)),
                dimensions=tuple(dims),
            )
        )
    total = sum(amounts)
    lines.append(
        EntryLine(
            account=draw(st.sampled_from(COUNTER_ACCOUNTS)),
            debit=0 if natural_debit else total,
            credit=total if natural_debit else 0,
            currency=currency,
            role="counter",
        )
    )
    return JournalEntry(
        accounting_entry_id=uuid.uuid4(),
        posting_date=FIRST_OPEN + timedelta(days=draw(st.integers(0, 500))),
        currency=currency,
        lines=draw(st.permutations(lines)),
        description=draw(st.text(max_size=40)),
        reference=draw(st.text(min_size=1, max_size=20)),
        posting_mode=draw(st.sampled_from(["draft", "final"])),
        reconciled_entries=tuple(draw(st.lists(st.text(max_size=10), max_size=2))),
        note=draw(st.none() | st.text(max_size=20)),
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    entries=st.lists(journal_entries(), min_size=1, max_size=3),
    repeat=st.integers(0, 2),
    paranoid=st.booleans(),
)
def test_random_balanced_entries_keep_the_ledger_clean(
    entries: list[JournalEntry], repeat: int, paranoid: bool
) -> None:
    """Both write modes: the full Beancount check and the fast fragment-only check."""
    with tempfile.TemporaryDirectory() as folder:
        path = create_ledger(Path(folder) / "ledger.beancount", CHART, currency="DKK")
        system = BeancountAccountingSystem(path, paranoid=paranoid)
        for entry in entries:
            system.post(entry, [])
        again = entries[repeat % len(entries)]
        assert system.post(again, []) == system.find_posted(again.accounting_entry_id)
        fresh_view = BeancountAccountingSystem(path)  # what another process would see
        for entry in entries:
            assert fresh_view.find_posted(entry.accounting_entry_id) == system.find_posted(
                entry.accounting_entry_id
            )

        loaded, errors, _ = loader.load_file(str(path))
        assert errors == [], [e.message for e in errors]
        txns = {
            t.meta["pleo-accounting-entry-id"]: t for t in loaded if isinstance(t, data.Transaction)
        }
        assert len(txns) == len(entries) == sum(isinstance(t, data.Transaction) for t in loaded)
        for entry in entries:
            txn = txns[str(entry.accounting_entry_id)]
            assert txn.flag == ("!" if entry.draft else "*")
            assert txn.date == entry.posting_date
            totals: dict[str, Decimal] = defaultdict(Decimal)
            posted: list[Decimal] = []
            for posting in txn.postings:
                assert posting.units is not None
                assert isinstance(posting.units.number, Decimal)
                totals[posting.units.currency] += posting.units.number
                posted.append(posting.units.number)
            assert set(totals.values()) == {Decimal(0)}
            posted.sort()
            expected = sorted(
                minor_to_major(line.debit, line.currency)
                - minor_to_major(line.credit, line.currency)
                for line in entry.lines
            )
            assert posted == expected

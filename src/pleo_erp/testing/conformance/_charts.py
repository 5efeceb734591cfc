"""Random bookkeeper edits of the chart (hypothesis), for the sync convergence check.

Edits stay inside what a valid accounting system can hold: codes stay unique (case
insensitively), the accounts the mapping, vendors and tax codes refer to are left alone, an
active account never refers to an inactive tax code, and Department and Project stay active
(so a tag selection always exists).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from attrs import evolve
from hypothesis import strategies as st

from pleo_erp.testing.sandbox.demo import (
    DemoAccount,
    DemoChart,
    DemoDimension,
    DemoDimensionValue,
    DemoTaxCode,
)

__all__ = ["chart_edits", "describe_edits"]

Edit = tuple[str, Callable[[DemoChart], DemoChart]]

_NAMES = st.from_regex(r"[A-Z][a-z]{2,9}( [A-Z][a-z]{2,9})?", fullmatch=True)
_KEPT_DIMENSIONS = frozenset({"DEPT", "PROJ"})


def _replace_account(chart: DemoChart, code: str | None, **changes: Any) -> DemoChart:
    accounts = tuple(evolve(a, **changes) if a.code == code else a for a in chart.accounts)
    return evolve(chart, accounts=accounts)


def _replace_tax(chart: DemoChart, code: str, **changes: Any) -> DemoChart:
    taxes = tuple(evolve(t, **changes) if t.code == code else t for t in chart.tax_codes)
    return evolve(chart, tax_codes=taxes)


def _replace_dimension(chart: DemoChart, code: str, **changes: Any) -> DemoChart:
    dims = tuple(evolve(d, **changes) if d.code == code else d for d in chart.dimensions)
    return evolve(chart, dimensions=dims)


def _replace_value(chart: DemoChart, dim: str, code: str, **changes: Any) -> DemoChart:
    def edit(d: DemoDimension) -> DemoDimension:
        if d.code != dim:
            return d
        return evolve(
            d, values=tuple(evolve(v, **changes) if v.code == code else v for v in d.values)
        )

    return evolve(chart, dimensions=tuple(edit(d) for d in chart.dimensions))


@st.composite
def _one_edit(draw: st.DrawFn, chart: DemoChart, serial: int) -> Edit:
    """One edit applicable to ``chart`` (``serial`` keeps new codes unique)."""
    expense = [a for a in chart.accounts if a.kind == "expense"]
    active_taxes = [t.code for t in chart.tax_codes if t.active]
    kinds = [
        "rename_account",
        "toggle_account",
        "account_tax",
        "add_account",
        "rename_tax",
        "add_tax",
        "toggle_tax",
        "rename_value",
        "toggle_value",
        "add_value",
        "toggle_dimension",
    ]
    kind = draw(st.sampled_from(kinds))
    if kind in ("rename_account", "toggle_account", "account_tax"):
        account = draw(st.sampled_from(expense))
        if kind == "rename_account":
            name = draw(_NAMES)
            return (
                f"rename account {account.code} to {name!r}",
                lambda c: _replace_account(c, account.code, name=name),
            )
        if kind == "toggle_account":
            state = not account.active
            return (
                f"{'activate' if state else 'deactivate'} account {account.code}",
                lambda c: _replace_account(c, account.code, active=state),
            )
        tax = draw(st.sampled_from([None, *active_taxes]))
        return (
            f"account {account.code} tax code → {tax}",
            lambda c: _replace_account(c, account.code, tax_code_external_id=tax),
        )
    if kind == "add_account":
        code = f"8{serial:03d}"
        name = draw(_NAMES)
        tax = draw(st.sampled_from([None, *active_taxes]))
        new = DemoAccount(f"ext-{code}", code, name, "expense", True, tax)
        return (f"add account {code} {name!r}", lambda c: evolve(c, accounts=(*c.accounts, new)))
    if kind in ("rename_tax", "toggle_tax"):
        tax_code = draw(st.sampled_from(chart.tax_codes))
        if kind == "rename_tax":
            name = draw(_NAMES)
            return (
                f"rename tax code {tax_code.code} to {name!r}",
                lambda c: _replace_tax(c, tax_code.code, name=name),
            )
        state = not tax_code.active
        return (
            f"{'activate' if state else 'deactivate'} tax code {tax_code.code}",
            lambda c: _replace_tax(c, tax_code.code, active=state),
        )
    if kind == "add_tax":
        code = f"TX{serial}"
        rate = draw(st.sampled_from(["0", "0.06", "0.12", "0.25"]))
        new_tax = DemoTaxCode(code, f"VAT {rate}", Decimal(rate), "inclusive", True, "7800")
        return (
            f"add tax code {code} ({rate})",
            lambda c: evolve(c, tax_codes=(*c.tax_codes, new_tax)),
        )
    if kind == "toggle_dimension":
        dims = [d for d in chart.dimensions if d.code not in _KEPT_DIMENSIONS]
        dim = draw(st.sampled_from(dims))
        state = not dim.active
        return (
            f"{'activate' if state else 'deactivate'} dimension {dim.code}",
            lambda c: _replace_dimension(c, dim.code, active=state),
        )
    dimension = draw(st.sampled_from(chart.dimensions))
    if kind == "add_value" or not dimension.values:
        code = f"NEW{serial}"
        name = draw(_NAMES)
        value = DemoDimensionValue(code, name)
        return (
            f"add value {dimension.code}/{code} {name!r}",
            lambda c: _replace_dimension(
                c, dimension.code, values=(*c.dimension(dimension.code).values, value)
            ),
        )
    chosen = draw(st.sampled_from(dimension.values))
    if kind == "rename_value":
        name = draw(_NAMES)
        return (
            f"rename value {dimension.code}/{chosen.code} to {name!r}",
            lambda c: _replace_value(c, dimension.code, chosen.code, name=name),
        )
    state = not chosen.active
    return (
        f"{'activate' if state else 'deactivate'} value {dimension.code}/{chosen.code}",
        lambda c: _replace_value(c, dimension.code, chosen.code, active=state),
    )


def _consistent(chart: DemoChart) -> DemoChart:
    """Drop tax code references from active accounts to inactive tax codes."""
    active = {t.code for t in chart.tax_codes if t.active}
    accounts = tuple(
        evolve(a, tax_code_external_id=None)
        if a.active and a.tax_code_external_id and a.tax_code_external_id not in active
        else a
        for a in chart.accounts
    )
    return evolve(chart, accounts=accounts)


@st.composite
def chart_edits(draw: st.DrawFn, chart: DemoChart) -> tuple[DemoChart, list[str]]:
    """``chart`` after one to eight random edits, and what the edits were."""
    done: list[str] = []
    for serial in range(draw(st.integers(min_value=1, max_value=8))):
        label, apply = draw(_one_edit(chart, serial))
        chart = apply(chart)
        done.append(label)
    return _consistent(chart), done


def describe_edits(edits: list[str]) -> str:
    """The edits as one line."""
    return "; ".join(edits) or "no edits"

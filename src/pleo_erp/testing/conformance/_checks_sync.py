"""Checks of the sync sources (Levels 2 and 3) through the sandbox: idempotence, convergence."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from hypothesis import given

from pleo_erp.accounting_system.sources import AccountSource, DimensionSource, TaxCodeSource
from pleo_erp.orchestration.sync import sync_accounts, sync_tags, sync_tax_codes
from pleo_erp.orchestration.sync_report import SyncReport
from pleo_erp.testing.conformance._charts import chart_edits, describe_edits
from pleo_erp.testing.conformance._pleo import DemoWorld
from pleo_erp.testing.conformance._subject import DEMO_CHART, Subject, Workspace
from pleo_erp.testing.conformance._types import ConformanceFailure, ConformanceSkipped
from pleo_erp.testing.sandbox.demo import DemoChart

__all__ = ["check_sync_converges", "check_sync_idempotent"]

#: Pleo allows at most five selected dimensions (tags rule 3).
MAX_SELECTED = 5


def _selection(chart: DemoChart) -> list[str]:
    return sorted(d.code for d in chart.dimensions if d.active)[:MAX_SELECTED]


def _kinds(sources: Any, *, dimensions: bool) -> list[str]:
    kinds = []
    if isinstance(sources, TaxCodeSource):
        kinds.append("tax_codes")
    if isinstance(sources, AccountSource):
        kinds.append("accounts")
    if dimensions and isinstance(sources, DimensionSource):
        kinds.append("tags")
    return kinds


def _sources(
    space: Workspace, world: DemoWorld, chart: DemoChart, *, dimensions: bool
) -> tuple[Any, list[str]]:
    sources = space.sources(space.setup(chart=chart, company_id=world.company_id))
    kinds = _kinds(sources, dimensions=dimensions) if sources is not None else []
    if not kinds:
        tags = "" if dimensions else " (the tags sync is off: dimensions=False)"
        raise ConformanceSkipped(
            "the adapter implements none of AccountSource, TaxCodeSource, DimensionSource"
            f"{tags} and make_sources gave nothing: the sync checks need a source"
        )
    return sources, kinds


def _sync(
    world: DemoWorld, sources: Any, chart: DemoChart, kinds: list[str], *, force: bool
) -> list[SyncReport]:
    """Tax codes, then accounts (their references resolve), then tags (of ``kinds``)."""
    reports = []
    cid = world.company_id
    if isinstance(sources, TaxCodeSource):
        reports.append(sync_tax_codes(world.client, sources, company_id=cid, force=force))
    if isinstance(sources, AccountSource):
        reports.append(sync_accounts(world.client, sources, company_id=cid, force=force))
    if "tags" in kinds:
        reports.append(
            sync_tags(
                world.client, sources, company_id=cid, selection=_selection(chart), force=force
            )
        )
    for report in reports:
        if not report.ok:
            problems = [str(f) for f in report.failures] + report.errors
            problems += [str(i) for i in report.plan.errors]
            raise ConformanceFailure(
                f"the {report.scope.value} sync did not apply cleanly: {problems[:6]}"
            )
    return reports


def _require_same_keys(
    what: str,
    live: Iterable[str],
    active: Iterable[str],
    *,
    shown: int | None = None,
    hint: str = "",
) -> None:
    """Fail unless Pleo's active ``what`` (by key) are the AS's active ones."""
    missing = sorted(set(active) - set(live))
    extra = sorted(set(live) - set(active))
    if missing or extra:
        raise ConformanceFailure(
            f"Pleo's active {what} differ from the AS: missing {missing[:shown]}, not active "
            f"in the AS {extra[:shown]}{hint}"
        )


def _require_equal(what: str, fields: str, got: tuple[Any, ...], want: tuple[Any, ...]) -> None:
    """Fail unless Pleo's ``fields`` of ``what`` (``got``) are the AS's (``want``)."""
    if got != want:
        raise ConformanceFailure(f"{what}: Pleo has ({fields}) {got}, the AS {want}")


def _check_accounts(world: DemoWorld, chart: DemoChart) -> None:
    pleo = world.sandbox.accounts(str(world.company_id))
    live = {str(a["externalId"]): a for a in pleo if not a["archived"]}
    active = {a.external_id: a for a in chart.accounts if a.active}
    _require_same_keys(
        "accounts",
        live,
        active,
        shown=6,
        hint="; list_accounts must return every account with its external_id, and "
        "active=False for closed ones",
    )
    for external_id, account in active.items():
        seen = live[external_id]
        _require_equal(
            f"account {external_id}",
            "name, code, tax code",
            (seen.get("name"), seen.get("code"), seen.get("taxCodeExternalId")),
            (account.name, account.code, account.tax_code_external_id),
        )


def _check_tax_codes(world: DemoWorld, chart: DemoChart) -> None:
    pleo = world.sandbox.tax_codes(str(world.company_id))
    live = {str(t["code"]): t for t in pleo if not t["archived"] and t.get("code")}
    active = {t.code: t for t in chart.tax_codes if t.active}
    _require_same_keys("tax codes", live, active)
    for code, tax in active.items():
        seen = live[code]
        _require_equal(
            f"tax code {code}",
            "name, rate, type",
            (seen.get("name"), Decimal(str(seen.get("rate"))), seen.get("type")),
            (tax.name, tax.rate, tax.type),
        )


def _check_tags(world: DemoWorld, chart: DemoChart) -> None:
    cid = str(world.company_id)
    selected = {code.lower() for code in _selection(chart)}
    groups = [g for g in world.sandbox.tag_groups(cid) if not g["archived"]]
    live = {str(g["code"]).lower(): g for g in groups}
    if set(live) != selected:
        raise ConformanceFailure(
            f"Pleo's active tag groups {sorted(live)} differ from the selected active "
            f"dimensions {sorted(selected)}"
        )
    for dimension in chart.dimensions:
        if dimension.code.lower() not in selected:
            continue
        tags = world.sandbox.tags(str(live[dimension.code.lower()]["id"]))
        live_tags = {str(t["code"]).lower(): t for t in tags if not t["archived"]}
        values = {v.code.lower(): v for v in dimension.values if v.active}
        if set(live_tags) != set(values):
            raise ConformanceFailure(
                f"dimension {dimension.code}: Pleo's active tags {sorted(live_tags)} differ "
                f"from the AS's active values {sorted(values)}; list_dimension_values must "
                "return every value, with active=False for inactive ones"
            )
        for code, value in values.items():
            if live_tags[code].get("name") != value.name:
                raise ConformanceFailure(
                    f"tag {dimension.code}/{value.code}: Pleo has name "
                    f"{live_tags[code].get('name')!r}, the AS {value.name!r}"
                )


def _check_converged(world: DemoWorld, chart: DemoChart, kinds: list[str]) -> None:
    if "tax_codes" in kinds:
        _check_tax_codes(world, chart)
    if "accounts" in kinds:
        _check_accounts(world, chart)
    if "tags" in kinds:
        _check_tags(world, chart)


def _pleo_ids(world: DemoWorld) -> set[str]:
    cid = str(world.company_id)
    ids = {str(a["id"]) for a in world.sandbox.accounts(cid)}
    ids |= {str(t["id"]) for t in world.sandbox.tax_codes(cid)}
    for group in world.sandbox.tag_groups(cid):
        ids.add(str(group["id"]))
        ids |= {str(t["id"]) for t in world.sandbox.tags(str(group["id"]))}
    return ids


def _check_quiet_rerun(
    world: DemoWorld, sources: Any, chart: DemoChart, kinds: list[str], label: str
) -> None:
    world.sandbox.clear_requests()
    reports = _sync(world, sources, chart, kinds, force=False)
    writes = world.write_requests()
    if writes or any(r.write_requests for r in reports):
        plans = "; ".join(r.plan.summary() for r in reports)
        raise ConformanceFailure(
            f"{label}: a second sync on unchanged data sent {writes} write request(s) "
            f"({plans}); the source must report the same data every time"
        )


def check_sync_idempotent(subject: Subject) -> None:
    """Syncing the demo chart makes Pleo match it; syncing again writes nothing (rule 20)."""
    chart, dimensions = subject.chart, subject.uses_dimensions
    subject.note_without_dimensions("tags sync")
    with subject.workspace() as space, DemoWorld() as world:
        sources, kinds = _sources(space, world, chart, dimensions=dimensions)
        _sync(world, sources, chart, kinds, force=False)
        _check_converged(world, chart, kinds)
        _check_quiet_rerun(world, sources, chart, kinds, "first sync")


def check_sync_converges(subject: Subject) -> None:
    """After random edits in the AS, one sync makes Pleo match again; nothing is deleted."""

    start, dimensions = subject.chart, subject.uses_dimensions
    subject.note_without_dimensions("tags sync")

    @given(edited=chart_edits(DEMO_CHART))
    def converges(edited: tuple[DemoChart, list[str]]) -> None:
        chart, edits = subject.adapt_chart(edited[0]), edited[1]
        label = f"after edits [{describe_edits(edits)}]"
        with subject.workspace() as space, DemoWorld() as world:
            before, kinds = _sources(space, world, start, dimensions=dimensions)
            _sync(world, before, start, kinds, force=False)
            ids = _pleo_ids(world)
            after, _ = _sources(space, world, chart, dimensions=dimensions)
            _sync(world, after, chart, kinds, force=True)
            try:
                _check_converged(world, chart, kinds)
            except ConformanceFailure as failure:
                raise ConformanceFailure(f"{label}: {failure}") from failure
            gone = ids - _pleo_ids(world)
            if gone:
                raise ConformanceFailure(f"{label}: Pleo objects were deleted: {sorted(gone)[:5]}")
            _check_quiet_rerun(world, after, chart, kinds, label)

    subject.property_test(converges)()

"""A hypothesis state machine for Levels 2/3: random edits on both sides, interleaved syncs.

Invariants (tags rules 17–21, accounts rules 33–41, DESIGN decision 8):

- after a (forced) sync Pleo matches the AS per the decision tables;
- a second sync on unchanged inputs writes nothing (tags rule 20);
- nothing is ever deleted (every id Pleo ever had still exists);
- a failed AS read, a refused plan (safety rule) or an ambiguous source (duplicate account
  ids) change nothing in Pleo.

The machine runs twice: with the blocking syncs and with their ``async`` twins.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from pleo_erp.accounting_system.sources import SourceReadError
from pleo_erp.domain.reconcile.errors import DuplicateExternalId, MassArchiveRefused
from pleo_erp.testing.inmemory_sources import InMemorySources
from pleo_erp.testing.sandbox import PleoSandbox
from tests.helpers.sync import SyncDriver, writes

DIMENSIONS = ("DEPT", "PROJ")
codes = st.sampled_from(["A", "B", "C", "a", "b"])
names = st.sampled_from(["x", "y", "z"])
ext_ids = st.sampled_from(["e1", "e2", "e3", "e4"])
dims = st.sampled_from(DIMENSIONS)
index = st.integers(min_value=0, max_value=5)


class SyncMachine(RuleBasedStateMachine):
    """Both sides edited at random; syncs in between."""

    driver = SyncDriver("blocking")

    def __init__(self) -> None:
        super().__init__()
        self.sandbox = PleoSandbox(seed=5, validate_responses="sample")
        self.company = self.sandbox.add_company("State machine")
        self.client = self.sandbox.client(max_retries=0, requests_per_minute=None)
        self.source = InMemorySources()
        for code in DIMENSIONS:
            self.source.add_dimension(code, code.title())
        # A lived-in start: both sides already hold data that partly agrees.
        self.source.add_value("DEPT", "A", "x")
        self.source.add_value("DEPT", "B", "y")
        self.source.add_value("PROJ", "C", "z")
        dept = self.sandbox.add_tag_group(self.company, "DEPT", "Dept")
        self.sandbox.add_tag_group(self.company, "proj", "Proj", archived=True)
        self.sandbox.add_tag(dept, "A", "x")
        self.sandbox.add_tag(dept, "b", "old")
        self.source.add_account("e1", "1", "x")
        self.source.add_account("e2", "2", "y")
        self.sandbox.add_account(self.company, "e1", "old", code="1")
        self.sandbox.add_account(self.company, "p9", "pleo-made")
        self.seen: set[str] = set()

    # ------------------------------------------------------------------ helpers

    def snapshot(self) -> dict[str, Any]:
        groups = self.sandbox.tag_groups(self.company)
        tags = [t for g in groups for t in self.sandbox.tags(g["id"])]
        accounts = self.sandbox.accounts(self.company)
        return {
            "groups": sorted((g["id"], g["code"], g["name"], g["archived"]) for g in groups),
            "tags": sorted((t["id"], t["code"], t.get("name"), t["archived"]) for t in tags),
            "accounts": sorted(
                (a["id"], a["externalId"], a["name"], a["code"], a["archived"]) for a in accounts
            ),
        }

    def selection(self) -> list[str]:
        return [d.code for d in self.source.dimensions if d.active]

    def group_id(self, dim: str) -> str | None:
        for g in self.sandbox.tag_groups(self.company):
            if g["code"].casefold() == dim.casefold() and not g["archived"]:
                return str(g["id"])
        return None

    # ------------------------------------------------------------------ AS edits

    @rule(dim=dims, code=codes, name=names)
    def as_add_value(self, dim: str, code: str, name: str) -> None:
        self.source.add_value(dim, code, name)

    @rule(dim=dims, i=index, name=names)
    def as_rename_value(self, dim: str, i: int, name: str) -> None:
        values = self.source.values_of(dim)
        if values:
            self.source.rename_value(dim, values[i % len(values)].code, name)

    @rule(dim=dims, i=index, code=codes)
    def as_recode_value(self, dim: str, i: int, code: str) -> None:
        values = self.source.values_of(dim)
        if values:
            self.source.recode_value(dim, values[i % len(values)].code, code)

    @rule(dim=dims, i=index)
    def as_toggle_value(self, dim: str, i: int) -> None:
        values = self.source.values_of(dim)
        if values:
            value = values[i % len(values)]
            if value.active:
                self.source.deactivate_value(dim, value.code)
            else:
                self.source.activate_value(dim, value.code)

    @rule(dim=dims, i=index)
    def as_remove_value(self, dim: str, i: int) -> None:
        values = self.source.values_of(dim)
        if values:
            self.source.remove_value(dim, values[i % len(values)].code)

    @rule()
    def as_toggle_project_dimension(self) -> None:
        (proj,) = [d for d in self.source.dimensions if d.code == "PROJ"]
        if proj.active:
            self.source.deactivate_dimension("PROJ")
        else:
            self.source.activate_dimension("PROJ")

    @rule(ext=ext_ids, code=codes, name=names)
    def as_add_account(self, ext: str, code: str, name: str) -> None:
        if ext not in {a.external_id for a in self.source.accounts}:
            self.source.add_account(ext, code, name)

    @rule(ext=ext_ids, name=names)
    def as_duplicate_account(self, ext: str, name: str) -> None:
        self.source.add_account(ext, None, name)  # an active twin: the sync must refuse

    @rule(i=index, name=names, code=codes)
    def as_edit_account(self, i: int, name: str, code: str) -> None:
        accounts = self.source.accounts
        if accounts:
            ext = accounts[i % len(accounts)].external_id
            self.source.rename_account(ext, name)
            self.source.recode_account(ext, code)

    @rule(i=index)
    def as_toggle_account(self, i: int) -> None:
        accounts = self.source.accounts
        if accounts:
            account = accounts[i % len(accounts)]
            if account.active:
                self.source.deactivate_account(account.external_id)
            else:
                self.source.activate_account(account.external_id)

    @rule(i=index)
    def as_remove_account(self, i: int) -> None:
        accounts = self.source.accounts
        if accounts:
            self.source.remove_account(accounts[i % len(accounts)].external_id)

    # ------------------------------------------------------------------ Pleo edits

    @rule(dim=dims, code=codes, name=names, archived=st.booleans())
    def pleo_add_tag(self, dim: str, code: str, name: str, archived: bool) -> None:
        group = self.group_id(dim)
        # Pleo refuses an exact duplicate code on create; duplicates differ in case.
        if group is not None and code not in {t["code"] for t in self.sandbox.tags(group)}:
            self.sandbox.add_tag(group, code, name, archived=archived)

    @rule(dim=dims, i=index)
    def pleo_duplicate_tag(self, dim: str, i: int) -> None:
        """A second tag whose code differs only in case (tags rules 1 and 13)."""
        group = self.group_id(dim)
        tags = self.sandbox.tags(group) if group else []
        if tags:
            tag = tags[i % len(tags)]
            twin = tag["code"].swapcase()
            if twin not in {t["code"] for t in tags}:
                self.sandbox.add_tag(str(group), twin, tag.get("name"))

    @rule(dim=dims, i=index, archived=st.booleans(), name=names)
    def pleo_edit_tag(self, dim: str, i: int, archived: bool, name: str) -> None:
        group = self.group_id(dim)
        tags = self.sandbox.tags(group) if group else []
        if tags:
            tag = tags[i % len(tags)]
            self.client.tags.update(tag["id"], code=tag["code"], archived=archived, name=name)

    @rule(code=st.sampled_from(["REGION", "dept", "Proj"]))
    def pleo_add_group(self, code: str) -> None:
        self.sandbox.add_tag_group(self.company, code)

    @rule(ext=st.sampled_from(["e1", "e2", "p9"]), name=names, archived=st.booleans())
    def pleo_add_account(self, ext: str, name: str, archived: bool) -> None:
        if ext not in {a["externalId"] for a in self.sandbox.accounts(self.company)}:
            self.sandbox.add_account(self.company, ext, name, archived=archived)

    @rule(i=index, archived=st.booleans(), name=names)
    def pleo_edit_account(self, i: int, archived: bool, name: str) -> None:
        accounts = self.sandbox.accounts(self.company)
        if accounts:
            a = accounts[i % len(accounts)]
            self.client.accounts.update(a["id"], name=name, archived=archived, code=a["code"])

    # ------------------------------------------------------------------ syncs

    @rule(force=st.booleans())
    def sync_tags(self, force: bool) -> None:
        before = self.snapshot()
        try:
            report = self.driver.tags(
                self.client,
                self.source,
                company_id=self.company,
                selection=self.selection(),
                force=force,
            )
        except MassArchiveRefused:
            event("tags: refused by the safety rule")
            assert not force
            assert self.snapshot() == before
            return
        assert not report.failures, report.summary()
        event(
            f"tags: {min(report.write_requests, 5)}+ writes"
            if report.write_requests >= 5
            else f"tags: {report.write_requests} writes"
        )
        self.check_tags()
        self.sandbox.clear_requests()
        again = self.driver.tags(
            self.client,
            self.source,
            company_id=self.company,
            selection=self.selection(),
            force=True,
        )
        assert again.write_requests == 0, again.plan.summary()
        assert writes(self.sandbox) == []

    @rule(force=st.booleans())
    def sync_accounts(self, force: bool) -> None:
        before = self.snapshot()
        try:
            report = self.driver.accounts(
                self.client, self.source, company_id=self.company, force=force
            )
        except (MassArchiveRefused, DuplicateExternalId) as exc:
            event(f"accounts: {type(exc).__name__}")
            if isinstance(exc, MassArchiveRefused):
                assert not force
            else:
                ids = [a.external_id for a in self.source.accounts if a.active]
                assert len(ids) != len(set(ids))
            assert self.snapshot() == before
            return
        assert not report.failures, report.summary()
        event(f"accounts: {'writes' if report.write_requests else 'no writes'}")
        self.check_accounts()
        self.sandbox.clear_requests()
        again = self.driver.accounts(self.client, self.source, company_id=self.company, force=True)
        assert again.write_requests == 0, again.plan.summary()
        assert writes(self.sandbox) == []

    @rule()
    def failed_read_changes_nothing(self) -> None:
        before = self.snapshot()
        self.source.fail_reads()
        try:
            with pytest.raises(SourceReadError):
                self.driver.tags(
                    self.client,
                    self.source,
                    company_id=self.company,
                    selection=self.selection(),
                    force=True,
                )
            with pytest.raises(SourceReadError):
                self.driver.accounts(self.client, self.source, company_id=self.company, force=True)
        finally:
            self.source.restore_reads()
        assert self.snapshot() == before

    # ------------------------------------------------------------------ checks

    def check_tags(self) -> None:
        selected = {c.casefold() for c in self.selection()}
        groups = self.sandbox.tag_groups(self.company)
        active_groups = [g for g in groups if not g["archived"]]
        assert sorted(g["code"].casefold() for g in active_groups) == sorted(selected)
        for group in active_groups:
            dim = next(
                d for d in self.source.dimensions if d.code.casefold() == group["code"].casefold()
            )
            values = [v for v in self.source.values_of(dim.code) if v.active and v.code]
            folded: dict[str, list[str]] = {}
            for v in values:
                folded.setdefault(v.code.casefold(), []).append(v.name or v.code)
            clashes = {k for k, vs in folded.items() if len(vs) > 1}
            expected = {k: vs[0] for k, vs in folded.items() if k not in clashes}
            active = [t for t in self.sandbox.tags(group["id"]) if not t["archived"]]
            got: dict[str, list[str | None]] = {}
            for t in active:
                if t["code"].casefold() not in clashes:
                    got.setdefault(t["code"].casefold(), []).append(t.get("name"))
            assert got == {k: [n] for k, n in expected.items()}

    def check_accounts(self) -> None:
        expected = {a.external_id: a for a in self.source.accounts if a.active}
        active = {
            a["externalId"]: a for a in self.sandbox.accounts(self.company) if not a["archived"]
        }
        assert set(active) == set(expected)
        for ext, account in expected.items():
            assert active[ext]["name"] == account.name
            assert (active[ext]["code"] or None) == (account.code or None)

    @invariant()
    def nothing_is_ever_deleted(self) -> None:
        snap = self.snapshot()
        ids = {row[0] for key in ("groups", "tags", "accounts") for row in snap[key]}
        assert self.seen <= ids
        self.seen |= ids

    def teardown(self) -> None:
        # Every example ends with forced syncs, so each one checks convergence at least once.
        try:
            self.sync_tags(force=True)
            self.sync_accounts(force=True)
        finally:
            self.client.close()


SyncMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=15, deadline=None)
TestSyncStateMachine = SyncMachine.TestCase


class AsyncSyncMachine(SyncMachine):
    """The same machine through ``sync_tags_async`` / ``sync_accounts_async``."""

    driver = SyncDriver("async")


AsyncSyncMachine.TestCase.settings = settings(
    max_examples=20, stateful_step_count=15, deadline=None
)
TestAsyncSyncStateMachine = AsyncSyncMachine.TestCase

"""The object kinds the syncs write: one small :class:`~._sync_engine.SyncKind` each.

- :class:`TaxCodeKind` — tax codes, one request per write;
- :class:`AccountKind` — accounts, creates through the batch endpoint (≤ 1000 a request);
- :class:`TagKind` — one tag group's tags, archives through the bulk endpoint (≤ 100 ids);
- :func:`apply_tag_groups` and :func:`apply_tags` — Step 2 (groups, each create recovered
  by re-reading the groups) then Step 3 (every usable group's tags, through the engine).

Each kind sends the request model its plan's actions already carry, spread into the client
method's keywords by :func:`request_fields`, so no field is listed here. No kind holds a client:
each returns the :class:`~._sync_io.Request` (``tags.create`` …) that a driver performs on a
``PleoClient`` or an ``AsyncPleoClient`` — both have the same resource methods.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import attrs

from pleo_erp.accounting_system.sources import DimensionValue, LedgerAccount, LedgerTaxCode
from pleo_erp.client.errors import PleoError
from pleo_erp.client.resources.accounts import AccountsBatchResult
from pleo_erp.domain.reconcile.accounts import AccountPlanOptions, plan_accounts
from pleo_erp.domain.reconcile.plan import Action, ActionKind, Plan
from pleo_erp.domain.reconcile.tags import GroupBinding, TagSyncPlan, codes_match, plan_tags
from pleo_erp.domain.reconcile.tax_codes import plan_tax_codes
from pleo_erp.models import (
    BookkeepingAccountBatchRequestItemV1,
    BookkeepingAccountCreateRequestV1,
    BookkeepingAccountRestModelV1,
    BookkeepingAccountUpdateRequestV1,
    TagCreateModel,
    TagGroupCreateModel,
    TagGroupModel,
    TagGroupUpdateModel,
    TagModel,
    TagUpdateModel,
    TaxCodeCreateUpdateModel,
    TaxCodeModel,
)
from pleo_erp.orchestration._sync_engine import (
    AMBIGUOUS_ERRORS,
    FATAL_ERRORS,
    ApplyRun,
    SyncKind,
    Unit,
    apply_units,
    is_uncertain,
)
from pleo_erp.orchestration._sync_io import Request, Steps, ask, pleo_call
from pleo_erp.orchestration.sync_report import SyncPhase

__all__ = [
    "ACCOUNTS_BATCH_SIZE",
    "TAGS_ARCHIVE_BATCH_SIZE",
    "AccountKind",
    "TagKind",
    "TagUnit",
    "TaxCodeKind",
    "apply_tag_groups",
    "apply_tags",
    "read_tag_groups",
    "read_tags",
    "request_fields",
]

#: Accounts per ``POST /v1/chart-of-accounts/batch`` (the spec's ``maxItems``).
ACCOUNTS_BATCH_SIZE = 1000
#: Tag ids per ``POST /v0/tags/archive`` (the spec's limit).
TAGS_ARCHIVE_BATCH_SIZE = 100


def request_fields(body: attrs.AttrsInstance) -> dict[str, Any]:
    """A request model's fields by name: the keywords of the client method that sends it.

    Every ``*Params`` ``TypedDict`` of :mod:`pleo_erp.client.resources` uses the field names of
    its request model, so a planned body is sent without listing its fields again.
    """
    return {f.name: getattr(body, f.name) for f in attrs.fields(type(body))}


def _pleo_id(action: Action[Any]) -> uuid.UUID:
    """The Pleo id an update/archive targets (a plan sets it on every non-create)."""
    if action.target.id is None:
        raise ValueError(f"{action} has no Pleo id to update")
    return action.target.id


# ----------------------------------------------------------------------------- collections


_SourceT = TypeVar("_SourceT")
_PleoT = TypeVar("_PleoT")
_CreateT = TypeVar("_CreateT", bound=attrs.AttrsInstance)
_UpdateT = TypeVar("_UpdateT", bound=attrs.AttrsInstance)


@attrs.define(frozen=True)
class _CollectionKind(SyncKind[Sequence[_SourceT], _PleoT, _CreateT, _UpdateT]):
    """A company-wide collection (tax codes, accounts): a unit is the AS's whole list.

    Pleo's objects are read with ``<resource>.search`` (every page, archived ones included);
    each write sends the planned (complete) body to ``<resource>.create`` / ``.update``.
    """

    company_id: uuid.UUID
    page_size: int | None = None
    #: The client resource (``client.tax_codes`` …).
    resource: ClassVar[str]

    def read(self, context: Sequence[_SourceT]) -> Request[Sequence[_PleoT]]:
        """Every Pleo object of the company, archived ones included."""
        return pleo_call(
            f"{self.resource}.search", self.company_id, page_size=self.page_size, collect=True
        )

    def create(self, context: Sequence[_SourceT], action: Action[_CreateT]) -> Request[object]:
        """One create with the planned body."""
        return pleo_call(f"{self.resource}.create", **request_fields(action.body))

    def update(self, context: Sequence[_SourceT], action: Action[_UpdateT]) -> Request[object]:
        """One complete PUT of ``action.target.id`` with the planned body."""
        return pleo_call(f"{self.resource}.update", _pleo_id(action), **request_fields(action.body))


@attrs.define(frozen=True)
class TaxCodeKind(
    _CollectionKind[LedgerTaxCode, TaxCodeModel, TaxCodeCreateUpdateModel, TaxCodeCreateUpdateModel]
):
    """Tax codes (``/v0/tax-codes``): every write is one request."""

    noun = "tax codes"
    resource = "tax_codes"

    def plan(self, context: Sequence[LedgerTaxCode], pleo: Sequence[TaxCodeModel]) -> Plan:
        """:func:`~pleo_erp.domain.reconcile.tax_codes.plan_tax_codes`."""
        return plan_tax_codes(context, pleo, company_id=self.company_id)


# ----------------------------------------------------------------------------- accounts


@attrs.define(frozen=True)
class AccountKind(
    _CollectionKind[
        LedgerAccount,
        BookkeepingAccountRestModelV1,
        BookkeepingAccountCreateRequestV1,
        BookkeepingAccountUpdateRequestV1,
    ]
):
    """Accounts (``/v1/chart-of-accounts``): read in both states (no ``archived`` filter,
    accounts rule 30), updated with complete PUTs (accounts rule 28); creates go through the
    batch endpoint from ``batch_threshold`` creates on."""

    options: AccountPlanOptions | None = None
    batch_threshold: int = 2
    noun = "accounts"
    resource = "accounts"

    def plan(
        self, context: Sequence[LedgerAccount], pleo: Sequence[BookkeepingAccountRestModelV1]
    ) -> Plan:
        """:func:`~pleo_erp.domain.reconcile.accounts.plan_accounts`."""
        return plan_accounts(context, pleo, company_id=self.company_id, options=self.options)

    def create_all(
        self,
        run: ApplyRun,
        context: Sequence[LedgerAccount],
        actions: Sequence[Action[BookkeepingAccountCreateRequestV1]],
        *,
        final: bool,
    ) -> Steps[set[str]]:
        """One request per create below the threshold, else batches of ≤ 1000."""
        if len(actions) < max(self.batch_threshold, 1) or len(actions) == 1:
            return (yield from super().create_all(run, context, actions, final=final))
        uncertain: set[str] = set()
        for start in range(0, len(actions), ACCOUNTS_BATCH_SIZE):
            chunk = actions[start : start + ACCOUNTS_BATCH_SIZE]
            uncertain |= yield from self._create_chunk(run, chunk, final=final)
        return uncertain

    def _create_chunk(
        self,
        run: ApplyRun,
        chunk: Sequence[Action[BookkeepingAccountCreateRequestV1]],
        *,
        final: bool,
    ) -> Steps[set[str]]:
        """One batch request; per-item failures surfaced, uncertain keys returned."""
        if run.fatal is not None:
            for action in chunk:
                run.failed(action, f"not sent: {run.fatal}", skipped=True)
            return set()
        items = [_batch_item(a.body) for a in chunk]
        run.report.write_requests += 1
        try:
            batch = pleo_call("accounts.create_batch", self.company_id, items)
            result: AccountsBatchResult = yield from ask(batch)
        except FATAL_ERRORS as exc:
            run.fatal = run.describe(exc)
            for action in chunk:
                run.failed(action, exc)
            return set()
        except AMBIGUOUS_ERRORS as exc:
            if final:
                for action in chunk:
                    run.failed(action, exc)
                return set()
            return {a.target.key for a in chunk}
        except PleoError as exc:
            for action in chunk:
                run.failed(action, exc)
            return set()
        by_key = {a.target.key: a for a in chunk}
        uncertain: set[str] = set()
        for created in result.created:
            done = by_key.pop(created.external_id, None)
            if done is not None:
                run.succeeded(done, created.id)
        for failed in result.failed:
            refused = by_key.pop(failed.request.external_id, None)
            if refused is None:
                continue
            reasons = tuple(str(getattr(r, "value", r)) for r in failed.reasons)
            if "EXTERNAL_ID_ALREADY_EXISTS" in reasons and not final:
                uncertain.add(refused.target.key)
            else:
                run.failed(refused, "Pleo refused the account in the batch", reasons=reasons)
        for action in by_key.values():
            # Neither created nor failed: Pleo's answer is incomplete, so the state is unknown.
            if final:
                run.failed(action, "missing from the batch response")
            else:
                uncertain.add(action.target.key)
        return uncertain


def _batch_item(body: BookkeepingAccountCreateRequestV1) -> BookkeepingAccountBatchRequestItemV1:
    """The batch entry for a planned create: the same fields, minus ``companyId``."""
    names = attrs.fields_dict(BookkeepingAccountBatchRequestItemV1)
    return BookkeepingAccountBatchRequestItemV1(**{n: getattr(body, n) for n in names})


# ----------------------------------------------------------------------------- tags


@attrs.define(frozen=True)
class TagUnit:
    """One tag group's tags to sync: its binding (with the group's id) and the AS's values."""

    binding: GroupBinding
    values: Sequence[DimensionValue]

    @property
    def group_id(self) -> uuid.UUID:
        """The group's Pleo id (known once Step 2 has run)."""
        if self.binding.group_id is None:
            raise ValueError(f"tag group {self.binding.group_code!r} has no Pleo id yet")
        return self.binding.group_id


@attrs.define(frozen=True)
class TagKind(SyncKind[TagUnit, TagModel, TagCreateModel, TagUpdateModel]):
    """Tags: a unit is one group's tags; archives go 100 ids a request across all groups."""

    company_id: uuid.UUID
    page_size: int | None = None
    noun = "tags"

    def read(self, context: TagUnit) -> Request[Sequence[TagModel]]:
        """The group's tags, archived ones included."""
        return read_tags(context.group_id, self.page_size)

    def plan(self, context: TagUnit, pleo: Sequence[TagModel]) -> Plan:
        """:func:`~pleo_erp.domain.reconcile.tags.plan_tags` for the group."""
        return plan_tags(context.binding, context.values, pleo)

    def create(self, context: TagUnit, action: Action[TagCreateModel]) -> Request[object]:
        """``POST /v0/tag-groups/{groupId}/tags`` with the planned body."""
        return pleo_call("tags.create", context.group_id, **request_fields(action.body))

    def update(self, context: TagUnit, action: Action[TagUpdateModel]) -> Request[object]:
        """``PUT /v0/tags/{id}`` with the planned body."""
        return pleo_call("tags.update", _pleo_id(action), **request_fields(action.body))

    def archive_all(
        self, run: ApplyRun, archives: Sequence[tuple[TagUnit, Action[TagUpdateModel]]]
    ) -> Steps[None]:
        """``POST /v0/tags/archive``, up to 100 tags (of any group) a request."""
        actions = [action for _, action in archives]
        for start in range(0, len(actions), TAGS_ARCHIVE_BATCH_SIZE):
            yield from self._archive_chunk(run, actions[start : start + TAGS_ARCHIVE_BATCH_SIZE])

    def _archive_chunk(self, run: ApplyRun, chunk: Sequence[Action[TagUpdateModel]]) -> Steps[None]:
        if run.fatal is not None:
            for action in chunk:
                run.failed(action, f"not sent: {run.fatal}", skipped=True)
            return
        ids = [a.target.id for a in chunk if a.target.id is not None]
        run.report.write_requests += 1
        try:
            yield pleo_call("tags.archive", ids, company_id=self.company_id, archived=True)
        except PleoError as exc:
            if isinstance(exc, FATAL_ERRORS):
                run.fatal = run.describe(exc)
            for action in chunk:
                run.failed(action, exc)
            return
        for action in chunk:
            run.succeeded(action, action.target.id)


def read_tags(group_id: uuid.UUID, page_size: int | None) -> Request[Sequence[TagModel]]:
    """Every tag of one group, archived ones included (every page)."""
    return pleo_call(
        "tags.list", group_id, include_archived=True, page_size=page_size, collect=True
    )


def read_tag_groups(company_id: uuid.UUID) -> Request[Sequence[TagGroupModel]]:
    """Every tag group of the company, archived ones included."""
    return pleo_call("tag_groups.list", company_id, include_archived=True, collect=True)


def apply_tags(
    run: ApplyRun,
    planned: TagSyncPlan,
    values: dict[str, list[DimensionValue]],
    *,
    company_id: uuid.UUID,
    page_size: int | None,
    force: bool,
) -> Steps[None]:
    """Step 2 (tag groups) then Step 3 (the tags of every group that is usable)."""
    run.start_apply(planned.plan)
    with run.timed(SyncPhase.APPLY):
        created_ids, unusable = yield from apply_tag_groups(run, planned.groups, company_id)
        units: list[Unit[TagUnit]] = []
        for binding in planned.bindings:
            tag_plan = planned.tags.get(binding.dimension_code)
            if tag_plan is None:
                continue
            folded = binding.group_code.casefold()
            group_id = binding.group_id or created_ids.get(folded)
            if group_id is None or folded in unusable:
                for action in tag_plan.actions:
                    run.failed(
                        action,
                        "tag group is not available (its create/unarchive failed)",
                        skipped=True,
                    )
                continue
            unit = TagUnit(attrs.evolve(binding, group_id=group_id), values[binding.dimension_code])
            units.append(Unit(unit, tag_plan, label=f"{binding.dimension_code!r}: "))
        kind = TagKind(company_id, page_size)
        yield from apply_units(run, kind, units, force=force)


def apply_tag_groups(
    run: ApplyRun, plan: Plan, company_id: uuid.UUID
) -> Steps[tuple[dict[str, uuid.UUID], set[str]]]:
    """Step 2: creates → unarchives/renames → archives of the groups.

    Returns the ids of the created groups and the (case-folded) codes of the groups that are
    not active afterwards, by code.
    """
    created_ids: dict[str, uuid.UUID] = {}
    unusable: set[str] = set()
    for action in plan.actions:
        folded = action.target.key.casefold()
        if action.kind is ActionKind.CREATE:
            group = yield from _create_group(run, action, company_id)
            if group is None:
                unusable.add(folded)
            else:
                created_ids[folded] = group.id
            continue
        update = pleo_call("tag_groups.update", _pleo_id(action), **request_fields(action.body))
        result = yield from run.write(action, update)
        if result is None and action.kind is ActionKind.UNARCHIVE:
            unusable.add(folded)
    return created_ids, unusable


def _create_group(
    run: ApplyRun, action: Action[TagGroupCreateModel], company_id: uuid.UUID
) -> Steps[TagGroupModel | None]:
    """Create one group; after an unclear failure re-read the groups before re-posting."""
    body = action.body
    post = pleo_call("tag_groups.create", company_id, **request_fields(body))
    group, error = yield from run.attempt(action, post)
    if error is None:
        return group
    if not is_uncertain(error) or run.fatal is not None:
        run.failed(action, error)
        return None
    run.report.replans += 1
    try:
        groups = yield from ask(read_tag_groups(company_id))
    except PleoError as exc:
        run.failed(action, exc)
        return None
    found = [g for g in groups if codes_match(g.code, body.code)]
    if not found:
        return (yield from run.write(action, post))
    existing = min(found, key=lambda g: (g.archived, g.created_at, g.id))
    if not existing.archived:
        run.succeeded(action, existing.id)
        return existing
    revived = TagGroupUpdateModel(
        archived=False,
        code=existing.code,
        metadata=dict(existing.metadata or {}),
        name=existing.name,
    )
    revive = pleo_call("tag_groups.update", existing.id, **request_fields(revived))
    return (yield from run.write(action, revive))

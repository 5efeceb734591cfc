"""The one plan-apply loop every sync shares; each object kind only supplies a :class:`SyncKind`.

Applying a plan is the same for tax codes, accounts and tags (tags rules 20–22, accounts rules
40–42):

1. send the creates; a create that meets a conflict (409) or an ambiguous failure (no
   response, 5xx) is *uncertain*: it may have reached Pleo, so it is never re-sent blindly;
2. if any create of a unit is uncertain, re-read Pleo for that unit, re-plan, and send once
   more only the creates that were uncertain and are still missing (a re-plan that would
   archive too much loses its archives, see :func:`guarded`);
3. send the updates/renames/unarchives, then the archives.

A *unit* is one plan with its context: the whole collection for tax codes and accounts, one
tag group's tags for tags. Everything that differs per kind — how to read Pleo, how to plan,
how to send a create, an update or an archive, and the matching key — is a small typed
:class:`SyncKind`. Syncing a new kind of object is one new subclass.

The engine talks to the run through :class:`ApplyRun` (the orchestrator's report keeper), so
it holds no report state of its own. It does no I/O either: a kind's ``read``, ``create`` and
``update`` return a :class:`~._sync_io.Request`, and every function here is a *steps*
generator (:data:`~._sync_io.Steps`) that yields those requests to a driver — blocking
(:func:`~._sync_io.drive`) or ``async`` (:func:`~._sync_io.drive_async`) — and receives their
results, or has their exception thrown in where a direct call would have raised.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Generic, Protocol, TypeVar

import attrs

from pleo_erp.client.errors import (
    AuthenticationError,
    Conflict,
    PermissionDenied,
    PleoConnectionError,
    PleoError,
    ReauthorizationRequired,
    ServerError,
)
from pleo_erp.domain.reconcile.plan import Action, ActionKind, Plan
from pleo_erp.orchestration._sync_io import Request, Steps, ask
from pleo_erp.orchestration.sync_report import SyncPhase, SyncReport

__all__ = [
    "AMBIGUOUS_ERRORS",
    "FATAL_ERRORS",
    "ApplyRun",
    "SyncKind",
    "Unit",
    "apply_plan",
    "apply_units",
    "guarded",
    "is_uncertain",
]

_T = TypeVar("_T")
ContextT = TypeVar("ContextT")
PleoT = TypeVar("PleoT")
CreateT = TypeVar("CreateT")
UpdateT = TypeVar("UpdateT")

#: After one of these every further write of the run would fail the same way.
FATAL_ERRORS: tuple[type[PleoError], ...] = (
    AuthenticationError,
    PermissionDenied,
    ReauthorizationRequired,
)
#: A create that failed like this may or may not have reached Pleo: re-read, never re-send.
AMBIGUOUS_ERRORS: tuple[type[PleoError], ...] = (PleoConnectionError, ServerError)


def is_uncertain(error: PleoError | None) -> bool:
    """Whether a failed create's outcome is unknown (a 409 or an ambiguous failure)."""
    return isinstance(error, (Conflict, *AMBIGUOUS_ERRORS))


class ApplyRun(Protocol):
    """What the engine needs from the orchestrator's run: send writes, record outcomes."""

    #: The report being filled.
    report: SyncReport
    #: Why every further write would fail (a refused credential), or ``None``.
    fatal: str | None

    def attempt(
        self, action: Action[Any], request: Request[_T]
    ) -> Steps[tuple[_T | None, PleoError | None]]:
        """Send one write; record a success, return a failure for the caller to classify."""

    def write(self, action: Action[Any], request: Request[_T]) -> Steps[_T | None]:
        """Send one write and record its outcome either way."""

    def succeeded(self, action: Action[Any], pleo_id: Any) -> None:
        """Record a successful write (``pleo_id``: the object's id, if known)."""

    def failed(
        self,
        action: Action[Any],
        error: BaseException | str,
        *,
        reasons: Iterable[str] = (),
        skipped: bool = False,
    ) -> None:
        """Record a failed (or, with ``skipped``, unsent) action."""

    def describe(self, error: BaseException) -> str:
        """A message for ``error`` that is safe to report."""

    def timed(self, phase: SyncPhase) -> AbstractContextManager[None]:
        """Add the block's duration to ``phase``'s timing."""

    def start_apply(self, plan: Plan) -> None:
        """Announce the apply phase of ``plan``."""


@attrs.define(frozen=True)
class Unit(Generic[ContextT]):
    """One plan to apply and the context its kind needs to send and re-plan it.

    ``label`` prefixes the messages about this unit (e.g. ``"'dept': "``).
    """

    context: ContextT
    plan: Plan
    label: str = ""


class SyncKind(abc.ABC, Generic[ContextT, PleoT, CreateT, UpdateT]):
    """How one kind of Pleo object is read, planned and written: the only per-kind sync code.

    Type parameters: the unit's context (e.g. the AS objects to plan from), the Pleo model read
    back, and the request models that create and update actions carry (``Action[CreateT]``,
    ``Action[UpdateT]``). ``read``, ``create`` and ``update`` do no I/O: they return the
    :class:`~._sync_io.Request` a driver performs. Override :meth:`create_all` to batch
    creates and :meth:`archive_all` to batch archives; by default each is sent on its own.
    """

    #: What the kind's objects are called in messages ("tags", "accounts" …).
    noun: str = "objects"

    @abc.abstractmethod
    def read(self, context: ContextT) -> Request[Sequence[PleoT]]:
        """The read of the Pleo objects of one unit (archived ones included)."""

    @abc.abstractmethod
    def plan(self, context: ContextT, pleo: Sequence[PleoT]) -> Plan:
        """Plan one unit from its context and the Pleo objects just read."""

    @abc.abstractmethod
    def create(self, context: ContextT, action: Action[CreateT]) -> Request[object]:
        """The request of one create (the ``id`` of Pleo's answer is recorded)."""

    @abc.abstractmethod
    def update(self, context: ContextT, action: Action[UpdateT]) -> Request[object]:
        """The request of one update, rename, unarchive or archive of ``action.target.id``."""

    def key(self, action: Action[Any]) -> str:
        """The matching key that identifies ``action``'s object across a re-plan."""
        return action.target.key

    def create_all(
        self,
        run: ApplyRun,
        context: ContextT,
        actions: Sequence[Action[CreateT]],
        *,
        final: bool,
    ) -> Steps[set[str]]:
        """Send creates; return the keys whose outcome is uncertain (never when ``final``)."""
        uncertain: set[str] = set()
        for action in actions:
            _, error = yield from run.attempt(action, self.create(context, action))
            if is_uncertain(error) and not final:
                uncertain.add(self.key(action))
            elif error is not None:
                run.failed(action, error)
        return uncertain

    def archive_all(
        self, run: ApplyRun, archives: Sequence[tuple[ContextT, Action[UpdateT]]]
    ) -> Steps[None]:
        """Send the archives of every unit (after all updates), one request each."""
        for context, action in archives:
            yield from run.write(action, self.update(context, action))


def guarded(run: ApplyRun, plan: Plan, force: bool) -> Plan:
    """A re-plan made mid-run, minus its archives if they would trip the safety rule.

    The first plan was checked before any write; a re-plan (after a create conflict) reflects
    a Pleo that changed under us, so it is checked again instead of raising mid-run.
    """
    if force or not plan.suspicious():
        return plan
    run.report.errors.append(
        "re-plan after a create conflict would archive too much "
        f"({'; '.join(str(g) for g in plan.suspicious())}); its archives were skipped"
    )
    return attrs.evolve(
        plan, actions=tuple(a for a in plan.actions if a.kind is not ActionKind.ARCHIVE)
    )


def apply_plan(
    run: ApplyRun,
    kind: SyncKind[ContextT, Any, Any, Any],
    context: ContextT,
    plan: Plan,
    *,
    force: bool,
) -> Steps[None]:
    """Apply one plan (a whole collection) and time it as the apply phase."""
    run.start_apply(plan)
    with run.timed(SyncPhase.APPLY):
        yield from apply_units(run, kind, [Unit(context, plan)], force=force)


def apply_units(
    run: ApplyRun,
    kind: SyncKind[ContextT, Any, Any, Any],
    units: Sequence[Unit[ContextT]],
    *,
    force: bool,
) -> Steps[None]:
    """Apply several plans of one kind: all creates, re-plans where needed, updates, archives."""
    uncertain: list[set[str]] = []
    for unit in units:
        creates = unit.plan.of_kind(ActionKind.CREATE)
        uncertain.append((yield from kind.create_all(run, unit.context, creates, final=False)))
    settled: list[tuple[ContextT, Plan]] = []
    for unit, keys in zip(units, uncertain, strict=True):
        plan = unit.plan if not keys else (yield from _replan(run, kind, unit, keys, force))
        if plan is not None:
            settled.append((unit.context, plan))
    archives: list[tuple[ContextT, Action[Any]]] = []
    for context, plan in settled:
        for action in plan.actions:
            if action.kind is ActionKind.ARCHIVE:
                archives.append((context, action))
            elif action.kind is not ActionKind.CREATE:
                yield from run.write(action, kind.update(context, action))
    if archives:
        yield from kind.archive_all(run, archives)


def _replan(
    run: ApplyRun,
    kind: SyncKind[ContextT, Any, Any, Any],
    unit: Unit[ContextT],
    keys: set[str],
    force: bool,
) -> Steps[Plan | None]:
    """Rules 22/42: re-read and re-plan a unit, re-send its still-missing uncertain creates.

    Returns the plan whose other writes are still to send, or ``None`` when the unit must stop
    (its re-read failed). An uncertain create that cannot be resolved is reported, not lost.
    """
    unresolved = [a for a in unit.plan.of_kind(ActionKind.CREATE) if kind.key(a) in keys]
    if run.fatal is not None:
        for action in unresolved:
            run.failed(action, f"outcome unknown, not re-sent: {run.fatal}", skipped=True)
        return unit.plan
    run.report.replans += 1
    try:
        fresh = kind.plan(unit.context, (yield from ask(kind.read(unit.context))))
    except PleoError as exc:
        message = f"re-reading {kind.noun} failed: {run.describe(exc)}"
        run.report.errors.append(f"{unit.label}{message}")
        for action in unresolved:
            run.failed(action, f"outcome unknown: {message}", skipped=True)
        return None
    plan = guarded(run, fresh, force)
    retry = [a for a in plan.of_kind(ActionKind.CREATE) if kind.key(a) in keys]
    yield from kind.create_all(run, unit.context, retry, final=True)
    return plan

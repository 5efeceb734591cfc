"""The shared plan-apply engine, driven by a toy object kind (tags rules 20–22, accounts 40–42).

``WidgetKind`` below is everything a new object kind needs: one ``SyncKind`` subclass (read,
plan, create, update). The engine supplies the rest — create → uncertain keys → re-read →
re-plan → updates → archives — and the report bookkeeping of the real sync runs.

The kind does no I/O: it names the calls (``pleo_call("create", body)``) and the engine's steps
yield them. Every test runs under both drivers (``drive`` and ``drive_async``): the blocking one
calls ``WidgetStore`` directly, the ``async`` one awaits ``AsyncWidgets``, its async facade.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest

from pleo_erp.client.errors import (
    AuthenticationError,
    BadRequest,
    Conflict,
    PleoConnectionError,
    PleoError,
    ServerError,
)
from pleo_erp.domain.reconcile.plan import (
    Action,
    ActionKind,
    ArchiveGuard,
    ObjectKind,
    Plan,
    Target,
    order_actions,
)
from pleo_erp.orchestration._sync_engine import SyncKind, Unit, apply_plan, apply_units
from pleo_erp.orchestration._sync_io import (
    AsyncIO,
    BlockingIO,
    Request,
    Steps,
    drive,
    drive_async,
    pleo_call,
)
from pleo_erp.orchestration.sync import _Run
from pleo_erp.orchestration.sync_report import SyncScope

COMPANY = uuid.UUID(int=1)


@attrs.define(frozen=True)
class WidgetBody:
    """The toy request model (what an ``Action[WidgetBody]`` carries)."""

    key: str
    name: str
    archived: bool = False


@attrs.define
class Widget:
    """The toy "Pleo" object."""

    id: uuid.UUID
    key: str
    name: str
    archived: bool = False


@attrs.define(slots=False)  # a test may replace one of its methods
class WidgetStore:
    """A fake Pleo collection whose writes can be made to fail once per key."""

    widgets: dict[str, Widget] = attrs.field(factory=dict)
    fail_create: dict[str, PleoError] = attrs.field(factory=dict)
    land_then_fail: set[str] = attrs.field(factory=set)  # created, but the answer is lost
    fail_read: PleoError | None = None
    sent: list[tuple[str, str]] = attrs.field(factory=list)
    reads: int = 0

    def add(self, key: str, name: str, archived: bool = False) -> Widget:
        widget = Widget(uuid.uuid4(), key, name, archived)
        self.widgets[key] = widget
        return widget

    # The "API" the kind's requests call.

    def read(self) -> list[Widget]:
        self.reads += 1
        if self.fail_read is not None:
            raise self.fail_read
        return list(self.widgets.values())

    def create(self, body: WidgetBody) -> Widget:
        self.sent.append(("create", body.key))
        error = self.fail_create.pop(body.key, None)
        if body.key in self.land_then_fail:
            self.land_then_fail.discard(body.key)
            self.add(body.key, body.name)
            raise PleoConnectionError("connection reset after the request was sent")
        if error is not None:
            raise error
        return self.add(body.key, body.name)

    def update(self, kind: str, body: WidgetBody) -> Widget:
        self.sent.append((kind, body.key))
        widget = self.widgets[body.key]
        widget.name, widget.archived = body.name, body.archived
        return widget


@attrs.define
class AsyncWidgets:
    """The store's ``async`` API: each call yields to the event loop, then asks the store."""

    store: WidgetStore

    async def read(self) -> list[Widget]:
        await asyncio.sleep(0)
        return self.store.read()

    async def create(self, body: WidgetBody) -> Widget:
        await asyncio.sleep(0)
        return self.store.create(body)

    async def update(self, kind: str, body: WidgetBody) -> Widget:
        await asyncio.sleep(0)
        return self.store.update(kind, body)


Driver = Callable[[Steps[Any], WidgetStore], Any]


@pytest.fixture(params=["sync", "async"])
def run_steps(request: pytest.FixtureRequest) -> Driver:
    """Drive the engine's steps against a store, blocking or with ``asyncio``."""
    if request.param == "sync":
        return lambda steps, store: drive(steps, BlockingIO(store))
    return lambda steps, store: asyncio.run(drive_async(steps, AsyncIO(AsyncWidgets(store))))


class WidgetKind(SyncKind[dict[str, str], Widget, WidgetBody, WidgetBody]):
    """A whole new object kind for the engine: desired ``{key: name}`` against the store."""

    noun = "widgets"

    def read(self, context: dict[str, str]) -> Request[Sequence[Widget]]:
        return pleo_call("read")

    def plan(self, context: dict[str, str], pleo: Sequence[Widget]) -> Plan:
        by_key = {w.key: w for w in pleo}
        actions: list[Action[WidgetBody]] = []
        for key, name in context.items():
            have = by_key.get(key)
            if have is None:
                target = Target(ObjectKind.TAG, key)
                actions.append(Action(ActionKind.CREATE, target, "new", WidgetBody(key, name)))
            elif have.name != name or have.archived:
                kind = ActionKind.UNARCHIVE if have.archived else ActionKind.UPDATE
                target = Target(ObjectKind.TAG, key, have.id)
                actions.append(Action(kind, target, "changed", WidgetBody(key, name)))
        active = [w for w in pleo if not w.archived]
        gone = [w for w in active if w.key not in context]
        for widget in gone:
            target = Target(ObjectKind.TAG, widget.key, widget.id)
            body = WidgetBody(widget.key, widget.name, archived=True)
            actions.append(Action(ActionKind.ARCHIVE, target, "gone", body))
        guard = ArchiveGuard("widgets", len(active), len(gone))
        return Plan(actions=order_actions(actions), guards=(guard,))

    def create(self, context: dict[str, str], action: Action[WidgetBody]) -> Request[object]:
        return pleo_call("create", action.body)

    def update(self, context: dict[str, str], action: Action[WidgetBody]) -> Request[object]:
        return pleo_call("update", action.kind.value, action.body)


def _run() -> _Run:
    client: Any = object()  # the engine never touches the client; the driver does
    return _Run(client, SyncScope.TAGS, COMPANY, dry_run=False, progress=None, lock_key="k")


def _plan(kind: WidgetKind, store: WidgetStore, desired: dict[str, str]) -> Plan:
    return kind.plan(desired, store.read())


def _apply(
    run_steps: Driver, store: WidgetStore, desired: dict[str, str], *, force: bool = False
) -> _Run:
    kind = WidgetKind()
    run = _run()
    run_steps(apply_plan(run, kind, desired, _plan(kind, store, desired), force=force), store)
    return run


def _conflict() -> Conflict:
    return Conflict("EXTERNAL_ID_ALREADY_EXISTS", status_code=409)


def test_a_new_kind_is_one_class_creates_updates_archives_in_order(run_steps: Driver) -> None:
    store = WidgetStore()
    store.add("a", "old")
    store.add("z", "zed")
    run = _apply(run_steps, store, {"a": "new", "b": "bee"})
    assert store.sent == [("create", "b"), ("update", "a"), ("archive", "z")]
    assert [a.action.target.key for a in run.report.applied] == ["b", "a", "z"]
    assert run.report.failures == []
    assert run.report.replans == 0
    assert store.widgets["z"].archived
    assert store.widgets["a"].name == "new"


def test_second_run_on_unchanged_inputs_sends_nothing(run_steps: Driver) -> None:  # tags rule 20
    store = WidgetStore()
    _apply(run_steps, store, {"a": "A", "b": "B"})
    store.sent.clear()
    run = _apply(run_steps, store, {"a": "A", "b": "B"})
    assert store.sent == []
    assert run.report.applied == []


def test_conflict_on_create_rereads_and_does_not_resend_what_exists(
    run_steps: Driver,
) -> None:  # rule 22
    store = WidgetStore()
    store.fail_create["b"] = _conflict()
    # Someone else created "b" meanwhile: the 409 is real, the re-plan finds it.
    original_create = store.create

    def create_then_appear(body: WidgetBody) -> Widget:
        try:
            return original_create(body)
        except Conflict:
            store.add("b", "bee")
            raise

    store.create = create_then_appear  # type: ignore[method-assign]
    kind = WidgetKind()
    run = _run()
    desired = {"b": "bee"}
    run_steps(apply_plan(run, kind, desired, _plan(kind, store, desired), force=False), store)
    assert store.sent == [("create", "b")]  # not re-posted
    assert run.report.replans == 1
    assert store.reads == 2
    assert run.report.failures == []


def test_ambiguous_create_that_landed_is_not_duplicated(run_steps: Driver) -> None:
    # tags rule 22 / accounts rule 42
    store = WidgetStore(land_then_fail={"b"})
    run = _apply(run_steps, store, {"b": "bee", "c": "sea"})
    assert store.sent == [("create", "b"), ("create", "c")]
    assert len([w for w in store.widgets.values() if w.key == "b"]) == 1
    assert run.report.replans == 1
    assert run.report.failures == []


def test_ambiguous_create_that_did_not_land_is_sent_once_more(run_steps: Driver) -> None:
    store = WidgetStore(fail_create={"b": ServerError("boom", status_code=503)})
    run = _apply(run_steps, store, {"b": "bee"})
    assert store.sent == [("create", "b"), ("create", "b")]
    assert [a.action.target.key for a in run.report.applied] == ["b"]
    assert run.report.failures == []


def test_a_refused_create_is_reported_and_never_resent_by_a_replan(run_steps: Driver) -> None:
    store = WidgetStore(
        fail_create={
            "bad": BadRequest("name too long", status_code=400),
            "b": _conflict(),
        }
    )
    run = _apply(run_steps, store, {"bad": "x", "b": "bee"})
    # "b" is re-planned and re-sent; "bad" is still missing after the re-plan but was refused.
    assert store.sent.count(("create", "bad")) == 1
    assert store.sent.count(("create", "b")) == 2
    assert [f.action.target.key for f in run.report.failures] == ["bad"]
    assert run.report.failures[0].status_code == 400


def test_a_second_uncertain_failure_is_final(run_steps: Driver) -> None:
    store = WidgetStore(fail_create={"b": _conflict()})
    kind = WidgetKind()
    desired = {"b": "bee"}
    plan = _plan(kind, store, desired)
    store.fail_create["b"] = _conflict()
    run = _run()

    def always_conflict(body: WidgetBody) -> Widget:
        store.sent.append(("create", body.key))
        raise _conflict()

    store.create = always_conflict  # type: ignore[method-assign]
    run_steps(apply_plan(run, kind, desired, plan, force=False), store)
    assert store.sent == [("create", "b"), ("create", "b")]  # once, then once after re-plan
    assert [f.action.target.key for f in run.report.failures] == ["b"]


def test_failed_reread_reports_the_unit_and_sends_nothing_more_for_it(run_steps: Driver) -> None:
    store = WidgetStore(fail_create={"b": _conflict()})
    store.add("a", "old")
    kind = WidgetKind()
    desired = {"a": "new", "b": "bee"}
    plan = _plan(kind, store, desired)
    store.fail_read = ServerError("down", status_code=503)
    run = _run()
    run_steps(apply_units(run, kind, [Unit(desired, plan, label="'unit': ")], force=False), store)
    assert store.sent == [("create", "b")]  # the update of "a" is not sent on a stale plan
    assert run.report.errors == ["'unit': re-reading widgets failed: HTTP 503: down"]
    [failure] = run.report.failures
    assert failure.action.target.key == "b"
    assert failure.skipped
    assert "outcome unknown" in failure.message


def test_after_a_fatal_error_uncertain_creates_are_reported_not_resent(run_steps: Driver) -> None:
    store = WidgetStore(
        fail_create={"b": _conflict(), "c": AuthenticationError("expired", status_code=401)}
    )
    store.add("a", "old")
    run = _apply(run_steps, store, {"a": "new", "b": "bee", "c": "sea"})
    assert store.sent == [("create", "b"), ("create", "c")]
    assert store.reads == 1  # no re-read with a refused credential
    by_key = {f.action.target.key: f for f in run.report.failures}
    assert set(by_key) == {"a", "b", "c"}
    assert by_key["b"].skipped
    assert "not re-sent" in by_key["b"].message
    assert by_key["a"].skipped
    assert by_key["a"].message.startswith("not sent")


def test_a_replan_that_would_mass_archive_loses_its_archives(run_steps: Driver) -> None:
    store = WidgetStore(fail_create={"new": _conflict()})
    for key in "pqr":
        store.add(key, key)
    kind = WidgetKind()
    desired = {"p": "p", "q": "q", "r": "r", "new": "n"}
    plan = _plan(kind, store, desired)
    # Between plan and re-plan the source shrank: the re-plan would archive 2 of 3.
    desired.pop("p")
    desired.pop("q")
    run = _run()
    run_steps(apply_plan(run, kind, desired, plan, force=False), store)
    assert ("archive", "p") not in store.sent
    assert ("archive", "q") not in store.sent
    assert any("archive too much" in e for e in run.report.errors)


def test_units_are_applied_creates_first_then_updates_then_archives(run_steps: Driver) -> None:
    one, two = WidgetStore(), WidgetStore()
    one.add("x", "x")
    two.add("y", "old")
    shared = WidgetStore()  # what the writes of both units reach

    class Shared(WidgetKind):
        """One kind, several units (like one tag group each)."""

        def archive_all(
            self, run: Any, archives: Sequence[tuple[dict[str, str], Action[WidgetBody]]]
        ) -> Steps[None]:
            shared.sent.append(("archive-batch", ",".join(a.target.key for _, a in archives)))
            yield from ()

    kind = Shared()
    shared.add("y", "old")
    units = [
        Unit({"a": "A"}, WidgetKind().plan({"a": "A"}, list(one.widgets.values()))),
        Unit({"y": "new"}, WidgetKind().plan({"y": "new"}, list(two.widgets.values()))),
    ]
    run_steps(apply_units(_run(), kind, units, force=False), shared)
    sent = shared.sent
    assert sent == [("create", "a"), ("update", "y"), ("archive-batch", "x")]


@pytest.mark.parametrize("kind_name", ["TaxCodeKind", "AccountKind", "TagKind"])
def test_every_real_kind_is_a_sync_kind(kind_name: str) -> None:
    from pleo_erp.orchestration import _sync_kinds

    assert issubclass(getattr(_sync_kinds, kind_name), SyncKind)

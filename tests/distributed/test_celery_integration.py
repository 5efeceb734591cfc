"""The Celery adapter: task registration, settings, retry policy, a held lease not retried.

Tasks run eagerly (``task.apply``) against a real SQLite runtime state, so the run goes
through ``run_level`` and the lease exactly as on a worker; a real worker against Redis runs
in ``test_cli_distributed.py`` and in the chaos test.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

celery = pytest.importorskip("celery")

from pleo_erp.client.errors import BadRequest, ServerError  # noqa: E402
from pleo_erp.contrib.celery import (  # noqa: E402
    EXPORT_QUEUE,
    RECOMMENDED_SETTINGS,
    RUN_LEVEL_TASK,
    SYNC_QUEUE,
    TICK_QUEUE,
    TICK_TASK,
    backoff,
    enqueue_run,
    install,
    is_transient,
    queue_for,
)
from pleo_erp.orchestration.schedule import ScheduledLevel  # noqa: E402
from pleo_erp.runtime.run import lease_key  # noqa: E402
from pleo_erp.runtime.state import open_state  # noqa: E402
from pleo_erp.runtime.stores import Connection, RuntimeState  # noqa: E402


class _Factory:
    """Counts builds; raises ``error`` instead of building."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.builds = 0

    def build(self, connection: Connection) -> Any:
        self.builds += 1
        raise self.error


@pytest.fixture
def state(tmp_path: Path) -> Any:
    with open_state(tmp_path / "state.db") as opened:
        yield opened


def _connect(state: RuntimeState) -> Connection:
    connection = Connection(
        company_id=uuid4(),
        auth_kind="api_key",
        token_key="api-key",
        adapter="test",
        levels=(ScheduledLevel.EXPORT,),
        created_at=datetime.now(timezone.utc),
    )
    state.registry.add(connection)
    return connection


def _app() -> Any:
    app = celery.Celery("test", broker="memory://")
    app.conf.task_always_eager = False
    return app


def test_install_registers_the_tasks_and_applies_the_recommended_settings(state: Any) -> None:
    app = _app()
    beat = install(app, _Factory(RuntimeError()), state, tick_every=15)
    assert {RUN_LEVEL_TASK, TICK_TASK} <= set(app.tasks)
    assert beat == {
        "task": TICK_TASK,
        "schedule": 15,
        "options": {"queue": TICK_QUEUE, "expires": 15},
    }
    run_level = app.tasks[RUN_LEVEL_TASK]
    assert run_level.acks_late is True
    assert run_level.reject_on_worker_lost is True
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility > app.conf.task_time_limit  # a redelivery never beats a live run
    assert app.conf.task_routes[TICK_TASK] == {"queue": TICK_QUEUE}
    assert RECOMMENDED_SETTINGS["task_ignore_result"] is True


def test_configure_false_leaves_the_vendor_settings_alone(state: Any) -> None:
    app = _app()
    app.conf.worker_prefetch_multiplier = 7
    install(app, _Factory(RuntimeError()), state, configure=False)
    assert app.conf.worker_prefetch_multiplier == 7


def test_queues_per_level_and_transient_classification() -> None:
    assert queue_for(ScheduledLevel.EXPORT) == EXPORT_QUEUE
    assert queue_for("tags") == SYNC_QUEUE
    assert queue_for(ScheduledLevel.CHART_OF_ACCOUNTS) == SYNC_QUEUE
    assert is_transient(ServerError("boom", status_code=503))
    assert not is_transient(BadRequest("bad", status_code=400))
    assert not is_transient(ValueError("a bug"))
    assert not is_transient(None)
    assert all(0 <= backoff(n) <= min(600, 5 * 2**n) for n in range(12))


def test_a_held_lease_ends_busy_without_retry_or_run(state: Any) -> None:
    app = _app()
    factory = _Factory(ServerError("never built", status_code=500))
    install(app, factory, state, max_retries=3)
    connection = _connect(state)
    held = state.leases.acquire(lease_key(connection.company_id), "other:1:abcd", ttl=60)
    assert held is not None
    result = app.tasks[RUN_LEVEL_TASK].apply(args=(str(connection.company_id), "export"))
    assert result.get() == "busy"
    assert factory.builds == 0


def test_a_transient_failure_is_retried_with_backoff_then_left_to_the_schedule(
    state: Any,
) -> None:
    app = _app()
    factory = _Factory(ServerError("Pleo is down", status_code=503))
    install(app, factory, state, max_retries=2)
    connection = _connect(state)
    result = app.tasks[RUN_LEVEL_TASK].apply(args=(str(connection.company_id), "export"))
    assert result.get() == "failed"
    assert factory.builds == 3  # the first try + 2 retries
    [row] = state.schedule.rows(connection.company_id)
    assert row.last_outcome == "failed"


def test_a_permanent_failure_is_not_retried(state: Any) -> None:
    app = _app()
    factory = _Factory(BadRequest("rejected", status_code=400))
    install(app, factory, state, max_retries=3)
    connection = _connect(state)
    result = app.tasks[RUN_LEVEL_TASK].apply(args=(str(connection.company_id), "export"))
    assert result.get() == "failed"
    assert factory.builds == 1


def test_tick_enqueues_due_rows_on_their_level_queues(state: Any) -> None:
    app = _app()
    install(app, _Factory(RuntimeError()), state)
    sent: list[tuple[str, tuple[Any, ...], str]] = []
    app.send_task = lambda name, args, queue: sent.append((name, tuple(args), queue))
    connection = _connect(state)
    assert app.tasks[TICK_TASK].apply().get() == 1
    assert sent == [
        (RUN_LEVEL_TASK, (str(connection.company_id), "export", "schedule"), EXPORT_QUEUE)
    ]
    assert app.tasks[TICK_TASK].apply().get() == 0  # claimed: not due again until its cadence
    enqueue_run(app, connection.company_id, "tags", "webhook")
    assert sent[-1] == (RUN_LEVEL_TASK, (str(connection.company_id), "tags", "webhook"), SYNC_QUEUE)

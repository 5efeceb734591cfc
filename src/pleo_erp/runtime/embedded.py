"""The embedded runtime: scheduler, webhook receiver and workers in one process, on SQLite.

``pleo-erp serve`` runs this. Nothing to install or operate: the state is one SQLite file
(:func:`~pleo_erp.runtime.sqlite.open_sqlite_state`), the queue is in memory, the workers are
threads. It serves a few hundred companies on one machine (``docs/operate-at-scale.md``);
beyond that the same stores and ``run_level`` run on Postgres and Celery.

* **scheduler** thread: every ``tick_interval`` seconds :func:`~pleo_erp.runtime.tick.tick`
  claims the due rows and enqueues them; once an hour the webhook inbox is pruned.
* **workers**: ``workers`` threads take triggers from the in-memory queue and call
  :func:`~pleo_erp.runtime.run.run_level`. A trigger already waiting in the queue for the same
  company and level is not queued twice, and a trigger for a company that is running here
  waits for that run to end (it would only find the lease held) and is dropped if the run
  covered its level.
* **webhook receiver** (optional): :class:`~pleo_erp.runtime.webhooks.RuntimeWebhookReceiver`
  on a threaded HTTP server; it answers at once and enqueues the export.

:meth:`EmbeddedRuntime.stop` drains: it stops taking new work, lets running levels finish and
hands triggers still waiting in the queue back to the schedule (due now), so nothing is lost
across a restart. Without threads, :meth:`EmbeddedRuntime.run_pending` ticks and works the
queue in the calling thread (tests, cron).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import ThreadingHTTPServer
from uuid import UUID

import attrs

from pleo_erp.client.webhooks import WebhookVerifier
from pleo_erp.orchestration.schedule import ScheduledLevel
from pleo_erp.runtime.factory import ConnectionFactory
from pleo_erp.runtime.http import make_webhook_server
from pleo_erp.runtime.run import LevelResult, RuntimeConfig, recover_interrupted, run_level
from pleo_erp.runtime.stores import RunOutcome, RuntimeState
from pleo_erp.runtime.tick import DEFAULT_STALE_CLAIM, DEFAULT_TICK_LIMIT, TickResult, tick
from pleo_erp.runtime.webhooks import DEFAULT_WEBHOOK_PATH, RuntimeWebhookReceiver
from pleo_erp.state.lease import new_owner

__all__ = ["EmbeddedRuntime", "WebhookListener"]

logger = logging.getLogger("pleo_erp.runtime")

_Job = tuple[UUID, ScheduledLevel, str]

INBOX_RETENTION = timedelta(days=7)
"""How long webhook ids are remembered (Pleo's redeliveries come within hours)."""


@attrs.frozen(kw_only=True)
class WebhookListener:
    """Where and how the embedded runtime receives webhooks.

    Attributes:
        verifier: checks each delivery (e.g. ``StandardWebhookVerifier(whsec_secret)``).
        host / port: bind address (default loopback; port 0 picks a free one).
        path: the delivery path.
    """

    verifier: WebhookVerifier
    host: str = "127.0.0.1"
    port: int = 8080
    path: str = DEFAULT_WEBHOOK_PATH


class EmbeddedRuntime:
    """Scheduler + workers (+ webhook receiver) over one :class:`RuntimeState`.

    Args:
        state: the stores (usually ``open_state("state.db")``).
        factory: builds each connection's client and adapter.
        workers: worker threads (runs of different companies in parallel; one per company).
        tick_interval: seconds between scheduler ticks.
        tick_limit: rows claimed per tick at most.
        config: run behaviour (cadence defaults, lease ttl, clocks).
        webhook: receive export webhooks (``None``: polling only).
        stale_after: claims not started within this long are due again.
        on_result: called in the worker thread with each :class:`LevelResult`.
    """

    def __init__(
        self,
        state: RuntimeState,
        factory: ConnectionFactory,
        *,
        workers: int = 4,
        tick_interval: float = 5.0,
        tick_limit: int = DEFAULT_TICK_LIMIT,
        config: RuntimeConfig | None = None,
        webhook: WebhookListener | None = None,
        stale_after: timedelta = DEFAULT_STALE_CLAIM,
        on_result: Callable[[LevelResult], None] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if tick_interval <= 0:
            raise ValueError("tick_interval must be positive")
        self.state = state
        self.factory = factory
        self.workers = workers
        self.tick_interval = tick_interval
        self.tick_limit = tick_limit
        self.config = config if config is not None else RuntimeConfig()
        self.stale_after = stale_after
        self.on_result = on_result
        self.owner_prefix = new_owner()
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._queued: set[tuple[UUID, ScheduledLevel]] = set()
        # Companies with a run in flight here, and triggers waiting for that run to end:
        # a second worker would only find the lease held ("busy") and spin on it.
        self._active: set[UUID] = set()
        self._parked: dict[UUID, list[tuple[_Job, datetime]]] = {}
        self._lock = threading.Condition()
        self._running = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._stopped = False
        self._last_prune = float("-inf")
        self.outcomes: Counter[str] = Counter()
        """How many runs ended with each outcome (``"ok"``, ``"busy"`` …)."""
        self.ticks = 0
        """How many ticks ran."""
        self.receiver: RuntimeWebhookReceiver | None = None
        self.server: ThreadingHTTPServer | None = None
        if webhook is not None:
            self.receiver = RuntimeWebhookReceiver(
                webhook.verifier,
                inbox=state.inbox,
                schedule=state.schedule,
                enqueue=self.enqueue,
                registry=state.registry,
                path=webhook.path,
                clock=self.config.clock,
            )
            self.server = make_webhook_server(self.receiver, webhook.host, webhook.port)

    # ---- public API -------------------------------------------------------------------------

    @property
    def webhook_url(self) -> str | None:
        """The receiver's URL once bound (``None`` without a webhook listener)."""
        if self.server is None or self.receiver is None:
            return None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{self.receiver.path}"

    def start(self) -> None:
        """Start the workers, the scheduler and the webhook receiver (returns at once)."""
        if self._started:
            raise RuntimeError("the runtime was already started")
        self._started = True
        recovered = recover_interrupted(self.state)
        if recovered:
            logger.warning("%d levels interrupted by a previous stop are due again", recovered)
        for number in range(self.workers):
            self._spawn(self._work, f"pleo-worker-{number}")
        self._spawn(self._schedule_loop, "pleo-scheduler")
        if self.server is not None:
            self._spawn(self.server.serve_forever, "pleo-webhooks")
            logger.info("receiving webhooks on %s", self.webhook_url)
        logger.info(
            "runtime started: %d workers, tick every %ss, state %s",
            self.workers,
            self.tick_interval,
            self.state.location,
        )

    def enqueue(self, company_id: UUID, level: ScheduledLevel, trigger: str) -> None:
        """Queue a run of ``level`` for ``company_id`` (collapsed if one is already waiting)."""
        if self._stopping.is_set():
            raise RuntimeError("the runtime is stopping")
        key = (company_id, ScheduledLevel(level))
        with self._lock:
            if key in self._queued:
                return
            self._queued.add(key)
        self._queue.put((company_id, ScheduledLevel(level), trigger))

    def tick_once(self, now: datetime | None = None) -> TickResult:
        """One scheduler tick: claim due rows and queue them (also prunes the inbox hourly)."""
        result = tick(
            self.state.schedule,
            self.enqueue,
            limit=self.tick_limit,
            now=now,
            stale_after=self.stale_after,
        )
        self.ticks += 1
        monotonic = time.monotonic()
        if monotonic - self._last_prune >= 3600:
            self._last_prune = monotonic
            pruned = self.state.inbox.prune(INBOX_RETENTION)
            if pruned:
                logger.info("forgot %d webhook ids older than %s", pruned, INBOX_RETENTION)
        return result

    def run_pending(self, now: datetime | None = None) -> list[LevelResult]:
        """Without threads: tick once, then run every queued trigger in this thread."""
        self.tick_once(now)
        return [self._run(job) for job in self._take_queued()]

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the queue is empty and no run is in flight; ``False`` on timeout."""
        with self._lock:
            return self._lock.wait_for(
                lambda: not self._queued and self._running == 0, timeout=timeout
            )

    def stop(self, timeout: float | None = 60.0) -> None:
        """Stop taking work, finish running levels, give queued triggers back to the schedule.

        ``timeout`` bounds the wait for running levels (their lease expires if the process
        exits before they finish; the next holder resumes the work).
        """
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        if self.server is not None:
            if self._started:
                self.server.shutdown()
            self.server.server_close()
        returned = self._give_back()
        for _ in range(self.workers):
            self._queue.put(None)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        with self._lock:
            leftovers = [job for jobs in self._parked.values() for job, _ in jobs]
            self._parked.clear()
        for job in leftovers:
            self._hand_back(job)
        returned += len(leftovers)
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            logger.warning("stopped with runs still in flight: %s", ", ".join(alive))
        logger.info(
            "runtime stopped after %d ticks; %d queued triggers handed back to the schedule",
            self.ticks,
            returned,
        )

    def __enter__(self) -> EmbeddedRuntime:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- internals --------------------------------------------------------------------------

    def _spawn(self, target: Callable[[], object], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _schedule_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick_once()
            except Exception:  # the state store hiccuped; the next tick retries
                logger.exception("scheduler tick failed")
            self._stopping.wait(self.tick_interval)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._stopping.is_set():
                if job is not None:
                    self._hand_back(job)
                return
            if self._begin(job):
                self._run(job)

    def _begin(self, job: _Job) -> bool:
        """Take the company for this worker, or park the job until its run here ends."""
        company = job[0]
        with self._lock:
            if company in self._active:
                self._parked.setdefault(company, []).append((job, self.config.clock()))
                return False
            self._active.add(company)
            return True

    def _end(self, company: UUID, results: list[LevelResult]) -> None:
        """Release the company; requeue parked triggers the finished run did not cover."""
        with self._lock:
            self._active.discard(company)
            parked = self._parked.pop(company, [])
        for job, parked_at in parked:
            level = job[1]
            covered = any(
                r.level is level
                and r.outcome not in (RunOutcome.BUSY, RunOutcome.SKIPPED)
                and r.started_at >= parked_at
                for r in results
            )
            if covered:
                with self._lock:
                    self._queued.discard((company, level))
                    self._lock.notify_all()
            elif self._stopping.is_set():
                self._hand_back(job)
            else:
                self._queue.put(job)

    def _run(self, job: _Job) -> LevelResult:
        company, level, trigger = job
        with self._lock:
            self._active.add(company)
            self._queued.discard((company, level))
            self._running += 1
        results: list[LevelResult] = []
        try:
            result = run_level(
                company,
                level,
                trigger,
                state=self.state,
                factory=self.factory,
                config=self.config,
                owner=f"{self.owner_prefix}:{threading.get_ident()}",
            )
            results = [result, *result.followups]
            for each in results:
                self.outcomes[each.outcome.value] += 1
            if self.on_result is not None:
                try:
                    self.on_result(result)
                except Exception:
                    logger.exception("on_result failed")
            return result
        except Exception:  # run_level reports failures itself; this is a store outage
            logger.exception("run of %s for company %s crashed", level.value, company)
            self.outcomes["crashed"] += 1
            self._hand_back(job)
            now = self.config.clock()
            return LevelResult(
                company_id=company,
                level=level,
                trigger=trigger,
                outcome=RunOutcome.FAILED,
                started_at=now,
                finished_at=now,
                message="the runtime's state store failed",
            )
        finally:
            self._end(company, results)
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    def _hand_back(self, job: _Job) -> None:
        company, level, _ = job
        try:
            self.state.schedule.mark_due(company, level)
        except Exception:
            logger.exception("could not hand %s of company %s back", level.value, company)
        with self._lock:
            self._queued.discard((company, level))
            self._lock.notify_all()

    def _give_back(self) -> int:
        returned = 0
        for job in self._take_queued():
            self._hand_back(job)
            returned += 1
        return returned

    def _take_queued(self) -> Iterator[_Job]:
        """Take the queued jobs one at a time, without waiting (wake-up ``None`` skipped)."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                yield job

"""``pleo-erp worker`` and ``pleo-erp scheduler``: the distributed runtime on Celery + Postgres.

``worker`` runs a Celery worker (thread pool) with the runtime's tasks registered by
:func:`pleo_erp.contrib.celery.install` and the reference Beancount connection factory;
``scheduler`` runs Celery beat, which sends the ``tick`` task every ``--tick-interval`` seconds.
Both need ``--state postgresql://…`` (the shared state; SQLite is for ``serve`` on one
machine) and ``--broker redis://…``. Run as many workers as you like, on as many machines;
running two schedulers is harmless (a due row is claimed by one tick only).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from pleo_erp.cli._context import Context
from pleo_erp.cli._errors import ConfigError, ExitCode, UsageError
from pleo_erp.cli._runtime import BeancountConnectionFactory, _open, _state_location, _url_password
from pleo_erp.runtime.state import redact_url

__all__ = ["celery_app", "cmd_scheduler", "cmd_worker"]

logger = logging.getLogger("pleo_erp.cli")

ALL_QUEUES = "pleo.export,pleo.sync,pleo.tick"


def _broker(ctx: Context) -> str:
    broker = getattr(ctx.args, "broker", None) or ctx.env.get("PLEO_BROKER", "").strip()
    if not broker:
        raise UsageError("give the broker: --broker redis://host:6379/0 (or PLEO_BROKER)")
    if not broker.startswith(("redis://", "rediss://")):
        raise UsageError(f"--broker must be a redis:// URL, not {redact_url(broker)}")
    ctx.out.add_secret(*_url_password(broker))
    return str(broker)


def _require_postgres(ctx: Context) -> None:
    location = _state_location(ctx)
    if not location.startswith(("postgresql://", "postgres://")):
        raise UsageError(
            "the distributed runtime needs a shared state: --state postgresql://… "
            "(or PLEO_STATE); for one machine use `pleo-erp serve`"
        )


def celery_app(ctx: Context, *, tick_interval: float = 30.0) -> tuple[Any, Any]:
    """A Celery app with the runtime installed, and the opened state (closed by the caller)."""
    _require_postgres(ctx)
    broker = _broker(ctx)
    try:
        from celery import Celery

        from pleo_erp.contrib.celery import install
    except ImportError:
        raise ConfigError(
            "the worker and scheduler need Celery", hint='pip install "pleo-erp[celery,postgres]"'
        ) from None
    state = _open(ctx)
    app = Celery("pleo-erp", broker=broker)
    beat = install(app, BeancountConnectionFactory(ctx, state), state, tick_every=tick_interval)
    app.conf.beat_schedule = {"pleo-erp-tick": beat}
    app.conf.worker_hijack_root_logger = False
    return app, state


def _log_level(ctx: Context) -> str:
    return "INFO" if getattr(ctx.args, "verbose", False) else "WARNING"


def cmd_worker(ctx: Context) -> int:
    """Run a Celery worker for the runtime's tasks until SIGTERM (warm shutdown)."""
    args = ctx.args
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    app, state = celery_app(ctx)
    queues = args.queues or ALL_QUEUES
    argv = [
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(args.concurrency),
        "--queues",
        queues,
        "--loglevel",
        _log_level(ctx),
        "--without-gossip",
        "--without-mingle",
    ]
    if args.name:
        argv += ["--hostname", args.name]
    logger.info("worker on %s, state %s", queues, redact_url(state.location))
    try:
        app.worker_main(argv)
    finally:
        state.close()
    return int(ExitCode.OK)


def cmd_scheduler(ctx: Context) -> int:
    """Run Celery beat: send the ``tick`` task every ``--tick-interval`` seconds."""
    args = ctx.args
    if args.tick_interval <= 0:
        raise UsageError("--tick-interval must be positive")
    app, state = celery_app(ctx, tick_interval=args.tick_interval)
    state.close()  # beat only sends messages; the ticks run on the workers
    schedule = args.schedule_file or str(
        Path(tempfile.gettempdir()) / f"pleo-erp-beat-{os.getpid()}"
    )
    from celery.apps.beat import Beat

    Beat(app=app, schedule=schedule, loglevel=_log_level(ctx), quiet=True).run()
    return int(ExitCode.OK)

"""A small Pleo webhook receiver that starts the export when a job is created.

Standard library HTTP server plus ``pleo_erp.client.webhooks``, following DESIGN decisions 10
and 13:

- binds to 127.0.0.1 unless told otherwise (put a TLS-terminating proxy in front of it);
- verifies the Standard Webhooks signature over the raw body *before* parsing anything;
- rejects stale or future timestamps (5 minutes) and replays (``webhook-id`` seen before);
- answers fast — 202 once the event is accepted — and exports in a background worker;
- treats the event as a trigger only: ``export_expenses`` polls the company's whole queue.

Run ``python examples/webhook_receiver/receiver.py --demo`` for an offline demonstration
against the sandbox, or see ``--help`` for a real setup.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import queue
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pleo_erp.client.webhooks import (
    ExportJobCreatedEvent,
    ReplayGuard,
    StandardWebhookVerifier,
    WebhookPayloadError,
    WebhookReplayError,
    WebhookVerificationError,
    verify_and_parse,
)

logger = logging.getLogger("webhook_receiver")

DEFAULT_PATH = "/webhooks/pleo"
MAX_BODY_BYTES = 64 * 1024  # an export-job event is about 1 KiB
TOLERANCE = timedelta(minutes=5)

ExportRun = Callable[[uuid.UUID], object]


class ExportWorker:
    """One background thread running ``run(company_id)``; repeated triggers collapse.

    A company already waiting in the queue is not queued again: the export drains the whole
    queue, so one run covers every job created meanwhile.
    """

    def __init__(self, run: ExportRun) -> None:
        self._run = run
        self._queue: queue.Queue[uuid.UUID | None] = queue.Queue()
        self._waiting: set[uuid.UUID] = set()
        self._lock = threading.Lock()
        self.completed: list[tuple[uuid.UUID, object]] = []
        self.failures: list[tuple[uuid.UUID, BaseException]] = []
        self._thread = threading.Thread(target=self._work, name="pleo-export", daemon=True)
        self._thread.start()

    def submit(self, company_id: uuid.UUID) -> bool:
        """Queue an export of ``company_id``; ``False`` if one is already waiting."""
        with self._lock:
            if company_id in self._waiting:
                return False
            self._waiting.add(company_id)
        self._queue.put(company_id)
        return True

    def _work(self) -> None:
        while True:
            company_id = self._queue.get()
            try:
                if company_id is None:
                    return
                with self._lock:
                    self._waiting.discard(company_id)
                try:
                    self.completed.append((company_id, self._run(company_id)))
                except Exception as error:  # one failed run must not stop the worker
                    logger.exception("export for company %s failed", company_id)
                    self.failures.append((company_id, error))
            finally:
                self._queue.task_done()

    def join(self) -> None:
        """Wait until every queued export has run (for tests and shutdown)."""
        self._queue.join()

    def stop(self) -> None:
        """Finish queued work, then end the thread."""
        self._queue.put(None)
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != self.server.path:
            self._answer(404, {"error": "not found"})
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._answer(411, {"error": "Content-Length required"})
            return
        if int(length) > MAX_BODY_BYTES:
            self._answer(413, {"error": "body too large"})
            return
        body = self.rfile.read(int(length))
        headers: Mapping[str, str] = dict(self.headers.items())
        verifier = self.server.verifier
        if verifier is None:
            self._answer(503, {"error": "receiver not configured yet"})
            return
        try:
            # Signature first: nothing from an unauthenticated body is parsed or trusted.
            event = verify_and_parse(headers, body, verifier, replay_guard=self.server.replay_guard)
        except WebhookReplayError:
            # Already accepted once: say "fine" so Pleo stops retrying, do nothing twice.
            self._answer(200, {"status": "duplicate"})
            return
        except WebhookVerificationError as error:
            logger.warning("rejected a webhook delivery: %s", error)
            self._answer(401, {"error": "invalid signature"})
            return
        except WebhookPayloadError:
            self._answer(400, {"error": "unexpected payload"})
            return
        if isinstance(event, ExportJobCreatedEvent):
            queued = self.server.worker.submit(event.company_id)
            self._answer(202, {"status": "queued" if queued else "already queued"})
        else:
            self._answer(202, {"status": "ignored", "eventType": event.event_type})

    def do_GET(self) -> None:
        self._answer(405, {"error": "POST webhook deliveries here"})

    def _answer(self, status: int, body: Mapping[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)


class WebhookServer(ThreadingHTTPServer):
    """The HTTP server plus what the handler needs: verifier, replay guard, worker, path."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        secret: str | None,
        run_export: ExportRun,
        path: str = DEFAULT_PATH,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self.verifier: StandardWebhookVerifier | None = None
        if secret is not None:
            self.set_secret(secret)
        self.replay_guard = ReplayGuard(clock=self._clock)
        self.worker = ExportWorker(run_export)
        self.path = path

    def set_secret(self, secret: str) -> None:
        """Start accepting deliveries signed with ``secret`` (the subscription's ``whsec_…``).

        Until a secret is set every delivery gets 503, so Pleo retries it later: this lets
        the receiver listen first and subscribe (which reveals the secret) second.
        """
        self.verifier = StandardWebhookVerifier(secret, tolerance=TOLERANCE, clock=self._clock)

    @property
    def url(self) -> str:
        """Where to subscribe: ``http://host:port/path``."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"


@contextlib.contextmanager
def serve_receiver(
    secret: str | None,
    run_export: ExportRun,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    path: str = DEFAULT_PATH,
    clock: Callable[[], datetime] | None = None,
) -> Iterator[WebhookServer]:
    """Run a receiver in a background thread for the ``with`` block (port 0: a free one).

    ``secret`` ``None`` starts it unconfigured (503 to every delivery) until
    :meth:`WebhookServer.set_secret`.
    """
    server = WebhookServer(
        (host, port), secret=secret, run_export=run_export, path=path, clock=clock
    )
    # A short poll interval keeps shutdown() quick; the loop itself is idle-cheap.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="webhook-receiver", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        server.worker.stop()
        thread.join()


# ---------------------------------------------------------------------------------- CLI


def _demo() -> int:
    """Offline: a served sandbox delivers a real signed webhook to this receiver."""
    from pleo_erp.client import ApiKeyAuth, PleoClient
    from pleo_erp.orchestration.export import export_expenses
    from pleo_erp.testing.inmemory import InMemoryAccountingSystem
    from pleo_erp.testing.sandbox import PleoSandbox

    sandbox = PleoSandbox(seed=1, deliver_webhooks=True)
    demo = sandbox.seed_demo()
    ledger = InMemoryAccountingSystem()
    with (
        sandbox.serve() as base_url,
        PleoClient(
            ApiKeyAuth(sandbox.api_key), base_url=base_url, sleep=sandbox.clock.sleep
        ) as client,
    ):

        def run(company_id: uuid.UUID) -> object:
            return export_expenses(client, ledger, company_id=company_id, sleep=sandbox.clock.sleep)

        # The sandbox signs with its own clock; verify against the same clock.
        with serve_receiver(None, run, clock=sandbox.clock.now) as server:
            subscription = client.subscriptions.create(server.url, ["v1.export-job.created"])
            server.set_secret(client.subscriptions.secret(subscription.id).secret_key or "")
            print(f"receiver listening on {server.url}; subscribed as {subscription.id}")
            job_id = sandbox.create_export_job(demo.company_id, 3)
            server.worker.join()
            print(f"job {job_id} (created after subscribing) -> {sandbox.job_status(job_id)}")
            for job in sandbox.jobs(demo.company_id):
                print(f"  job {job['id']}: {job['status']}")
            print(f"{len(ledger.entries)} entries posted, ledger balanced: {ledger.is_balanced()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``receiver.py --demo`` or ``receiver.py --base-url … [--port …]`` (secrets from env)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", action="store_true", help="offline demo against the sandbox")
    parser.add_argument("--base-url", default="https://external.pleo.io")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--path", default=DEFAULT_PATH)
    parser.add_argument("--ledger", help="the Beancount ledger to export into (real mode)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.demo:
        return _demo()
    secret, api_key = os.environ.get("PLEO_WEBHOOK_SECRET"), os.environ.get("PLEO_API_KEY")
    if not secret or not api_key or not args.ledger:
        parser.error(
            "real mode needs --ledger and PLEO_WEBHOOK_SECRET / PLEO_API_KEY in the "
            "environment (never pass secrets as arguments)"
        )
    from pleo_erp.adapters.beancount import BeancountAccountingSystem
    from pleo_erp.client import ApiKeyAuth, PleoClient
    from pleo_erp.orchestration.export import export_expenses

    ledger = BeancountAccountingSystem(args.ledger)  # or your own adapter
    with (
        PleoClient(ApiKeyAuth(api_key), base_url=args.base_url) as client,
        serve_receiver(
            secret,
            lambda company: export_expenses(client, ledger, company_id=company),
            host=args.host,
            port=args.port,
            path=args.path,
        ) as server,
    ):
        print(f"listening on {server.url} (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``PleoSandbox``: the facade tests, examples and benchmarks use."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from attrs import define

from . import _auth
from ._app import RecordedRequest, SandboxApp
from ._clock import SandboxClock
from ._errors import SandboxError
from ._factory import complete_export_item
from ._faults import FaultPlan
from ._jobs import apply_event, expire_due, job_view, new_job, register_entries, update_items
from ._routes_accounts import create_account
from ._routes_accounts import routes as account_routes
from ._routes_export import routes as export_routes
from ._routes_misc import routes as misc_routes
from ._routes_oauth import routes as oauth_routes
from ._routes_sandbox import PLACEHOLDER_SCHEME
from ._routes_sandbox import routes as sandbox_routes
from ._routes_tags import create_tag, create_tag_group
from ._routes_tags import routes as tag_routes
from ._routes_tax_codes import create_tax_code
from ._routes_tax_codes import routes as tax_code_routes
from ._server import serve as serve_app
from ._spec import load_spec_index
from ._state import Company, Job, JSONDict, OAuthClient, Record, SandboxState, StoredFile
from ._validation import ResponseMode, schema_error
from ._webhooks import WebhookDelivery, WebhookDispatcher
from .demo import BASE_TIME, DemoData, build_demo

if TYPE_CHECKING:
    from pleo_erp.client import AsyncPleoClient, PleoClient

__all__ = ["DEFAULT_START", "OAuthTokens", "PleoSandbox"]

#: Where a sandbox clock starts unless told otherwise: the demo data's reference time, so
#: the demo's pending jobs are minutes old and every seeded run is reproducible.
DEFAULT_START: datetime = BASE_TIME
_SANDBOX_BASE_URL = "https://external.sandbox.pleo.invalid"


@define(frozen=True)
class OAuthTokens:
    """Tokens of an OAuth grant issued without the browser dance (``issue_oauth_grant``)."""

    access_token: str
    refresh_token: str
    expires_in: int
    scope: str

    def __repr__(self) -> str:
        return f"OAuthTokens(access_token='***', refresh_token='***', expires_in={self.expires_in})"


class PleoSandbox:
    """A local, stateful emulator of the Pleo APIs the SDK uses (what stripe-mock is to Stripe).

    It holds no data until :meth:`seed_demo` or the ``add_*``/``create_*`` helpers put some
    in. Talk to it in-process (:meth:`client`, :meth:`async_client`, :meth:`transport`,
    :meth:`http_client`) or over loopback HTTP (:meth:`serve`).

    Args:
        seed: makes ids, tokens and the demo data reproducible.
        clock: the sandbox clock; default frozen at :data:`DEFAULT_START` (advance it with
            ``sandbox.clock.advance(...)``).
        validate_requests: refuse requests that break the spec with a 400 naming the problem.
        validate_responses: ``"full"`` (default), ``"sample"`` (list envelopes plus a few
            elements: cheap for big pages) or ``"off"``.
        strict: raise :class:`SandboxContractError` from the request when a response breaks
            the spec (else only record it in :attr:`contract_violations`).
        record_requests: keep the request log (:attr:`requests`).
        expire_pending_jobs: let pending jobs expire too (Pleo does not say; default no).
        rate_limit_per_minute: answer 429 beyond this many requests per credential and minute
            of sandbox time (default: no limit).
        access_token_ttl: OAuth access token lifetime in seconds (``expires_in``).
        deliver_webhooks: send ``v1.export-job.created`` to subscriptions on job creation.
    """

    def __init__(
        self,
        seed: int = 1,
        clock: SandboxClock | None = None,
        *,
        validate_requests: bool = True,
        validate_responses: ResponseMode = "full",
        strict: bool = True,
        record_requests: bool = True,
        expire_pending_jobs: bool = False,
        rate_limit_per_minute: int | None = None,
        access_token_ttl: int = 3600,
        deliver_webhooks: bool = False,
    ) -> None:
        self.seed = seed
        self.clock = clock if clock is not None else SandboxClock(DEFAULT_START)
        self.state = SandboxState(seed=seed, clock=self.clock)
        self.state.expire_pending_jobs = expire_pending_jobs
        self.state.access_token_ttl = float(access_token_ttl)
        self.faults = FaultPlan()
        routes = [
            *export_routes.routes,
            *tag_routes.routes,
            *account_routes.routes,
            *tax_code_routes.routes,
            *misc_routes.routes,
            *oauth_routes.routes,
            *sandbox_routes.routes,
        ]
        self.app = SandboxApp(
            self.state,
            routes,
            faults=self.faults,
            sleep=self.clock.sleep,
            validate_requests=validate_requests,
            validate_responses=validate_responses,
            strict=strict,
            record_requests=record_requests,
            rate_limit_per_minute=rate_limit_per_minute,
        )
        self._webhook_client: httpx.Client | None = None
        self._webhook_client_lock = threading.Lock()
        self.webhooks = WebhookDispatcher(self.state, self._get_webhook_client)
        self.webhooks.enabled = deliver_webhooks
        self.state.job_listeners.append(self.webhooks.on_job_created)
        self.demo: DemoData | None = None
        self.demo_company_id: str | None = None
        with self.state.lock:
            self.api_key = _auth.new_api_key(self.state, None, name="pleo-erp sandbox")
            client = _auth.register_client(self.state)
        self.oauth_client_id = client.client_id
        self.oauth_client_secret = client.client_secret

    def __repr__(self) -> str:
        return (
            f"PleoSandbox(seed={self.seed}, companies={len(self.state.companies)}, "
            f"jobs={len(self.state.jobs)}, clock={self.clock!r})"
        )

    def close(self) -> None:
        """Close the HTTP client used for webhook deliveries (if the sandbox made one)."""
        with self._webhook_client_lock:
            client, self._webhook_client = self._webhook_client, None
        if client is not None:
            client.close()

    def __enter__(self) -> PleoSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------

    @property
    def organization_id(self) -> str:
        """The organisation every sandbox company belongs to."""
        return self.state.organization_id

    @property
    def company_ids(self) -> list[str]:
        """Every company, in creation order."""
        with self.state.lock:
            return list(self.state.companies)

    @property
    def deliver_webhooks(self) -> bool:
        """Whether new jobs trigger ``v1.export-job.created`` deliveries."""
        return self.webhooks.enabled

    @deliver_webhooks.setter
    def deliver_webhooks(self, enabled: bool) -> None:
        self.webhooks.enabled = enabled

    @property
    def webhook_http_client(self) -> httpx.Client:
        """The ``httpx.Client`` webhook deliveries are sent with (settable, e.g. a mock)."""
        return self._get_webhook_client()

    @webhook_http_client.setter
    def webhook_http_client(self, client: httpx.Client) -> None:
        self._webhook_client = client

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook delivery attempt so far."""
        with self.state.lock:
            return list(self.webhooks.deliveries)

    def _get_webhook_client(self) -> httpx.Client:
        with self._webhook_client_lock:
            if self._webhook_client is None:
                self._webhook_client = httpx.Client(timeout=10.0)
            return self._webhook_client

    def handle(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] | Mapping[str, Any] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        *,
        base_url: str | None = None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer one request without HTTP: ``(status, headers, body)`` (see ``SandboxApp``)."""
        return self.app.handle(method, path, query, headers, body, base_url=base_url)

    def transport(self) -> httpx.MockTransport:
        """A raw ``httpx.MockTransport`` into this sandbox (sync and async clients)."""
        from ._transport import mock_transport

        return mock_transport(self.app)

    def http_client(
        self, api_key: str | None = None, *, base_url: str = _SANDBOX_BASE_URL
    ) -> httpx.Client:
        """A plain ``httpx.Client`` authenticated with an API key, wired in-process."""
        key = api_key if api_key is not None else self.api_key
        return httpx.Client(
            transport=self.transport(), base_url=base_url, auth=httpx.BasicAuth(key, "")
        )

    def _client_kwargs(
        self, api_key: str | None, company_id: str | None, kwargs: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        from pleo_erp.client import ApiKeyAuth

        if api_key is None:
            api_key = self.issue_api_key(company_id) if company_id is not None else self.api_key
        auth = kwargs.pop("auth", None) or ApiKeyAuth(api_key)
        # Retries and the client's rate limiter wait on sandbox time, never for real.
        kwargs.setdefault("sleep", self.clock.sleep)
        kwargs.setdefault("clock", lambda: self.clock.now().timestamp())
        kwargs.setdefault("wall_clock", lambda: self.clock.now().timestamp())
        return auth, kwargs

    def client(
        self, api_key: str | None = None, company_id: str | None = None, **client_kwargs: Any
    ) -> PleoClient:
        """A :class:`~pleo_erp.client.PleoClient` talking to this sandbox in-process.

        Without ``api_key`` it uses :attr:`api_key` (every company), or a fresh key for
        ``company_id`` only when that is given. Other keyword arguments go to the client.
        """
        from pleo_erp.client import PleoClient, ReceiptPolicy

        auth, kwargs = self._client_kwargs(api_key, company_id, dict(client_kwargs))
        base_url = kwargs.pop("base_url", _SANDBOX_BASE_URL)
        http = httpx.Client(transport=self.transport(), base_url=base_url)
        # The sandbox's receipt links point at its own (in-process) origin: trust exactly that.
        # Its mock transport never touches the network, so there are no addresses to check
        # (and a test must not send DNS queries for made-up receipt hosts).
        kwargs.setdefault("allow_local_receipts_from", base_url)
        kwargs.setdefault("receipt_policy", ReceiptPolicy(check_addresses=False))
        return PleoClient(auth, base_url=base_url, http_client=http, **kwargs)

    def async_client(
        self, api_key: str | None = None, company_id: str | None = None, **client_kwargs: Any
    ) -> AsyncPleoClient:
        """The ``async`` twin of :meth:`client`."""
        from pleo_erp.client import AsyncPleoClient

        auth, kwargs = self._client_kwargs(api_key, company_id, dict(client_kwargs))
        sync_sleep = kwargs.pop("sleep")

        async def sleep(seconds: float) -> None:
            sync_sleep(seconds)

        base_url = kwargs.pop("base_url", _SANDBOX_BASE_URL)
        http = httpx.AsyncClient(transport=self.transport(), base_url=base_url)
        return AsyncPleoClient(auth, base_url=base_url, http_client=http, sleep=sleep, **kwargs)

    @contextmanager
    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[str]:
        """Serve this sandbox over HTTP on ``host`` (a free port by default); yield its URL.

        ``latency``: a real delay (seconds) before every answer, per request — a model of
        network and API latency; concurrent requests wait in parallel.
        """
        with serve_app(self.app, host, port, latency=latency, sleep=sleep) as base_url:
            yield base_url

    # -- companies, credentials -------------------------------------------------------------

    def add_company(self, name: str | None = None, *, company_id: str | None = None) -> str:
        """Create an empty company (the default API key may act on it); return its id."""
        with self.state.lock:
            company_id = company_id or self.state.new_id()
            if company_id in self.state.companies:
                raise SandboxError(f"company {company_id} already exists")
            number = len(self.state.companies) + 1
            self.state.companies[company_id] = Company(
                id=company_id,
                name=name or f"Sandbox Company {number}",
                organization_id=self.state.organization_id,
            )
            return company_id

    def _company(self, company_id: str) -> Company:
        company = self.state.companies.get(company_id)
        if company is None:
            raise SandboxError(f"unknown company {company_id}")
        return company

    def set_missing_contra_accounts(self, company_id: str, missing: bool = True) -> None:
        """Make job creation and export-item reads answer 400 ``MISSING_CONTRA_ACCOUNTS``."""
        with self.state.lock:
            self._company(company_id).missing_contra_accounts = missing

    def issue_api_key(
        self, company_ids: str | Iterable[str] | None = None, *, scopes: Iterable[str] | None = None
    ) -> str:
        """A new API key for one company, several, or (``None``) the whole organisation."""
        ids = [company_ids] if isinstance(company_ids, str) else company_ids
        with self.state.lock:
            if ids is not None:
                for company_id in ids:
                    self._company(company_id)
            return _auth.new_api_key(
                self.state,
                ids,
                scopes=tuple(scopes) if scopes is not None else _auth.DEFAULT_SCOPES,
            )

    def register_oauth_client(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uris: Iterable[str] | None = None,
        name: str = "pleo-erp sandbox integration",
    ) -> tuple[str, str]:
        """Register another OAuth client; returns ``(client_id, client_secret)``."""
        with self.state.lock:
            client = _auth.register_client(
                self.state,
                client_id=client_id,
                client_secret=client_secret,
                redirect_uris=redirect_uris,
                name=name,
            )
        return client.client_id, client.client_secret

    def _oauth_client(self, client_id: str | None) -> OAuthClient:
        found = self.state.oauth_clients.get(client_id or self.oauth_client_id)
        if found is None:
            raise SandboxError(f"unknown OAuth client {client_id}")
        return found

    def _grant_companies(self, company_id: str | None) -> list[str]:
        if company_id is not None:
            self._company(company_id)
            return [company_id]
        default = self.demo_company_id or next(iter(self.state.companies), None)
        if default is None:
            raise SandboxError("add a company (or seed the demo) before authorising")
        return [default]

    def authorization_code(
        self,
        company_id: str | None = None,
        *,
        client_id: str | None = None,
        scopes: Iterable[str] | None = None,
        redirect_uri: str | None = None,
        code_challenge: str | None = None,
    ) -> str:
        """A one-time authorization code, as if a user approved the integration in Pleo.

        Exchange it at ``POST /oauth/token`` (``grant_type=authorization_code``). With
        ``code_challenge`` (PKCE S256) the exchange needs the matching ``code_verifier``;
        with ``redirect_uri`` it needs the same ``redirect_uri``.
        """
        with self.state.lock:
            return _auth.authorization_code(
                self.state,
                self._oauth_client(client_id),
                self._grant_companies(company_id),
                scopes=tuple(scopes) if scopes is not None else _auth.DEFAULT_SCOPES,
                redirect_uri=redirect_uri,
                code_challenge=code_challenge,
            )

    def issue_oauth_grant(
        self,
        company_id: str | None = None,
        *,
        client_id: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> OAuthTokens:
        """Authorise a client for a company directly and return its first tokens."""
        with self.state.lock:
            client = self._oauth_client(client_id)
            grant = _auth.issue_grant(
                self.state,
                client,
                self._grant_companies(company_id),
                tuple(scopes) if scopes is not None else _auth.DEFAULT_SCOPES,
            )
            body = _auth.tokens_for(self.state, grant)
        return OAuthTokens(
            body["access_token"], body["refresh_token"], body["expires_in"], body["scope"]
        )

    # -- data ----------------------------------------------------------------------------------

    def seed_demo(self, volume: int | None = None, *, negative_inflows: bool = False) -> DemoData:
        """Load the demo company (see :mod:`.demo`); ``volume`` adds a bulk job of N items."""
        demo = build_demo(self.seed, volume, negative_inflows=negative_inflows)
        with self.state.lock:
            if demo.company_id in self.state.companies:
                raise SandboxError("the demo company is already loaded")
            self.add_company(demo.company_name, company_id=demo.company_id)
            company = self.state.companies[demo.company_id]
            self._load_records(company, demo)
            for file_id, demo_file in demo.files.items():
                self.state.files[file_id] = StoredFile(demo_file.content_type, demo_file.content)
            for demo_job in demo.jobs:
                self._check_items(demo_job.items, sample=True)
                entry_ids = register_entries(company, demo_job.items)
                job = demo_job.job
                new_job(
                    self.state,
                    company,
                    entry_ids,
                    created_by=job.get("createdBy"),
                    is_interactive=bool(job.get("isInteractive", True)),
                    vendor_based_bookkeeping=bool(job.get("vendorBasedBookkeeping", False)),
                    job_id=str(job["id"]),
                    created_at=job.get("createdAt"),
                )
            self.demo = demo
            self.demo_company_id = demo.company_id
        self.app._run_after_commit()
        return demo

    def _load_records(self, company: Company, demo: DemoData) -> None:
        state = self.state
        for tax_code in demo.tax_codes:
            record = Record(state.next_seq(), company.id, dict(tax_code))
            state.tax_codes[tax_code["id"]] = record
            company.tax_codes.append(record)
        for account in demo.accounts:
            record = Record(state.next_seq(), company.id, dict(account))
            state.accounts[account["id"]] = record
            company.accounts.append(record)
            company.accounts_by_external_id[account["externalId"]] = record
        for group in demo.tag_groups:
            data = {k: v for k, v in group.items() if k not in ("tags", "totalTagsCount")}
            group_record = Record(state.next_seq(), company.id, data)
            state.tag_groups[data["id"]] = group_record
            state.group_tags[data["id"]] = []
            company.tag_groups.append(group_record)
            for tag in group.get("tags", []):
                tag_record = Record(state.next_seq(), company.id, dict(tag))
                state.tags[tag["id"]] = tag_record
                state.group_tags[data["id"]].append(tag_record)
                company.tags.append(tag_record)

    def _check_items(self, items: Sequence[Mapping[str, Any]], *, sample: bool = False) -> None:
        schema = load_spec_index().schema("ExportItemV3")
        chosen = (
            items
            if not sample or len(items) <= 3
            else [items[0], items[len(items) // 2], items[-1]]
        )
        for item in chosen:
            problem = schema_error(schema, item)
            if problem:
                raise SandboxError(f"export item does not match ExportItemV3: {problem}")

    def add_export_items(
        self, company_id: str, items: Sequence[Mapping[str, Any]] | int
    ) -> list[str]:
        """Register accounting entries (``ExportItemV3``, completed by defaults); return ids.

        They can then be exported with ``POST /v3/export-jobs``.
        """
        with self.state.lock:
            company = self._company(company_id)
            partials: Sequence[Mapping[str, Any] | None] = (
                [None] * items if isinstance(items, int) else items
            )
            full = [
                complete_export_item(self.state, company, partial, len(company.entries) + index)
                for index, partial in enumerate(partials)
            ]
            self._check_items(full)
            return register_entries(company, full)

    def create_export_job(
        self,
        company_id: str,
        items: Sequence[Mapping[str, Any]] | int = 3,
        *,
        status: str = "pending",
        is_interactive: bool = True,
        vendor_based_bookkeeping: bool = False,
        created_by: str | None = None,
    ) -> str:
        """Create an export job as if a bookkeeper clicked Export; return its id.

        ``items`` are (partial) ``ExportItemV3`` dicts or a number of generated ones. The
        job starts ``pending``; ``status="in_progress"`` also starts it, ``"completed"``
        reports every item successful and completes it, ``"failed"`` fails it. Refused
        (like ``POST /v3/export-jobs``) while the company has a job in progress.
        """
        entry_ids = self.add_export_items(company_id, items)
        with self.state.lock:
            company = self._company(company_id)
            expire_due(self.state, company.jobs)
            if any(job.status == "in_progress" for job in company.jobs):
                raise SandboxError(f"company {company_id} already has an export in progress")
            job = new_job(
                self.state,
                company,
                entry_ids,
                created_by=created_by,
                is_interactive=is_interactive,
                vendor_based_bookkeeping=vendor_based_bookkeeping,
            )
            self._drive(job, status)
        self.app._run_after_commit()
        return job.id

    def _drive(self, job: Job, status: str) -> None:
        if status == "pending":
            return
        if status not in ("in_progress", "completed", "failed"):
            raise SandboxError("status must be pending, in_progress, completed or failed")
        apply_event(self.state, job, "started", None, None)
        if status == "completed":
            for start in range(0, len(job.items), 100):
                chunk = job.items[start : start + 100]
                update_items(
                    self.state,
                    job,
                    [
                        {"accountingEntryId": i["accountingEntryId"], "status": "successful"}
                        for i in chunk
                    ],
                )
            apply_event(self.state, job, "completed", None, None)
        elif status == "failed":
            apply_event(
                self.state, job, "failed", "Failed by the sandbox.", "invalid_configuration"
            )

    def add_file(
        self, content: bytes, content_type: str = "application/pdf", *, file_id: str | None = None
    ) -> str:
        """Store a receipt; put ``sandbox-file://<id>`` (see :meth:`file_placeholder`) in items."""
        with self.state.lock:
            file_id = file_id or self.state.new_id()
            self.state.files[file_id] = StoredFile(content_type, content)
            return file_id

    @staticmethod
    def file_placeholder(file_id: str) -> str:
        """The ``files[].url`` value that the sandbox turns into a signed download link."""
        return f"{PLACEHOLDER_SCHEME}{file_id}"

    def add_tag_group(
        self,
        company_id: str,
        code: str,
        name: str | None = None,
        *,
        archived: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Create a tag group directly (no HTTP); return its id."""
        with self.state.lock:
            record = create_tag_group(
                self.state,
                self._company(company_id),
                code=code,
                name=name if name is not None else code,
                archived=archived,
                metadata=dict(metadata or {}),
            )
            return str(record.data["id"])

    def add_tag(
        self, group_id: str, code: str, name: str | None = None, *, archived: bool = False
    ) -> str:
        """Create a tag directly; duplicates of a code are allowed here (to test the rules)."""
        with self.state.lock:
            group = self.state.tag_groups.get(group_id)
            if group is None:
                raise SandboxError(f"unknown tag group {group_id}")
            return str(
                create_tag(self.state, group, code=code, name=name, archived=archived).data["id"]
            )

    def add_account(
        self,
        company_id: str,
        external_id: str,
        name: str,
        *,
        code: str | None = None,
        archived: bool = False,
        tax_code_external_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Create a chart-of-accounts entry directly; return its Pleo id."""
        with self.state.lock:
            company = self._company(company_id)
            if external_id in company.accounts_by_external_id:
                raise SandboxError(f"externalId {external_id!r} already exists")
            record = create_account(
                self.state,
                company,
                {
                    "externalId": external_id,
                    "name": name,
                    "code": code,
                    "archived": archived,
                    "taxCodeExternalId": tax_code_external_id,
                    "metadata": dict(metadata) if metadata is not None else None,
                },
            )
            return str(record.data["id"])

    def add_tax_code(
        self,
        company_id: str,
        name: str,
        rate: float,
        *,
        type: str = "inclusive",
        code: str | None = None,
        archived: bool = False,
        ingoing_tax_account: str | None = None,
        outgoing_tax_account: str | None = None,
    ) -> str:
        """Create a tax code directly; return its id."""
        with self.state.lock:
            record = create_tax_code(
                self.state,
                self._company(company_id),
                {
                    "name": name,
                    "rate": rate,
                    "type": type,
                    "code": code,
                    "archived": archived,
                    "ingoingTaxAccount": ingoing_tax_account,
                    "outgoingTaxAccount": outgoing_tax_account,
                },
            )
            return str(record.data["id"])

    # -- inspection ----------------------------------------------------------------------------

    def _job(self, job_id: str) -> Job:
        job = self.state.jobs.get(job_id)
        if job is None:
            raise SandboxError(f"unknown export job {job_id}")
        expire_due(self.state, [job])
        return job

    def job(self, job_id: str) -> JSONDict:
        """The job as Pleo would answer ``GET /v3/export-jobs/{id}`` (``data``)."""
        with self.state.lock:
            return job_view(self.state, self._job(job_id))

    def job_status(self, job_id: str) -> str:
        """The job's status as Pleo sees it now (expiry applied)."""
        with self.state.lock:
            return self._job(job_id).status

    def jobs(self, company_id: str) -> list[JSONDict]:
        """A company's jobs, oldest first."""
        with self.state.lock:
            company = self._company(company_id)
            expire_due(self.state, company.jobs)
            return [job_view(self.state, job) for job in company.jobs]

    def job_items(self, job_id: str) -> list[JSONDict]:
        """The job's ``ExportJobItemV3`` objects (copies), in job order."""
        with self.state.lock:
            return [dict(item) for item in self._job(job_id).items]

    def item_statuses(self, job_id: str) -> dict[str, str]:
        """``accountingEntryId`` -> item status, in job order."""
        with self.state.lock:
            return {item["accountingEntryId"]: item["status"] for item in self._job(job_id).items}

    def export_items(self, job_id: str) -> list[JSONDict]:
        """The job's ``ExportItemV3`` payloads as stored (file URLs still placeholders)."""
        with self.state.lock:
            job = self._job(job_id)
            entries = self.state.companies[job.company_id].entries
            return [entries[item["accountingEntryId"]] for item in job.items]

    def tag_groups(self, company_id: str) -> list[JSONDict]:
        """Every tag group of the company (archived too), in creation order."""
        with self.state.lock:
            return [dict(r.data) for r in self._company(company_id).tag_groups]

    def tags(self, group_id: str) -> list[JSONDict]:
        """Every tag of a group (archived too), in creation order."""
        with self.state.lock:
            return [dict(r.data) for r in self.state.group_tags.get(group_id, [])]

    def accounts(self, company_id: str) -> list[JSONDict]:
        """Every chart-of-accounts entry of the company, in creation order."""
        with self.state.lock:
            return [dict(r.data) for r in self._company(company_id).accounts]

    def tax_codes(self, company_id: str) -> list[JSONDict]:
        """Every tax code of the company, in creation order."""
        with self.state.lock:
            return [dict(r.data) for r in self._company(company_id).tax_codes]

    def subscriptions(self) -> list[JSONDict]:
        """Every webhook subscription (public view), in creation order."""
        with self.state.lock:
            return [dict(s.data) for s in self.state.subscriptions.values()]

    def installations(self) -> list[JSONDict]:
        """Every installation (``InstallationResponse``)."""
        with self.state.lock:
            return [dict(i) for i in self.state.installations.values()]

    @property
    def requests(self) -> list[RecordedRequest]:
        """The request log (method, path, query, body, status, injected fault)."""
        with self.state.lock:
            return list(self.app.requests)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self.state.lock:
            self.app.requests.clear()

    @property
    def warnings(self) -> list[str]:
        """Things a careful client should not do that Pleo may accept silently.

        For example a ``failureReason`` on a ``completed`` event, completing a job with
        unfinished items, or changing a final item status. Tests of a correct integration
        can assert this list is empty.
        """
        with self.state.lock:
            return list(self.state.warnings)

    @property
    def contract_violations(self) -> list[str]:
        """Responses that did not match the spec (raised too in strict mode)."""
        return list(self.app.contract_violations)

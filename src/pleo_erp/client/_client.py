"""``PleoClient`` and ``AsyncPleoClient``: the typed entry points to Pleo's External APIs.

Both wrap one transport (:mod:`pleo_erp.client._transport`) and expose one attribute per API
family (``client.export_jobs``, ``client.tags``, …). They differ only in being blocking or
``async``; every request they can build, every retry decision and every parsed model is the same.
"""

from __future__ import annotations

import asyncio
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx
from typing_extensions import Self

from pleo_erp._closing import ClosesOnExit
from pleo_erp.client._ratelimit import DEFAULT_REQUESTS_PER_MINUTE, RateLimiter
from pleo_erp.client._retry import RetryPolicy
from pleo_erp.client._transport import (
    DEFAULT_TIMEOUT,
    PRODUCTION,
    STAGING,
    AsyncTransport,
    SyncTransport,
    TransportConfig,
    TransportCore,
    user_agent,
)
from pleo_erp.client.files import is_loopback_host
from pleo_erp.client.receipt_policy import (
    ReceiptPolicy,
    attach_receipt_policy,
    receipt_policy_for,
)
from pleo_erp.client.resources.accounts import Accounts, AsyncAccounts
from pleo_erp.client.resources.export_items import AsyncExportItems, ExportItems
from pleo_erp.client.resources.export_jobs import AsyncExportJobs, ExportJobs
from pleo_erp.client.resources.installations import AsyncInstallations, Installations
from pleo_erp.client.resources.introspect import introspect_call, parse_introspection
from pleo_erp.client.resources.subscriptions import AsyncSubscriptions, Subscriptions
from pleo_erp.client.resources.tag_groups import AsyncTagGroups, TagGroups
from pleo_erp.client.resources.tags import AsyncTags, Tags
from pleo_erp.client.resources.tax_codes import AsyncTaxCodes, TaxCodes
from pleo_erp.models.introspect import IntrospectionModel

__all__ = ["ENVIRONMENTS", "AsyncPleoClient", "PleoClient"]

ENVIRONMENTS: Mapping[str, str] = {"production": PRODUCTION, "staging": STAGING}
"""Environment names accepted as ``base_url``."""

TimeoutTypes = float | httpx.Timeout | None
_TransportT = TypeVar("_TransportT", SyncTransport, AsyncTransport)
_ClientT = TypeVar("_ClientT", bound="_BaseClient[Any]")

_DEFAULT_MAX_RETRIES = 3
_UNCHANGED: Any = object()  # "keep the current value" for with_options(timeout=...)
_DEFAULT_MAX_RETRY_AFTER = 60.0


def refuse_plain_http(url: str, what: str, *, allow_insecure_http: bool = False) -> None:
    """Raise ``ValueError`` when credentials would go to ``url`` over plain http to a host that
    is not this machine (an API key, client secret or refresh token readable on the wire)."""
    parsed = httpx.URL(url)
    if parsed.scheme == "http" and not allow_insecure_http and not is_loopback_host(parsed.host):
        raise ValueError(
            f"{what} must use https: plain http is only allowed to a loopback host "
            "(127.0.0.1, localhost, [::1]), as credentials would travel unencrypted "
            "(allow_insecure_http=True relaxes this for a sandbox on a trusted network)"
        )


def _base_url(value: str, *, allow_insecure_http: bool = False) -> str:
    url = ENVIRONMENTS.get(value, value)
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("base_url must be an http(s) URL such as PRODUCTION or STAGING")
    refuse_plain_http(url, "base_url", allow_insecure_http=allow_insecure_http)
    if parsed.host == "api.pleo.io":
        raise ValueError("api.pleo.io is not Pleo's External API host; use PRODUCTION")
    if parsed.query or parsed.fragment or parsed.userinfo:
        raise ValueError("base_url must not carry credentials, a query or a fragment")
    return url.rstrip("/")


def _timeout(value: TimeoutTypes) -> httpx.Timeout:
    return value if isinstance(value, httpx.Timeout) else httpx.Timeout(value)


def _check_auth(auth: httpx.Auth | None) -> httpx.Auth | None:
    if auth is not None and not isinstance(auth, httpx.Auth):
        # Never echo the value: it may be a raw API key.
        raise TypeError(
            f"auth must be an httpx.Auth such as ApiKeyAuth(key), got {type(auth).__name__}"
        )
    return auth


def _new_core(
    *,
    auth: httpx.Auth | None,
    base_url: str,
    timeout: TimeoutTypes,
    max_retries: int,
    max_retry_after: float,
    requests_per_minute: int | None,
    rate_limiter: RateLimiter | None,
    default_headers: Mapping[str, str] | None,
    clock: Callable[[], float],
    wall_clock: Callable[[], float],
    random: Callable[[], float],
    allow_insecure_http: bool = False,
) -> TransportCore:
    """The transport core both clients build from their (identical) keyword arguments."""
    if rate_limiter is None and requests_per_minute is not None:
        rate_limiter = RateLimiter(requests_per_minute, clock=clock)
    headers = {"Accept": "application/json", "User-Agent": user_agent()}
    headers.update(default_headers or {})
    config = TransportConfig(
        base_url=_base_url(base_url, allow_insecure_http=allow_insecure_http),
        auth=_check_auth(auth),
        timeout=_timeout(timeout),
        retry=RetryPolicy(max_retries=max_retries, max_retry_after=max_retry_after),
        limiter=rate_limiter,
        headers=headers,
        clock=clock,
        wall_clock=wall_clock,
        random=random,
    )
    return TransportCore(config)


def _derived(
    core: TransportCore,
    *,
    max_retries: int | None,
    max_retry_after: float | None,
    timeout: TimeoutTypes | object,
) -> TransportCore:
    retry_changes: dict[str, Any] = {}
    if max_retries is not None:
        retry_changes["max_retries"] = max_retries
    if max_retry_after is not None:
        retry_changes["max_retry_after"] = max_retry_after
    changes: dict[str, Any] = {}
    if retry_changes:
        changes["retry"] = replace(core.config.retry, **retry_changes)
    if timeout is not _UNCHANGED:
        changes["timeout"] = _timeout(timeout)  # type: ignore[arg-type]
    return core.derive(**changes)


class _BaseClient(Generic[_TransportT]):
    """What both clients share: binding a transport, deriving copies, read-only facts.

    ``PleoClient`` and ``AsyncPleoClient`` add only what differs: the typed constructor, the
    resource classes they bind, and the blocking or awaitable ``introspect``/``close``.
    """

    _transport: _TransportT
    _core: TransportCore
    _owns_http: bool

    def _setup(self, transport: _TransportT, *, owns_http: bool) -> None:
        self._transport = transport
        self._core = transport.core
        self._owns_http = owns_http
        self._bind_resources(transport)

    def _bind_resources(self, transport: _TransportT) -> None:
        raise NotImplementedError  # pragma: no cover - each client binds its own classes

    def _copy_with(
        self,
        cls: type[_ClientT],
        max_retries: int | None,
        max_retry_after: float | None,
        timeout: TimeoutTypes | object,
    ) -> _ClientT:
        """A ``cls`` sharing this client's pool, limiter and counter (``with_options``)."""
        copy = object.__new__(cls)
        core = _derived(
            self._core, max_retries=max_retries, max_retry_after=max_retry_after, timeout=timeout
        )
        transport = self._transport
        derived = type(transport)(core, transport.http, sleep=transport.sleep)
        copy._setup(derived, owns_http=False)
        return copy

    @property
    def base_url(self) -> str:
        """The API host every path is appended to."""
        return self._core.config.base_url

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._core.config.retry.max_retries

    @property
    def rate_limiter(self) -> RateLimiter | None:
        """The client-side limiter (``None`` when disabled)."""
        return self._core.config.limiter

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, every attempt included (for reports and benchmarks)."""
        return self._core.request_count

    def __repr__(self) -> str:
        limiter = self._core.config.limiter
        rpm = limiter.requests_per_minute if limiter is not None else None
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, max_retries={self.max_retries},"
            f" requests_per_minute={rpm})"
        )


class PleoClient(_BaseClient[SyncTransport], ClosesOnExit):
    """A blocking client for Pleo's External APIs.

    ``PleoClient(auth=ApiKeyAuth("…"), base_url=STAGING)``. Use it as a context manager or call
    :meth:`close`. An injected ``http_client`` is used as is (its transport, proxies, pool) and
    is not closed by :meth:`close`; the client's own ``timeout`` still applies per request.

    Args:
        auth: the credential, an ``httpx.Auth`` (``ApiKeyAuth``, ``OAuth2Auth``). Never logged.
        base_url: :data:`PRODUCTION` (default), :data:`STAGING`, ``"production"``,
            ``"staging"`` or any http(s) base URL (a sandbox).
        http_client: an ``httpx.Client`` to send through (tests inject a ``MockTransport``).
        timeout: seconds or an ``httpx.Timeout`` per request (``None``: wait forever).
        max_retries: retries after the first attempt on retryable failures (0 disables).
        max_retry_after: the longest server-requested ``Retry-After`` wait honoured, seconds.
        requests_per_minute: client-side limit (default 500; Pleo states 600); ``None``
            disables it.
        rate_limiter: a :class:`RateLimiter` to share between clients (overrides
            ``requests_per_minute``).
        default_headers: extra headers for every request.
        sleep: how to wait (retries, limiter); injectable for tests.
        clock: monotonic seconds (durations, limiter).
        wall_clock: Unix seconds (``Retry-After`` HTTP-dates).
        random: ``[0, 1)`` source for backoff jitter.
        allow_insecure_http: allow a plain-``http`` ``base_url`` to a host that is not
            loopback (refused by default: the credential would travel unencrypted).
        receipt_policy: the rules receipt downloads through this client follow (default:
            :class:`~pleo_erp.client.receipt_policy.ReceiptPolicy`, public https hosts only).
        allow_local_receipts_from: origins of a local sandbox (``"http://127.0.0.1:8080"``)
            whose receipt links may be fetched although they are loopback/plain http — exactly
            that scheme, host and port. A loopback ``base_url`` (a served sandbox) trusts its
            own origin automatically; ``PleoSandbox.client()`` sets its in-process origin.
    """

    export_jobs: ExportJobs
    """Export jobs, their events and job items (``/v3/export-jobs…``)."""
    export_items: ExportItems
    """Export item payloads (``/v3/export-items``)."""
    tag_groups: TagGroups
    """Tag groups (``/v0/tag-groups…``)."""
    tags: Tags
    """Tags (``/v0/tags…``)."""
    accounts: Accounts
    """Chart of accounts (``/v1/chart-of-accounts…``)."""
    tax_codes: TaxCodes
    """Tax codes (``/v0/tax-codes…``)."""
    installations: Installations
    """The app's installation (``/v1/installations/me…``)."""
    subscriptions: Subscriptions
    """Webhook subscriptions (``/v1/subscriptions…``)."""

    def __init__(
        self,
        auth: httpx.Auth | None,
        *,
        base_url: str = PRODUCTION,
        http_client: httpx.Client | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = _DEFAULT_MAX_RETRIES,
        max_retry_after: float = _DEFAULT_MAX_RETRY_AFTER,
        requests_per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE,
        rate_limiter: RateLimiter | None = None,
        default_headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
        allow_insecure_http: bool = False,
        receipt_policy: ReceiptPolicy | None = None,
        allow_local_receipts_from: str | Sequence[str] = (),
    ) -> None:
        core = _new_core(
            auth=auth,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            requests_per_minute=requests_per_minute,
            rate_limiter=rate_limiter,
            default_headers=default_headers,
            clock=clock,
            wall_clock=wall_clock,
            random=random,
            allow_insecure_http=allow_insecure_http,
        )
        owns = http_client is None
        http = http_client if http_client is not None else httpx.Client(follow_redirects=False)
        origins = (
            (allow_local_receipts_from,)
            if isinstance(allow_local_receipts_from, str)
            else tuple(allow_local_receipts_from)
        )
        if is_loopback_host(httpx.URL(core.config.base_url).host):
            # A loopback API is a local sandbox by construction: its own origin (scheme, host
            # and port — no other port) may serve the receipts it links to.
            origins += (core.config.base_url,)
        if receipt_policy is not None or origins:
            policy = receipt_policy if receipt_policy is not None else ReceiptPolicy()
            attach_receipt_policy(http, policy.with_origins(origins) if origins else policy)
        self._setup(SyncTransport(core, http, sleep=sleep), owns_http=owns)

    def _bind_resources(self, transport: SyncTransport) -> None:
        self.export_jobs = ExportJobs(transport)
        self.export_items = ExportItems(transport)
        self.tag_groups = TagGroups(transport)
        self.tags = Tags(transport)
        self.accounts = Accounts(transport)
        self.tax_codes = TaxCodes(transport)
        self.installations = Installations(transport)
        self.subscriptions = Subscriptions(transport)

    @property
    def http_client(self) -> httpx.Client:
        """The ``httpx.Client`` requests go through: the injected one, or the client's own
        (closed by :meth:`close`). Use it for other requests that need the same transport,
        e.g. receipt downloads from an in-process sandbox. ``with_options`` copies share it."""
        return self._transport.http

    @property
    def sleep(self) -> Callable[[float], None]:
        """How this client waits between retries and for its rate limiter (``sleep=``).

        ``export_expenses`` waits with it too (accounting-system retries) when given no
        ``sleep=``, so with a client from ``PleoSandbox.client()`` (whose sleep advances the
        sandbox clock) a whole export runs without sleeping for real.
        """
        return self._transport.sleep

    @property
    def receipt_policy(self) -> ReceiptPolicy:
        """Where receipt downloads through this client may go (the SSRF rules)."""
        return receipt_policy_for(self._transport.http)

    def introspect(self) -> IntrospectionModel:
        """``GET /v1/introspect``: who the credential is (company from ``subjectURN``)."""
        return parse_introspection(self._transport.request(introspect_call()))

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        max_retry_after: float | None = None,
        timeout: TimeoutTypes | object = _UNCHANGED,
    ) -> PleoClient:
        """A client with some settings changed that shares this one's connection pool,
        rate limiter and request counter (closing it does not close the pool)."""
        return self._copy_with(PleoClient, max_retries, max_retry_after, timeout)

    def close(self) -> None:
        """Close the connection pool if this client created it."""
        if self._owns_http:
            self._transport.http.close()


class AsyncPleoClient(_BaseClient[AsyncTransport]):
    """The ``async`` twin of :class:`PleoClient`: same arguments, awaitable methods.

    ``sleep`` must be an async callable (default ``asyncio.sleep``); an injected
    ``http_client`` must be an ``httpx.AsyncClient``. Rate limiting never blocks the event loop.
    """

    export_jobs: AsyncExportJobs
    """Export jobs, their events and job items (``/v3/export-jobs…``)."""
    export_items: AsyncExportItems
    """Export item payloads (``/v3/export-items``)."""
    tag_groups: AsyncTagGroups
    """Tag groups (``/v0/tag-groups…``)."""
    tags: AsyncTags
    """Tags (``/v0/tags…``)."""
    accounts: AsyncAccounts
    """Chart of accounts (``/v1/chart-of-accounts…``)."""
    tax_codes: AsyncTaxCodes
    """Tax codes (``/v0/tax-codes…``)."""
    installations: AsyncInstallations
    """The app's installation (``/v1/installations/me…``)."""
    subscriptions: AsyncSubscriptions
    """Webhook subscriptions (``/v1/subscriptions…``)."""

    def __init__(
        self,
        auth: httpx.Auth | None,
        *,
        base_url: str = PRODUCTION,
        http_client: httpx.AsyncClient | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = _DEFAULT_MAX_RETRIES,
        max_retry_after: float = _DEFAULT_MAX_RETRY_AFTER,
        requests_per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE,
        rate_limiter: RateLimiter | None = None,
        default_headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
        allow_insecure_http: bool = False,
    ) -> None:
        core = _new_core(
            auth=auth,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            requests_per_minute=requests_per_minute,
            rate_limiter=rate_limiter,
            default_headers=default_headers,
            clock=clock,
            wall_clock=wall_clock,
            random=random,
            allow_insecure_http=allow_insecure_http,
        )
        owns = http_client is None
        http = http_client if http_client is not None else httpx.AsyncClient(follow_redirects=False)
        self._setup(AsyncTransport(core, http, sleep=sleep), owns_http=owns)

    def _bind_resources(self, transport: AsyncTransport) -> None:
        self.export_jobs = AsyncExportJobs(transport)
        self.export_items = AsyncExportItems(transport)
        self.tag_groups = AsyncTagGroups(transport)
        self.tags = AsyncTags(transport)
        self.accounts = AsyncAccounts(transport)
        self.tax_codes = AsyncTaxCodes(transport)
        self.installations = AsyncInstallations(transport)
        self.subscriptions = AsyncSubscriptions(transport)

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` requests go through; see :attr:`PleoClient.http_client`."""
        return self._transport.http

    async def introspect(self) -> IntrospectionModel:
        """``GET /v1/introspect``: who the credential is (company from ``subjectURN``)."""
        return parse_introspection(await self._transport.request(introspect_call()))

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        max_retry_after: float | None = None,
        timeout: TimeoutTypes | object = _UNCHANGED,
    ) -> AsyncPleoClient:
        """A client with some settings changed that shares this one's connection pool,
        rate limiter and request counter (closing it does not close the pool)."""
        return self._copy_with(AsyncPleoClient, max_retries, max_retry_after, timeout)

    async def close(self) -> None:
        """Close the connection pool if this client created it."""
        if self._owns_http:
            await self._transport.http.aclose()

    aclose = close

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

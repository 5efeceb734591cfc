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
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from typing_extensions import Self, TypedDict, Unpack

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
from pleo_erp.client.resources._base import AsyncResource, SyncResource, check_params
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

__all__ = ["ENVIRONMENTS", "AsyncPleoClient", "ClientOptions", "PleoClient"]

ENVIRONMENTS: Mapping[str, str] = {"production": PRODUCTION, "staging": STAGING}
"""Environment names accepted as ``base_url``."""

TimeoutTypes = float | httpx.Timeout | None
_TransportT = TypeVar("_TransportT", SyncTransport, AsyncTransport)

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


class ClientOptions(TypedDict, total=False):
    """The keyword options :class:`PleoClient` and :class:`AsyncPleoClient` share (all
    optional; ``PleoClient(auth, base_url=STAGING, max_retries=5)``).

    Attributes:
        base_url: :data:`PRODUCTION` (default), :data:`STAGING`, ``"production"``,
            ``"staging"`` or any http(s) base URL (a sandbox).
        timeout: seconds or an ``httpx.Timeout`` per request (default
            :data:`DEFAULT_TIMEOUT`; ``None``: wait forever).
        max_retries: retries after the first attempt on retryable failures (default 3;
            0 disables).
        max_retry_after: the longest server-requested ``Retry-After`` wait honoured, seconds
            (default 60).
        requests_per_minute: client-side limit (default 500; Pleo states 600); ``None``
            disables it.
        rate_limiter: a :class:`RateLimiter` to share between clients (overrides
            ``requests_per_minute``).
        default_headers: extra headers for every request.
        clock: monotonic seconds (durations, limiter; default ``time.monotonic``).
        wall_clock: Unix seconds (``Retry-After`` HTTP-dates; default ``time.time``).
        random: ``[0, 1)`` source for backoff jitter (default ``random.random``).
        allow_insecure_http: allow a plain-``http`` ``base_url`` to a host that is not
            loopback (default ``False``: the credential would travel unencrypted).
    """

    base_url: str
    timeout: TimeoutTypes
    max_retries: int
    max_retry_after: float
    requests_per_minute: int | None
    rate_limiter: RateLimiter | None
    default_headers: Mapping[str, str] | None
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    random: Callable[[], float]
    allow_insecure_http: bool


def _new_core(auth: httpx.Auth | None, options: ClientOptions, client: str) -> TransportCore:
    """The transport core both clients build from their shared keyword options."""
    check_params(ClientOptions, options, client)
    clock = options.get("clock", time.monotonic)
    rate_limiter = options.get("rate_limiter")
    requests_per_minute = options.get("requests_per_minute", DEFAULT_REQUESTS_PER_MINUTE)
    if rate_limiter is None and requests_per_minute is not None:
        rate_limiter = RateLimiter(requests_per_minute, clock=clock)
    headers = {"Accept": "application/json", "User-Agent": user_agent()}
    headers.update(options.get("default_headers") or {})
    retry = RetryPolicy(
        max_retries=options.get("max_retries", _DEFAULT_MAX_RETRIES),
        max_retry_after=options.get("max_retry_after", _DEFAULT_MAX_RETRY_AFTER),
    )
    allow_insecure_http = options.get("allow_insecure_http", False)
    config = TransportConfig(
        base_url=_base_url(
            options.get("base_url", PRODUCTION), allow_insecure_http=allow_insecure_http
        ),
        auth=_check_auth(auth),
        timeout=_timeout(options.get("timeout", DEFAULT_TIMEOUT)),
        retry=retry,
        limiter=rate_limiter,
        headers=headers,
        clock=clock,
        wall_clock=options.get("wall_clock", time.time),
        random=options.get("random", _random.random),
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


RESOURCES: Mapping[str, tuple[type[SyncResource], type[AsyncResource]]] = {
    "export_jobs": (ExportJobs, AsyncExportJobs),
    "export_items": (ExportItems, AsyncExportItems),
    "tag_groups": (TagGroups, AsyncTagGroups),
    "tags": (Tags, AsyncTags),
    "accounts": (Accounts, AsyncAccounts),
    "tax_codes": (TaxCodes, AsyncTaxCodes),
    "installations": (Installations, AsyncInstallations),
    "subscriptions": (Subscriptions, AsyncSubscriptions),
}
"""Each client attribute with its blocking and ``async`` resource class (both clients declare
the attributes, typed, for type checkers and docs; this table binds them)."""


class _BaseClient(Generic[_TransportT]):
    """What both clients share: binding a transport and its resources, deriving copies,
    read-only facts.

    ``PleoClient`` and ``AsyncPleoClient`` add only what differs: the typed constructor and
    resource attributes, and the blocking or awaitable ``introspect``/``close``.
    """

    _is_async: ClassVar[bool]
    _transport: _TransportT
    _core: TransportCore
    _owns_http: bool

    def _setup(self, transport: _TransportT, *, owns_http: bool) -> None:
        self._transport = transport
        self._core = transport.core
        self._owns_http = owns_http
        for name, (blocking, awaitable) in RESOURCES.items():
            resource = awaitable if self._is_async else blocking
            setattr(self, name, resource(transport))  # type: ignore[arg-type]

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        max_retry_after: float | None = None,
        timeout: TimeoutTypes | object = _UNCHANGED,
    ) -> Self:
        """A client with some settings changed that shares this one's connection pool,
        rate limiter and request counter (closing it does not close the pool)."""
        copy = object.__new__(type(self))
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
        http_client: an ``httpx.Client`` to send through (tests inject a ``MockTransport``).
        sleep: how to wait (retries, limiter); injectable for tests.
        **options: ``base_url``, ``timeout``, ``max_retries``, ``max_retry_after``,
            ``requests_per_minute``, ``rate_limiter``, ``default_headers``, ``clock``,
            ``wall_clock``, ``random``, ``allow_insecure_http``: see :class:`ClientOptions`
            for each, with its default.
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

    _is_async = False

    def __init__(
        self,
        auth: httpx.Auth | None,
        *,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        receipt_policy: ReceiptPolicy | None = None,
        allow_local_receipts_from: str | Sequence[str] = (),
        **options: Unpack[ClientOptions],
    ) -> None:
        core = _new_core(auth, options, "PleoClient")
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

    _is_async = True

    def __init__(
        self,
        auth: httpx.Auth | None,
        *,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Unpack[ClientOptions],
    ) -> None:
        core = _new_core(auth, options, "AsyncPleoClient")
        owns = http_client is None
        http = http_client if http_client is not None else httpx.AsyncClient(follow_redirects=False)
        self._setup(AsyncTransport(core, http, sleep=sleep), owns_http=owns)

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` requests go through; see :attr:`PleoClient.http_client`."""
        return self._transport.http

    async def introspect(self) -> IntrospectionModel:
        """``GET /v1/introspect``: who the credential is (company from ``subjectURN``)."""
        return parse_introspection(await self._transport.request(introspect_call()))

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

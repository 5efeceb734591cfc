"""Credentials for the Pleo External APIs: API keys and OAuth 2.0 (PKCE, refresh, token store).

Two ``httpx.Auth`` schemes live here:

* :class:`ApiKeyAuth` — Integrated/Standalone API keys: ``Authorization: Basic base64("<key>:")``
  (accounts §B1, accounts rule 5; see docs/rules.md).
* :class:`OAuth2Auth` — bearer tokens from Pleo's authorisation server, refreshed before they
  expire, one refresh at a time, with the rotated refresh token persisted through a
  :class:`TokenStore` before the new access token is used (§B3, rules 11–16).

The token request is *yielded from the auth flow* (httpx "custom authentication schemes"), so it
travels through the same client and transport as the API call that needed it: a test's or the
sandbox's ``httpx.MockTransport`` answers it too. The PKCE helpers and :func:`build_authorize_url`
cover the browser half of the authorisation-code flow (rules 8–10).

Nothing in this module ever puts a credential (API key, client secret, access or refresh token)
into a log line, a ``repr`` or an exception message.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import math
import re
import secrets
import string
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import attrs
import httpx

from pleo_erp.client.errors import (
    PleoError,
    ReauthorizationRequired,
    ResponseValidationError,
    api_error_for_status,
)

__all__ = [
    "AUTHORIZE_PATH",
    "AUTH_PRODUCTION",
    "AUTH_STAGING",
    "TOKEN_PATH",
    "ApiKeyAuth",
    "ClientAuthMethod",
    "Environment",
    "MemoryTokenStore",
    "OAuth2Auth",
    "OAuthAuthorizationError",
    "OAuthCallbackError",
    "OAuthStateMismatch",
    "TokenSet",
    "TokenStore",
    "auth_base_url",
    "build_authorize_url",
    "code_challenge_s256",
    "generate_code_verifier",
    "generate_state",
    "parse_authorization_callback",
]

logger = logging.getLogger("pleo_erp.auth")

AUTH_PRODUCTION = "https://auth.pleo.io"
"""Pleo's production OAuth authorisation server (§B2)."""

AUTH_STAGING = "https://auth.staging.pleo.io"
"""Pleo's staging OAuth authorisation server (§B2). Work starts here."""

AUTHORIZE_PATH = "/oauth/authorize"
"""Path of the authorize endpoint on the authorisation server."""

TOKEN_PATH = "/oauth/token"
"""Path of the token endpoint on the authorisation server."""

Environment = Literal["production", "staging"]
"""A Pleo environment name."""

ClientAuthMethod = Literal["client_secret_basic", "client_secret_post"]
"""How the client authenticates at the token endpoint (rule 11)."""

_AUTH_BASE_URLS: dict[str, str] = {"production": AUTH_PRODUCTION, "staging": AUTH_STAGING}

# RFC 7636 §4.1: unreserved characters, 43..128 of them.
_VERIFIER_ALPHABET = string.ascii_letters + string.digits + "-._~"
_VERIFIER_RE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")

# Pleo's older docs quoted a 15-minute access token; used only if a response omits expires_in.
_FALLBACK_EXPIRES_IN = 900

_REDACTED = "'***'"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def auth_base_url(environment: Environment) -> str:
    """The authorisation server for ``"production"`` or ``"staging"`` (rule 1)."""
    try:
        return _AUTH_BASE_URLS[environment]
    except KeyError:
        raise ValueError(
            f"unknown environment {environment!r}; expected 'production' or 'staging'"
        ) from None


# --------------------------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------------------------


class ApiKeyAuth(httpx.Auth):
    """HTTP Basic with the API key as user name and an empty password (rule 5).

    ``ApiKeyAuth("abc")`` sends ``Authorization: Basic YWJjOg==``; the raw key is never sent and
    never shown (``repr`` gives ``ApiKeyAuth(key='***')``).
    """

    def __init__(self, key: str) -> None:
        """Wrap an Integrated or Standalone API key."""
        if not isinstance(key, str) or not key.strip():
            raise ValueError("API key must be a non-empty string")
        token = base64.b64encode(f"{key}:".encode()).decode("ascii")
        self._header = f"Basic {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Attach the Basic header; a 401 is the caller's to handle (keys are never refreshed)."""
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyAuth(key={_REDACTED})"

    __str__ = __repr__


# --------------------------------------------------------------------------------------------
# PKCE and the authorize URL
# --------------------------------------------------------------------------------------------


def generate_code_verifier(length: int = 64) -> str:
    """A fresh PKCE code verifier: ``length`` (43–128) random unreserved characters (rule 9)."""
    if not 43 <= length <= 128:
        raise ValueError("a PKCE code verifier must be 43 to 128 characters long")
    return "".join(secrets.choice(_VERIFIER_ALPHABET) for _ in range(length))


def code_challenge_s256(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding: the S256 PKCE challenge (RFC 7636 §4.2).

    Raises ``ValueError`` for a verifier outside RFC 7636's length and alphabet (rule 9).
    """
    _check_verifier(verifier)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _check_verifier(verifier: str) -> None:
    if not _VERIFIER_RE.fullmatch(verifier):
        raise ValueError("a PKCE code verifier must be 43-128 characters from [A-Za-z0-9-._~]")


def generate_state() -> str:
    """A fresh, unguessable OAuth ``state`` value (rule 10): 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def build_authorize_url(
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str] | str,
    state: str,
    code_challenge: str,
    *,
    environment: Environment = "production",
    authorize_url: str | None = None,
    code_challenge_method: str = "S256",
    extra_params: Mapping[str, str] | None = None,
) -> str:
    """The URL to send the user's browser to, to start the authorisation-code flow (rule 8).

    Emits ``response_type=code``, ``client_id``, ``redirect_uri``, ``scope`` (space-joined,
    percent-encoded), ``state``, ``code_challenge`` and ``code_challenge_method=S256``.
    ``authorize_url`` overrides the environment's ``<auth>/oauth/authorize``. Pleo accepts only
    S256, so any other method (``plain``) raises ``ValueError``. ``extra_params`` are appended
    after the standard ones (they cannot replace them).
    """
    if code_challenge_method != "S256":
        raise ValueError("Pleo accepts only the S256 PKCE method; 'plain' is rejected")
    for name, value in (
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", state),
        ("code_challenge", code_challenge),
    ):
        if not value:
            raise ValueError(f"{name} must not be empty")
    scope = scopes if isinstance(scopes, str) else " ".join(scopes)
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    for key, value in (extra_params or {}).items():
        if key in params:
            raise ValueError(f"extra_params may not override the standard parameter {key!r}")
        params[key] = value
    base = authorize_url or auth_base_url(environment) + AUTHORIZE_PATH
    separator = "&" if "?" in base else "?"
    # quote (not quote_plus): spaces in the scope list become %20, which every server reads.
    return base + separator + urlencode(params, quote_via=quote, safe="")


class OAuthCallbackError(PleoError):
    """The redirect back from Pleo's authorize endpoint cannot be used to get tokens."""


class OAuthStateMismatch(OAuthCallbackError):
    """The ``state`` on the redirect is not the one this flow sent: never exchange the code."""


class OAuthAuthorizationError(OAuthCallbackError):
    """Pleo redirected back with ``error`` (the user declined, a scope was refused, …)."""

    def __init__(self, error: str, error_description: str | None = None) -> None:
        """Keep the OAuth ``error`` code and its optional human description."""
        self.error = error
        self.error_description = error_description
        detail = f": {error_description}" if error_description else ""
        super().__init__(f"authorization failed ({error}){detail}")


def parse_authorization_callback(callback: str | Mapping[str, str], expected_state: str) -> str:
    """The authorization ``code`` from the redirect back to ``redirect_uri`` (rule 10).

    ``callback`` is the full redirect URL or its query parameters. Checks, in this order, that
    ``state`` matches (constant-time; :class:`OAuthStateMismatch`), that no ``error`` came back
    (:class:`OAuthAuthorizationError`) and that a ``code`` is present
    (:class:`OAuthCallbackError`). Nothing is sent anywhere.
    """
    if isinstance(callback, str):
        params: Mapping[str, str] = dict(parse_qsl(urlsplit(callback).query))
    else:
        params = callback
    received = params.get("state") or ""
    if not expected_state or not hmac.compare_digest(
        received.encode("utf-8"), expected_state.encode("utf-8")
    ):
        raise OAuthStateMismatch("the OAuth state on the redirect does not match this flow")
    error = params.get("error")
    if error:
        raise OAuthAuthorizationError(error, params.get("error_description"))
    code = params.get("code")
    if not code:
        raise OAuthCallbackError("the redirect carries no authorization code")
    return code


# --------------------------------------------------------------------------------------------
# Tokens and their storage
# --------------------------------------------------------------------------------------------


def _aware(_instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime")


@attrs.define(frozen=True, repr=False)
class TokenSet:
    """One grant's tokens as Pleo issued them, with the absolute expiry computed on receipt.

    Tokens are opaque strings (rule 7): never decoded; the expiry comes from ``expires_in`` only.
    ``repr`` and ``str`` hide both tokens.
    """

    access_token: str
    refresh_token: str | None
    expires_at: datetime = attrs.field(validator=_aware)
    scope: str | None = None
    token_type: str = "Bearer"

    def expires_within(self, margin: timedelta, *, now: datetime) -> bool:
        """Whether the access token is expired or expires within ``margin`` of ``now``."""
        return now >= self.expires_at - margin

    @classmethod
    def from_token_response(
        cls,
        payload: Mapping[str, Any],
        *,
        now: datetime,
        previous_refresh_token: str | None = None,
    ) -> TokenSet:
        """Build from a token-endpoint JSON body (``access_token``, ``expires_in``, …).

        ``expires_at = now + expires_in`` (rule 12). A response without ``refresh_token``
        keeps ``previous_refresh_token`` (RFC 6749 §6: the server chose not to rotate).
        Raises :class:`ResponseValidationError` naming the bad field (never its value).
        """
        problems: list[str] = []
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            problems.append("$.access_token: missing or not a non-empty string")
        refresh = payload.get("refresh_token", previous_refresh_token)
        if refresh is not None and (not isinstance(refresh, str) or not refresh):
            problems.append("$.refresh_token: not a non-empty string")
        expires_in = _seconds(payload.get("expires_in", _FALLBACK_EXPIRES_IN))
        if expires_in is None:
            problems.append("$.expires_in: not a non-negative number of seconds")
        scope = payload.get("scope")
        if scope is not None and not isinstance(scope, str):
            problems.append("$.scope: not a string")
        token_type = payload.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            problems.append("$.token_type: not 'Bearer'")
        if problems:
            raise ResponseValidationError("TokenResponse", problems, path=problems[0].split(":")[0])
        assert isinstance(access, str)
        assert expires_in is not None
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_at=now + timedelta(seconds=expires_in),
            scope=scope,
            token_type="Bearer",
        )

    def __repr__(self) -> str:
        refresh = _REDACTED if self.refresh_token is not None else "None"
        return (
            f"TokenSet(access_token={_REDACTED}, refresh_token={refresh}, "
            f"expires_at={self.expires_at.isoformat()!r}, scope={self.scope!r}, "
            f"token_type={self.token_type!r})"
        )

    __str__ = __repr__


@runtime_checkable
class TokenStore(Protocol):
    """Where one connection's tokens live between runs and across processes (rules 13, 14, 21).

    ``save`` must be atomic: after it returns, ``load`` (in any process) gives the new set or,
    if it raised, the old one — never a mix. ``lock`` is a mutual-exclusion context manager
    that also excludes *other processes* sharing the store; :class:`OAuth2Auth` holds it
    while it refreshes and calls ``load``/``save`` inside it, so it must let its holder call
    them (re-entrant for the holder).
    """

    def load(self) -> TokenSet | None:
        """The stored tokens, or ``None`` if none were saved."""
        ...

    def save(self, tokens: TokenSet) -> None:
        """Replace the stored tokens atomically and durably."""
        ...

    def lock(self) -> AbstractContextManager[object]:
        """A context manager holding the store's (cross-process) refresh lock."""
        ...


class MemoryTokenStore:
    """A :class:`TokenStore` in process memory: for tests and single-process scripts.

    Its lock spans the threads of one process only.
    """

    def __init__(self, tokens: TokenSet | None = None) -> None:
        """Start empty, or holding ``tokens``."""
        self._tokens = tokens
        self._data_lock = threading.Lock()
        self._refresh_lock = threading.RLock()
        self.saves = 0
        """How many times ``save`` ran (tests use it to check persistence)."""

    def load(self) -> TokenSet | None:
        """The stored tokens, or ``None``."""
        with self._data_lock:
            return self._tokens

    def save(self, tokens: TokenSet) -> None:
        """Replace the stored tokens."""
        with self._data_lock:
            self._tokens = tokens
            self.saves += 1

    def clear(self) -> None:
        """Forget the stored tokens (after a disconnect)."""
        with self._data_lock:
            self._tokens = None

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the refresh lock (re-entrant for the holding thread)."""
        with self._refresh_lock:
            yield

    def __repr__(self) -> str:
        return f"MemoryTokenStore(has_tokens={self._tokens is not None})"


# --------------------------------------------------------------------------------------------
# OAuth 2.0
# --------------------------------------------------------------------------------------------


# A refresh step machine: yields the token request, receives its (already read) response and
# returns the tokens to use. Shared by the sync and async flows, which differ only in how they
# lock and read.
_Steps = Generator[httpx.Request, httpx.Response, TokenSet]


def _refuse_plain_http(token_url: str, allow_insecure_http: bool) -> None:
    from pleo_erp.client.files import is_loopback_host

    parsed = httpx.URL(token_url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("token_url must be an http(s) URL")
    if parsed.scheme == "http" and not allow_insecure_http and not is_loopback_host(parsed.host):
        raise ValueError(
            "token_url must use https: plain http is only allowed to a loopback host, as the "
            "client secret and refresh token would travel unencrypted "
            "(allow_insecure_http=True relaxes this for a sandbox on a trusted network)"
        )


class OAuth2Auth(httpx.Auth):
    """Bearer auth with Pleo OAuth 2.0 tokens, refreshed proactively and exactly once at a time.

    * Before each request, if ``now >= expires_at - refresh_margin`` the tokens are refreshed
      first (rule 12). The refresh is single-flight (rule 14): a ``threading.Lock`` (sync) or an
      ``asyncio.Lock`` (async) serialises callers in this process, and ``token_store.lock()``
      serialises processes; after acquiring them the expiry is checked again, and tokens another
      process stored meanwhile are adopted instead of refreshing again.
    * The refresh sends the *newest* refresh token known (the store's if it is newer than ours),
      saves the rotated set through the store and only then uses the new access token; the old
      refresh token is never sent again (rule 13).
    * A refused refresh (400/401/403 from the token endpoint, e.g. ``invalid_grant``) raises
      :class:`ReauthorizationRequired` and stops the auth: every later request raises it too,
      without touching the network, until :meth:`set_tokens` or :meth:`exchange_code` (rule 15).
    * A 401 from the API triggers one refresh and one retry of the request; a second 401 raises
      :class:`ReauthorizationRequired` and stops the auth (rule 16).

    The token request is yielded from the auth flow, so it goes through the same client and
    transport as the API call. The client secret is only ever sent to ``token_url``.

    Share one ``OAuth2Auth`` per connection (token-store key) within a process.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        token_store: TokenStore,
        *,
        environment: Environment = "production",
        token_url: str | None = None,
        client_auth: ClientAuthMethod = "client_secret_basic",
        refresh_margin: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] = _utcnow,
        allow_insecure_http: bool = False,
    ) -> None:
        """Configure the client credentials, the store and the token endpoint.

        Args:
            client_id: the OAuth client id Pleo issued.
            client_secret: the OAuth client secret Pleo issued (never logged or shown).
            token_store: where tokens are loaded from and saved to.
            environment: picks ``<auth>/oauth/token`` unless ``token_url`` is given.
            token_url: explicit token endpoint (tests, the sandbox, proxies).
            client_auth: ``client_secret_basic`` (Pleo's documented method; default) or
                ``client_secret_post`` (credentials in the form body).
            refresh_margin: refresh this long before the access token expires.
            clock: returns the current time as an aware datetime (injected in tests).
            allow_insecure_http: allow a plain-``http`` ``token_url`` to a host that is not
                loopback (refused by default: the client secret and refresh token would travel
                unencrypted).
        """
        if not client_id or ":" in client_id:
            raise ValueError("client_id must be non-empty and contain no ':'")
        if not client_secret:
            raise ValueError("client_secret must not be empty")
        if client_auth not in ("client_secret_basic", "client_secret_post"):
            raise ValueError("client_auth must be 'client_secret_basic' or 'client_secret_post'")
        if refresh_margin < timedelta(0):
            raise ValueError("refresh_margin must not be negative")
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_store = token_store
        self.token_url = token_url or auth_base_url(environment) + TOKEN_PATH
        _refuse_plain_http(self.token_url, allow_insecure_http)
        self.client_auth: ClientAuthMethod = client_auth
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._tokens: TokenSet | None = None
        self._loaded = False
        # Set once a refresh was refused; every request raises until new tokens arrive.
        self._stopped: str | None = None
        # Tokens the server issued but the store failed to save: saved before anything else.
        self._unsaved = False
        self._thread_lock = threading.Lock()
        # asyncio locks belong to one event loop, so keep one per loop.
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._async_locks_guard = threading.Lock()

    # ---- public state -----------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        """Whether a refused refresh stopped this auth (see :meth:`set_tokens`)."""
        return self._stopped is not None

    @property
    def tokens(self) -> TokenSet | None:
        """The tokens in use (loaded from the store on first use), or ``None``."""
        if not self._loaded:
            self._load_initial()
        return self._tokens

    def set_tokens(self, tokens: TokenSet) -> None:
        """Install new tokens (e.g. after re-authorisation): save them and resume requests."""
        with self._thread_lock, self.token_store.lock():
            self.token_store.save(tokens)
            self._tokens = tokens
            self._loaded = True
            self._unsaved = False
            self._stopped = None
        logger.info("OAuth tokens installed; requests resume")

    # ---- authorization-code grant -----------------------------------------------------------

    def build_code_exchange_request(
        self, code: str, code_verifier: str, redirect_uri: str
    ) -> httpx.Request:
        """The ``authorization_code`` token request (form-encoded; rule 11)."""
        if not code:
            raise ValueError("code must not be empty")
        _check_verifier(code_verifier)
        return self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            }
        )

    def exchange_code(
        self,
        code: str,
        code_verifier: str,
        redirect_uri: str,
        *,
        http_client: httpx.Client | None = None,
    ) -> TokenSet:
        """Exchange an authorization code for tokens, save them and resume requests.

        ``http_client`` sends the token request (a fresh short-lived client if omitted). Raises
        :class:`ReauthorizationRequired` if the server refuses the code (expired, reused,
        verifier or redirect URI mismatch).
        """
        request = self.build_code_exchange_request(code, code_verifier, redirect_uri)
        if http_client is None:
            with httpx.Client(timeout=30.0) as own_client:
                response = own_client.send(request, auth=None)
        else:
            response = http_client.send(request, auth=None)
        tokens = self._parse_token_response(response, grant="authorization_code")
        self.set_tokens(tokens)
        return tokens

    async def aexchange_code(
        self,
        code: str,
        code_verifier: str,
        redirect_uri: str,
        *,
        http_client: httpx.AsyncClient | None = None,
    ) -> TokenSet:
        """Async twin of :meth:`exchange_code`."""
        request = self.build_code_exchange_request(code, code_verifier, redirect_uri)
        if http_client is None:
            async with httpx.AsyncClient(timeout=30.0) as own_client:
                response = await own_client.send(request, auth=None)
        else:
            response = await http_client.send(request, auth=None)
        tokens = self._parse_token_response(response, grant="authorization_code")
        self.set_tokens(tokens)
        return tokens

    # ---- httpx auth flows -------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Authorise ``request`` for a sync client: refresh if due, retry once after a 401."""
        # Read a streamed body now so the request can be re-sent after a 401.
        request.read()
        tokens = self._usable_tokens()
        rejected: TokenSet | None = None
        for attempt in range(2):
            if tokens is None:
                with self._thread_lock:
                    tokens = yield from self._drive_sync(self._refresh_steps(rejected=rejected))
            self._authorize(request, tokens)
            response = yield request
            if self._accepted(response, attempt):
                return
            rejected, tokens = tokens, None

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Authorise ``request`` for an async client: refresh if due, retry once after a 401."""
        await request.aread()
        tokens = self._usable_tokens()
        rejected: TokenSet | None = None
        for attempt in range(2):
            if tokens is None:
                async with self._async_lock():
                    steps = self._refresh_steps(rejected=rejected)
                    try:
                        outgoing = next(steps)
                        while True:
                            reply = yield outgoing
                            await reply.aread()
                            outgoing = steps.send(reply)
                    except StopIteration as done:
                        tokens = done.value
                    finally:
                        # Release the store lock even when httpx abandons the flow.
                        steps.close()
            assert tokens is not None
            self._authorize(request, tokens)
            response = yield request
            if self._accepted(response, attempt):
                return
            rejected, tokens = tokens, None

    # ---- internals --------------------------------------------------------------------------

    def _drive_sync(self, steps: _Steps) -> Generator[httpx.Request, httpx.Response, TokenSet]:
        # Like ``yield from`` but reads each token response before handing it on.
        try:
            outgoing = next(steps)
            while True:
                reply = yield outgoing
                reply.read()
                outgoing = steps.send(reply)
        except StopIteration as done:
            result: TokenSet = done.value
            return result
        finally:
            # Release the store lock even when httpx abandons the flow (transport error).
            steps.close()

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._async_locks_guard:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
            return lock

    def _load_initial(self) -> None:
        with self._thread_lock:
            if not self._loaded:
                self._tokens = self.token_store.load()
                self._loaded = True

    def _usable_tokens(self) -> TokenSet | None:
        """The current tokens if they can be sent as they are; ``None`` if a refresh is due."""
        self._raise_if_stopped()
        if not self._loaded:
            self._load_initial()
        tokens = self._tokens
        if tokens is None or self._unsaved or self._needs_refresh(tokens):
            return None
        return tokens

    def _needs_refresh(self, tokens: TokenSet) -> bool:
        return tokens.expires_within(self.refresh_margin, now=self._clock())

    def _raise_if_stopped(self) -> None:
        if self._stopped is not None:
            raise ReauthorizationRequired(
                f"OAuth connection stopped: {self._stopped}; authorize the integration again"
            )

    def _stop(self, reason: str) -> None:
        self._stopped = reason
        logger.warning("OAuth connection stopped: %s; reauthorization required", reason)
        raise ReauthorizationRequired(
            f"OAuth connection stopped: {reason}; authorize the integration again"
        )

    def _accepted(self, response: httpx.Response, attempt: int) -> bool:
        """Whether the API took the access token; a 401 to the second attempt (made with a
        freshly refreshed token) stops the connection (raises)."""
        if response.status_code != 401:
            return True
        if attempt == 1:
            self._stop("the API rejected a freshly refreshed access token (HTTP 401)")
        return False

    def _authorize(self, request: httpx.Request, tokens: TokenSet) -> None:
        request.headers["Authorization"] = f"Bearer {tokens.access_token}"

    def _refresh_steps(self, *, rejected: TokenSet | None) -> _Steps:
        """Under the in-process lock: bring the tokens up to date, refreshing at most once.

        ``rejected`` is the token set the API just answered 401 to (forces a refresh unless
        somebody already replaced it); ``None`` means "refresh if due".
        """
        self._raise_if_stopped()
        if self._unsaved and self._tokens is not None:
            # The server already rotated; persist before the new access token is used.
            with self.token_store.lock():
                self._save(self._tokens)
        current = self._tokens
        if current is not None and not self._due(current, rejected):
            return current
        with self.token_store.lock():
            self._raise_if_stopped()
            stored = self.token_store.load()
            if stored is not None and stored != current:
                # Another process (or a set_tokens elsewhere) stored newer tokens: adopt them,
                # so our older refresh token is never presented again.
                self._tokens = current = stored
                if not self._due(stored, rejected):
                    logger.debug("adopted OAuth tokens refreshed by another process")
                    return stored
            if current is None:
                raise ReauthorizationRequired(
                    "no OAuth tokens stored; run the authorization flow first"
                )
            if current.refresh_token is None:
                self._stop("the access token expired and no refresh token was issued")
            assert current.refresh_token is not None
            logger.debug("refreshing the OAuth access token")
            response = yield self._token_request(
                {"grant_type": "refresh_token", "refresh_token": current.refresh_token}
            )
            fresh = self._parse_token_response(
                response, grant="refresh_token", previous_refresh_token=current.refresh_token
            )
            # Forget the old refresh token before anything can fail: it is spent either way.
            self._tokens = fresh
            self._unsaved = True
            self._save(fresh)
        seconds = int((fresh.expires_at - self._clock()).total_seconds())
        logger.info("OAuth access token refreshed; valid for %d s", seconds)
        return fresh

    def _due(self, tokens: TokenSet, rejected: TokenSet | None) -> bool:
        if rejected is not None:
            # Refresh only if the rejected token is still the one we hold.
            return tokens.access_token == rejected.access_token
        return self._needs_refresh(tokens)

    def _save(self, tokens: TokenSet) -> None:
        self.token_store.save(tokens)
        self._unsaved = False

    def _token_request(self, form: dict[str, str]) -> httpx.Request:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if self.client_auth == "client_secret_basic":
            credentials = f"{self.client_id}:{self._client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
        else:
            form = {**form, "client_id": self.client_id, "client_secret": self._client_secret}
        return httpx.Request("POST", self.token_url, headers=headers, content=urlencode(form))

    def _parse_token_response(
        self,
        response: httpx.Response,
        *,
        grant: str,
        previous_refresh_token: str | None = None,
    ) -> TokenSet:
        status = response.status_code
        payload = _json_object(response)
        if status in (400, 401, 403):
            error = _safe_error_code(payload.get("error") if payload else None)
            reason = f"the token endpoint refused the {grant} grant (HTTP {status} {error})"
            if grant == "refresh_token":
                self._stop(reason)
            # A refused code leaves any working tokens alone; the user just authorizes again.
            logger.warning("OAuth %s; reauthorization required", reason)
            raise ReauthorizationRequired(f"{reason}; authorize the integration again")
        if not 200 <= status < 300:
            # 429/5xx: the server did not decide; the old refresh token stays valid.
            raise api_error_for_status(status)(
                f"token endpoint failed during the {grant} grant",
                status_code=status,
                method="POST",
                path=response.request.url.path,
            )
        if payload is None:
            raise ResponseValidationError("TokenResponse", ["$: not a JSON object"], path="$")
        return TokenSet.from_token_response(
            payload, now=self._clock(), previous_refresh_token=previous_refresh_token
        )

    def __repr__(self) -> str:
        return (
            f"OAuth2Auth(client_id={self.client_id!r}, client_secret={_REDACTED}, "
            f"token_url={self.token_url!r}, client_auth={self.client_auth!r}, "
            f"stopped={self.stopped})"
        )

    __str__ = __repr__


def _seconds(value: object) -> int | None:
    """``expires_in`` as whole seconds; servers send ints, the odd one a float or a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            return None
        return int(value)
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value >= 0:
        return int(value)
    return None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        payload = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _safe_error_code(value: object) -> str:
    """An OAuth ``error`` code fit for a log line: RFC 6749 codes only, else ``unknown``."""
    if isinstance(value, str) and re.fullmatch(r"[a-z_]{1,64}", value):
        return value
    return "unknown"

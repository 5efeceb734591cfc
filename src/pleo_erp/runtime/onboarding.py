"""OAuth onboarding of a new Pleo company: authorize → callback → connection → initial sync.

Two calls around the user's trip to Pleo:

1. :func:`begin_oauth_onboarding` — a fresh ``state`` and PKCE verifier and the authorize URL
   to redirect the user's browser to. Keep the returned :class:`PendingAuthorization` in the
   user's session (it holds the verifier; never put it in a URL or a log).
2. :func:`complete_oauth_onboarding` — on the redirect back: check ``state`` and take the
   code, exchange it for tokens, find the company the grant is for (``GET /v1/introspect``),
   store the tokens in the runtime's token store under ``oauth:<company_id>``, register the
   connection (its levels become due now) and queue the initial sync — chart of accounts →
   tags → export, one ``"onboarding"`` trigger that :func:`~pleo_erp.runtime.run.run_level`
   chains under one lease.

The installation is activated by the runtime once the first chart-of-accounts and tags runs
succeeded (accounts rule 24: activate only after the initial syncs, and only if they worked);
a connection without sync levels is activated here at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from uuid import UUID

import attrs
import httpx

from pleo_erp.client._client import PleoClient
from pleo_erp.client._transport import PRODUCTION
from pleo_erp.client.auth import (
    AUTH_PRODUCTION,
    AUTHORIZE_PATH,
    TOKEN_PATH,
    MemoryTokenStore,
    OAuth2Auth,
    TokenStore,
    build_authorize_url,
    code_challenge_s256,
    generate_code_verifier,
    generate_state,
    parse_authorization_callback,
)
from pleo_erp.client.errors import PleoError
from pleo_erp.client.scopes import ALL_LEVELS
from pleo_erp.orchestration.schedule import ScheduledLevel
from pleo_erp.runtime.stores import Connection, RuntimeState
from pleo_erp.runtime.tick import Enqueue

__all__ = [
    "DEFAULT_ONBOARDING_SCOPES",
    "OAuthApp",
    "OnboardingError",
    "OnboardingResult",
    "PendingAuthorization",
    "begin_oauth_onboarding",
    "complete_oauth_onboarding",
    "oauth_token_key",
]

logger = logging.getLogger("pleo_erp.runtime.onboarding")

DEFAULT_ONBOARDING_SCOPES: tuple[str, ...] = ALL_LEVELS
"""What a full three-level integration asks for."""

_ALL_LEVELS = tuple(ScheduledLevel)


class OnboardingError(PleoError):
    """The grant cannot become a connection (e.g. it is for an organisation, not a company)."""


@attrs.frozen(kw_only=True)
class OAuthApp:
    """The vendor's OAuth client at Pleo.

    Attributes:
        client_id / client_secret: issued by Pleo (the secret is never shown in a repr).
        redirect_uri: the callback URL registered with Pleo.
        auth_base_url: the OAuth server (production by default; ``AUTH_STAGING`` for staging,
            the sandbox's URL in tests).
        api_base_url: the External API base URL (production by default).
    """

    client_id: str
    client_secret: str = attrs.field(repr=False)
    redirect_uri: str
    auth_base_url: str = AUTH_PRODUCTION
    api_base_url: str = PRODUCTION

    @property
    def token_url(self) -> str:
        """The token endpoint."""
        return self.auth_base_url.rstrip("/") + TOKEN_PATH

    def auth(self, token_store: TokenStore) -> OAuth2Auth:
        """An :class:`OAuth2Auth` for this app over ``token_store`` (e.g. a connection's)."""
        return OAuth2Auth(self.client_id, self.client_secret, token_store, token_url=self.token_url)


@attrs.frozen(kw_only=True)
class PendingAuthorization:
    """One started authorisation: keep it server-side until the callback arrives."""

    url: str
    """Where to send the user's browser."""
    state: str = attrs.field(repr=False)
    code_verifier: str = attrs.field(repr=False)
    created_at: datetime


@attrs.frozen(kw_only=True)
class OnboardingResult:
    """What :func:`complete_oauth_onboarding` did.

    Attributes:
        connection: the registered connection.
        scopes: the scopes Pleo granted.
        queued: whether the initial sync was handed to the engine (else the tick runs it).
    """

    connection: Connection
    scopes: tuple[str, ...]
    queued: bool


def oauth_token_key(company_id: UUID) -> str:
    """The token-store key of a company's OAuth tokens (``oauth:<company_id>``)."""
    return f"oauth:{company_id}"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def begin_oauth_onboarding(
    app: OAuthApp,
    *,
    scopes: Sequence[str] = DEFAULT_ONBOARDING_SCOPES,
    extra_params: Mapping[str, str] | None = None,
) -> PendingAuthorization:
    """A new ``state`` + PKCE verifier and the authorize URL (rules 8–10)."""
    verifier = generate_code_verifier()
    state = generate_state()
    url = build_authorize_url(
        app.client_id,
        app.redirect_uri,
        scopes,
        state,
        code_challenge_s256(verifier),
        authorize_url=app.auth_base_url.rstrip("/") + AUTHORIZE_PATH,
        extra_params=extra_params,
    )
    return PendingAuthorization(url=url, state=state, code_verifier=verifier, created_at=_utcnow())


def complete_oauth_onboarding(
    callback: str | Mapping[str, str],
    pending: PendingAuthorization,
    *,
    app: OAuthApp,
    state: RuntimeState,
    adapter: str,
    settings: Mapping[str, str] | None = None,
    levels: Iterable[ScheduledLevel | str] = _ALL_LEVELS,
    cadence: Mapping[ScheduledLevel, timedelta] | None = None,
    enqueue: Enqueue | None = None,
    http_client: httpx.Client | None = None,
) -> OnboardingResult:
    """Finish the authorisation on the callback and make the company a served connection.

    Raises :class:`~pleo_erp.client.auth.OAuthStateMismatch` /
    :class:`~pleo_erp.client.auth.OAuthAuthorizationError` (a bad or declined callback:
    nothing is exchanged), :class:`~pleo_erp.client.auth.ReauthorizationRequired` (the code
    was refused), :class:`OnboardingError` (a grant that is not for exactly one company).
    Re-onboarding an existing company replaces its tokens and keeps its ``created_at``.
    """
    code = parse_authorization_callback(callback, pending.state)
    temporary = MemoryTokenStore()
    auth = app.auth(temporary)
    tokens = auth.exchange_code(
        code, pending.code_verifier, app.redirect_uri, http_client=http_client
    )
    with PleoClient(auth, base_url=app.api_base_url, http_client=http_client) as client:
        info = client.introspect()
    company = info.company_id
    if company is None:
        raise OnboardingError(
            "the grant is not for a single company (organisation-level grants need one "
            "connection per company; authorise each company)"
        )
    key = oauth_token_key(company)
    store = state.token_store(key)
    with store.lock():
        store.save(tokens)
    chosen = tuple(level for level in _ALL_LEVELS if level in {ScheduledLevel(x) for x in levels})
    existing = state.registry.get(company)
    connection = Connection(
        company_id=company,
        auth_kind="oauth",
        token_key=key,
        adapter=adapter,
        settings=dict(settings or {}),
        levels=chosen,
        cadence=dict(cadence or {}),
        enabled=True,
        created_at=existing.created_at if existing is not None else _utcnow(),
    )
    state.registry.add(connection)
    logger.info("company %s connected (%s)", company, ", ".join(lv.value for lv in chosen))
    if not any(
        level in chosen for level in (ScheduledLevel.CHART_OF_ACCOUNTS, ScheduledLevel.TAGS)
    ):
        _activate_now(app, state, key, http_client)
    queued = False
    if enqueue is not None and chosen:
        try:
            enqueue(company, chosen[0], "onboarding")
            queued = True
        except Exception:
            logger.warning("could not queue the initial sync of %s; the tick runs it", company)
    scopes = tuple((tokens.scope or info.scope or "").split())
    return OnboardingResult(connection=connection, scopes=scopes, queued=queued)


def _activate_now(
    app: OAuthApp, state: RuntimeState, key: str, http_client: httpx.Client | None
) -> None:
    auth = app.auth(state.token_store(key))
    with PleoClient(auth, base_url=app.api_base_url, http_client=http_client) as client:
        client.installations.activate()

"""Credentials: API keys (HTTP Basic, key as user name, empty password) and OAuth 2.0.

OAuth follows accounts-sync-and-auth.md §B3: authorization code (+ PKCE S256) exchanged at
``/oauth/token``; every refresh returns a new access token *and* a new refresh token; a
refresh token presented twice, or after it expired, revokes every refresh token of that
grant (replay protection), so the integration must re-authorise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from pleo_erp.client.scopes import ALL_LEVELS

from ._errors import ApiError
from ._state import (
    AccessToken,
    AuthorizationCode,
    Credential,
    Grant,
    OAuthClient,
    RefreshToken,
    SandboxState,
)

__all__ = [
    "DEFAULT_SCOPES",
    "OAuthError",
    "authenticate",
    "authorization_code",
    "exchange_code",
    "issue_grant",
    "new_api_key",
    "refresh_grant",
    "register_client",
    "tokens_for",
    "verify_client",
]

#: Scopes a sandbox credential gets unless told otherwise (scopes are recorded, not enforced).
DEFAULT_SCOPES: tuple[str, ...] = ALL_LEVELS
_CODE_TTL_SECONDS = 600
_WWW_AUTHENTICATE = 'Bearer realm="pleo", Basic realm="pleo"'


class OAuthError(ApiError):
    """An RFC 6749 token-endpoint error (``error`` / ``error_description``).

    The body also carries ``type``/``message`` so Pleo-style error parsing works on it.
    """

    def __init__(self, status: int, error: str, description: str) -> None:
        headers = {"WWW-Authenticate": 'Basic realm="pleo"'} if status == 401 else {}
        super().__init__(
            status,
            error,
            description,
            headers={"Cache-Control": "no-store", **headers},
            extra={"error": error, "error_description": description},
        )


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "UNAUTHORIZED", message, headers={"WWW-Authenticate": _WWW_AUTHENTICATE})


def authenticate(state: SandboxState, authorization: str | None) -> Credential:
    """The credential behind an ``Authorization`` header, or 401."""
    if not authorization:
        raise _unauthorized("Missing Authorization header.")
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _unauthorized("Malformed Basic credentials.") from None
        key, sep, password = decoded.partition(":")
        credential = state.api_keys.get(key)
        if credential is None or not sep or password:
            # The API key is the user name and the password must be empty.
            raise _unauthorized("Invalid API key.")
        return credential
    if scheme == "bearer":
        token = state.access_tokens.get(value)
        if token is None or token.revoked:
            raise _unauthorized("Invalid access token.")
        if token.expires_at <= state.now_epoch():
            raise _unauthorized("JWT is expired")
        grant = state.grants[token.grant_id]
        if grant.revoked:
            raise _unauthorized("Access has been revoked.")
        return grant.credential
    raise _unauthorized("Unsupported authorization scheme.")


def new_api_key(
    state: SandboxState,
    company_ids: Iterable[str] | None,
    *,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    name: str = "pleo-erp sandbox key",
) -> str:
    """Issue an API key for ``company_ids`` (``None``: every company of the organisation)."""
    key = state.new_token("sk_sandbox_", 20)
    state.api_keys[key] = Credential(
        kind="api_key",
        application_id=state.new_id(),
        client_id=state.new_id(),
        application_name=name,
        company_ids=None if company_ids is None else frozenset(company_ids),
        scopes=tuple(scopes),
    )
    return key


def register_client(
    state: SandboxState,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uris: Iterable[str] | None = None,
    name: str = "pleo-erp sandbox integration",
) -> OAuthClient:
    """Register an OAuth client; ``redirect_uris`` ``None`` accepts any redirect URI."""
    client = OAuthClient(
        client_id=client_id or state.new_id(),
        client_secret=client_secret or state.new_token("cs_", 24),
        application_id=state.new_id(),
        name=name,
        redirect_uris=None if redirect_uris is None else tuple(redirect_uris),
    )
    state.oauth_clients[client.client_id] = client
    return client


def verify_client(state: SandboxState, client_id: str | None, secret: str | None) -> OAuthClient:
    """The client for ``client_id`` if ``secret`` matches, else 401 ``invalid_client``."""
    client = state.oauth_clients.get(client_id or "")
    if client is None or secret is None or not hmac.compare_digest(client.client_secret, secret):
        raise OAuthError(401, "invalid_client", "Client authentication failed.")
    return client


def authorization_code(
    state: SandboxState,
    client: OAuthClient,
    company_ids: Iterable[str],
    *,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    redirect_uri: str | None = None,
    code_challenge: str | None = None,
) -> str:
    """Create a one-time code as if a user had approved the integration in Pleo."""
    if (
        redirect_uri is not None
        and client.redirect_uris is not None
        and redirect_uri not in client.redirect_uris
    ):
        raise OAuthError(400, "invalid_request", "redirect_uri is not registered.")
    code = state.new_token("ac_", 16)
    state.codes[code] = AuthorizationCode(
        code=code,
        client_id=client.client_id,
        company_ids=frozenset(company_ids),
        scopes=tuple(scopes),
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
        expires_at=state.now_epoch() + _CODE_TTL_SECONDS,
    )
    return code


def issue_grant(
    state: SandboxState, client: OAuthClient, company_ids: Iterable[str], scopes: Iterable[str]
) -> Grant:
    """Create a grant (an authorisation) and its installation in ``AUTHORIZED`` status."""
    companies = frozenset(company_ids)
    grant = Grant(
        id=state.new_id(),
        client_id=client.client_id,
        credential=Credential(
            kind="oauth",
            application_id=client.application_id,
            client_id=client.client_id,
            application_name=client.name,
            company_ids=companies,
            scopes=tuple(scopes),
        ),
    )
    state.grants[grant.id] = grant
    now = state.clock.timestamp()
    for company_id in companies:
        state.installations.setdefault(
            (client.application_id, company_id),
            {
                "id": state.new_id(),
                "applicationId": client.application_id,
                "resource": f"urn:pleo:company:{company_id}",
                "status": "AUTHORIZED",
                "metadata": {},
                "createdAt": now,
                "updatedAt": now,
            },
        )
    return grant


def tokens_for(state: SandboxState, grant: Grant) -> dict[str, Any]:
    """Mint a new access + refresh token pair for ``grant`` (the token response body)."""
    now = state.now_epoch()
    access = state.new_token("at_", 24)
    refresh = state.new_token("rt_", 24)
    state.access_tokens[access] = AccessToken(grant.id, now + state.access_token_ttl)
    state.refresh_tokens[refresh] = RefreshToken(grant.id, now + state.refresh_token_ttl)
    grant.refresh_tokens.append(refresh)
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": int(state.access_token_ttl),
        "refresh_token": refresh,
        "scope": " ".join(grant.credential.scopes),
    }


def _revoke_refresh_tokens(state: SandboxState, grant: Grant) -> None:
    for token in grant.refresh_tokens:
        record = state.refresh_tokens.get(token)
        if record is not None and record.state == "active":
            record.state = "revoked"


def _pkce_matches(challenge: str, verifier: str) -> bool:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(computed, challenge)


def exchange_code(
    state: SandboxState,
    client: OAuthClient,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> dict[str, Any]:
    """``grant_type=authorization_code``: trade a code for tokens (once)."""
    record = state.codes.get(code or "")
    if record is None or record.client_id != client.client_id:
        raise OAuthError(400, "invalid_grant", "Unknown authorization code.")
    if record.used:
        # A replayed code revokes what it produced (RFC 6749 §4.1.2).
        if record.grant_id is not None:
            state.grants[record.grant_id].revoked = True
            _revoke_refresh_tokens(state, state.grants[record.grant_id])
        raise OAuthError(400, "invalid_grant", "Authorization code already used.")
    if record.expires_at <= state.now_epoch():
        raise OAuthError(400, "invalid_grant", "Authorization code expired.")
    if record.redirect_uri is not None and redirect_uri != record.redirect_uri:
        raise OAuthError(400, "invalid_grant", "redirect_uri does not match the authorization.")
    if record.code_challenge is not None:
        if not code_verifier or not 43 <= len(code_verifier) <= 128:
            raise OAuthError(400, "invalid_grant", "A 43-128 character code_verifier is required.")
        if not _pkce_matches(record.code_challenge, code_verifier):
            raise OAuthError(400, "invalid_grant", "code_verifier does not match.")
    record.used = True
    grant = issue_grant(state, client, record.company_ids, record.scopes)
    record.grant_id = grant.id
    return tokens_for(state, grant)


def refresh_grant(state: SandboxState, client: OAuthClient, token: str | None) -> dict[str, Any]:
    """``grant_type=refresh_token``: rotate; a replayed or expired token revokes the grant's."""
    record = state.refresh_tokens.get(token or "")
    if record is None:
        raise OAuthError(400, "invalid_grant", "Unknown refresh token.")
    grant = state.grants[record.grant_id]
    if grant.client_id != client.client_id:
        raise OAuthError(400, "invalid_grant", "Refresh token was issued to another client.")
    if grant.revoked or record.state == "revoked":
        raise OAuthError(400, "invalid_grant", "Refresh token has been revoked.")
    if record.state == "used":
        _revoke_refresh_tokens(state, grant)
        raise OAuthError(
            400,
            "invalid_grant",
            "Refresh token reused; every refresh token of this grant is revoked.",
        )
    if record.expires_at <= state.now_epoch():
        _revoke_refresh_tokens(state, grant)
        raise OAuthError(
            400,
            "invalid_grant",
            "Refresh token expired; every refresh token of this grant is revoked.",
        )
    record.state = "used"
    return tokens_for(state, grant)

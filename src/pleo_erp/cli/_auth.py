"""``pleo-erp auth login | set-key | status | logout``.

* ``login`` — OAuth 2.0 authorization code with PKCE S256 and a loopback redirect
  (``http://127.0.0.1:<port>/callback``): prints the authorize URL and opens the browser, waits
  for the redirect, checks ``state``, exchanges the code and saves the tokens (rotated on every
  refresh) in the SQLite state database.
* ``set-key`` — reads an API key from stdin (hidden prompt on a terminal; never from argv),
  checks it with ``GET /v1/introspect`` and saves it in the state database (mode 0600).
* ``status`` — which credential would be used and what Pleo says about it; never the secret.
* ``logout`` — forget the saved credential and tokens.
"""

from __future__ import annotations

import getpass
import webbrowser
from collections.abc import Callable, Sequence
from typing import Any

from pleo_erp.cli._config import Secret
from pleo_erp.cli._context import Context, authorize_base_for
from pleo_erp.cli._credentials import StoredCredential
from pleo_erp.cli._errors import AuthError, ConfigError, UsageError
from pleo_erp.cli._oauth_login import CallbackReceiver
from pleo_erp.client import ApiKeyAuth, OAuth2Auth, PleoClient
from pleo_erp.client._client import refuse_plain_http
from pleo_erp.client.auth import (
    AUTHORIZE_PATH,
    TOKEN_PATH,
    OAuthCallbackError,
    build_authorize_url,
    code_challenge_s256,
    generate_code_verifier,
    generate_state,
)
from pleo_erp.client.errors import AuthenticationError, PermissionDenied
from pleo_erp.client.scopes import ALL_LEVELS

__all__ = [
    "DEFAULT_SCOPES",
    "cmd_auth_login",
    "cmd_auth_logout",
    "cmd_auth_set_key",
    "cmd_auth_status",
    "open_browser",
]

DEFAULT_SCOPES: tuple[str, ...] = ALL_LEVELS
"""What a full three-level integration needs (tax-code scope names are not documented by
Pleo; these follow the other APIs' ``resource:permission`` pattern)."""

open_browser: Callable[[str], Any] = webbrowser.open
"""How ``auth login`` opens the authorize URL (tests replace it to follow the redirect)."""


# ---- login ----------------------------------------------------------------------------------


def _client_secret(ctx: Context) -> Secret:
    secret = ctx.settings.client_secret
    if secret:
        return secret
    if ctx.stdin.isatty():
        typed = getpass.getpass("OAuth client secret (input hidden): ")
        if typed.strip():
            return Secret(typed)
    raise UsageError(
        "no OAuth client secret",
        hint="set PLEO_CLIENT_SECRET (or client_secret in the config file)",
    )


def cmd_auth_login(ctx: Context) -> int:
    """Authorize pleo-erp with Pleo in the browser (OAuth2 + PKCE) and save the tokens."""
    args, settings, out = ctx.args, ctx.settings, ctx.out
    client_id = settings.client_id
    if not client_id:
        raise UsageError("no OAuth client id", hint="pass --client-id or set PLEO_CLIENT_ID")
    secret = _client_secret(ctx)
    out.add_secret(secret.reveal())
    base_url = ctx.base_url()
    auth_base = authorize_base_for(settings, base_url)
    # Before the browser opens: the client secret and tokens must not go over plain http.
    require_secure_url(base_url, "the Pleo base URL")
    require_secure_url(auth_base + TOKEN_PATH, "the OAuth token URL")
    scopes: Sequence[str] = args.scopes or settings.scopes or DEFAULT_SCOPES
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")

    verifier = generate_code_verifier()
    state = generate_state()
    try:
        receiver = CallbackReceiver(state, port=args.port)
        receiver.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None
    try:
        redirect_uri = receiver.redirect_uri
        url = build_authorize_url(
            client_id,
            redirect_uri,
            scopes,
            state,
            code_challenge_s256(verifier),
            authorize_url=auth_base + AUTHORIZE_PATH,
        )
        out.note("Authorize pleo-erp with Pleo in your browser. If it does not open, visit:")
        out.note(f"  {url}")
        out.note(f"Waiting up to {args.timeout:g}s for the redirect to {redirect_uri} …")
        if not args.no_browser:
            try:
                open_browser(url)
            except Exception as exc:  # a headless machine: the printed URL still works
                out.warn(f"could not open a browser ({type(exc).__name__}); open the URL yourself")
        try:
            code = receiver.wait(args.timeout)
        except OAuthCallbackError as exc:
            raise AuthError(
                f"login failed: {exc}", hint="run `pleo-erp auth login` again"
            ) from None
    finally:
        receiver.close()

    credentials = ctx.credentials()
    token_url = auth_base + TOKEN_PATH
    auth = OAuth2Auth(client_id, secret.reveal(), credentials.token_store(), token_url=token_url)
    tokens = auth.exchange_code(code, verifier, redirect_uri)
    granted = tuple((tokens.scope or "").split()) or tuple(scopes)
    credentials.save(
        StoredCredential(
            method="oauth",
            base_url=base_url,
            client_id=client_id,
            client_secret=secret,
            token_url=token_url,
            scopes=granted,
        )
    )
    with PleoClient(auth, base_url=base_url) as client:
        info = client.introspect()
    document = {
        "command": "auth login",
        "ok": True,
        "auth_method": "oauth",
        "base_url": base_url,
        "company_id": str(info.company_id) if info.company_id else None,
        "subject": info.subject_urn,
        "scopes": sorted(info.scopes or granted),
        "access_token_expires_at": tokens.expires_at.isoformat(),
        "state_db": str(settings.state_db),
    }
    if out.json_mode:
        out.emit(document)
    else:
        out.line("Logged in to Pleo with OAuth.")
        _describe(ctx, document)
        out.line(f"Tokens saved in {settings.state_db} (refreshed automatically).")
    return 0


# ---- set-key --------------------------------------------------------------------------------


def _read_key(ctx: Context) -> str:
    if ctx.stdin.isatty():
        key = getpass.getpass("Pleo API key (input hidden): ")
    else:
        key = ctx.stdin.readline()
    key = key.strip()
    if not key:
        raise UsageError(
            "no API key given on stdin",
            hint="pipe it in: `pleo-erp auth set-key < key.txt`, or type it at the prompt",
        )
    if any(ch.isspace() for ch in key):
        raise UsageError("the API key must be a single line without spaces")
    return key


def require_secure_url(url: str, what: str) -> None:
    """Refuse (as a configuration error) sending credentials to ``url`` over plain http to a
    host that is not loopback."""
    try:
        refuse_plain_http(url, what)
    except ValueError as exc:
        raise ConfigError(f"refusing {url}: {exc}") from None


def cmd_auth_set_key(ctx: Context) -> int:
    """Save an API key (read from stdin) for later commands, after checking it with Pleo."""
    out = ctx.out
    key = _read_key(ctx)
    out.add_secret(key)
    base_url = ctx.base_url()
    require_secure_url(base_url, "the Pleo base URL")  # the key would travel in clear text
    company_id = None
    if not ctx.args.no_verify:
        with PleoClient(ApiKeyAuth(key), base_url=base_url) as client:
            try:
                info = client.introspect()
            except (AuthenticationError, PermissionDenied):
                raise AuthError(
                    f"Pleo refused this API key at {base_url}; nothing was saved",
                    hint="check the key and the environment (--env / --base-url)",
                ) from None
        company_id = info.company_id
    ctx.credentials().save(
        StoredCredential(method="api_key", base_url=base_url, api_key=Secret(key))
    )
    document = {
        "command": "auth set-key",
        "ok": True,
        "auth_method": "api_key",
        "base_url": base_url,
        "verified": not ctx.args.no_verify,
        "company_id": str(company_id) if company_id else None,
        "state_db": str(ctx.settings.state_db),
    }
    if out.json_mode:
        out.emit(document)
    else:
        checked = "checked with Pleo and " if not ctx.args.no_verify else ""
        out.line(f"API key {checked}saved in {ctx.settings.state_db} (readable by you only).")
        if company_id:
            out.line(f"  company  {company_id}")
        out.line(f"  base URL {base_url}")
    return 0


# ---- status / logout ------------------------------------------------------------------------


def _describe(ctx: Context, document: dict[str, Any]) -> None:
    pairs = [
        ("base URL", document.get("base_url")),
        ("auth method", document.get("auth_method")),
        ("credential", document.get("credential")),
        ("company", document.get("company_id") or document.get("subject") or "(organisation)"),
        ("application", document.get("application")),
        ("scopes", " ".join(document.get("scopes") or []) or "(not reported)"),
        ("token expires", document.get("access_token_expires_at")),
    ]
    ctx.out.pairs(None, [(k, v) for k, v in pairs if v is not None])


def cmd_auth_status(ctx: Context) -> int:
    """Show which credential is used and what Pleo says about it (introspect)."""
    out = ctx.out
    connection = ctx.connect()
    with connection.client as client:
        info = client.introspect()
    document: dict[str, Any] = {
        "command": "auth status",
        "ok": True,
        "base_url": connection.base_url,
        "auth_method": connection.auth_method,
        "credential": connection.credential_source,
        "pleo_auth_method": info.auth_method,
        "company_id": str(info.company_id) if info.company_id else None,
        "subject": info.subject_urn,
        "application": info.application_name,
        "scopes": sorted(info.scopes),
    }
    if isinstance(connection.auth, OAuth2Auth) and connection.auth.tokens is not None:
        document["access_token_expires_at"] = connection.auth.tokens.expires_at.isoformat()
    if out.json_mode:
        out.emit(document)
    else:
        out.line("Pleo accepts the credential.")
        _describe(ctx, document)
    return 0


def cmd_auth_logout(ctx: Context) -> int:
    """Forget the saved credential and OAuth tokens (environment/config keys are untouched)."""
    removed = ctx.credentials().clear()
    if ctx.out.json_mode:
        ctx.out.emit({"command": "auth logout", "ok": True, "removed": removed})
    elif removed:
        ctx.out.line(f"Saved credential removed from {ctx.settings.state_db}.")
    else:
        ctx.out.line("No saved credential.")
    if ctx.settings.api_key:
        ctx.out.warn(f"an API key is still set by {ctx.settings.sources.get('api_key')}")
    return 0

"""The credential ``pleo-erp auth set-key`` / ``auth login`` saved, in the SQLite state database.

One row per profile: how to authenticate (API key, or OAuth with its client and token
endpoint) and against which base URL. OAuth tokens themselves live beside it in the
:class:`~pleo_erp.state.SQLiteTokenStore` under :data:`TOKEN_KEY`. The database file is created
readable by its owner only (mode 0600), as it holds secrets.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from attrs import define

from pleo_erp.cli._config import Secret
from pleo_erp.state import Migration, SQLiteTokenStore, StateDB

__all__ = ["FEATURE", "TOKEN_KEY", "CredentialStore", "StoredCredential"]

FEATURE = "cli_credentials"
"""The feature name under which the table's migrations are versioned."""

TOKEN_KEY = "cli:default"
"""The token-store key of the OAuth connection ``auth login`` creates."""

_MIGRATIONS: tuple[Migration, ...] = (
    """
    CREATE TABLE cli_credentials (
        profile       TEXT PRIMARY KEY,
        method        TEXT NOT NULL CHECK (method IN ('api_key', 'oauth')),
        base_url      TEXT,
        api_key       TEXT,
        client_id     TEXT,
        client_secret TEXT,
        token_url     TEXT,
        scopes        TEXT NOT NULL DEFAULT '',
        updated_at    TEXT NOT NULL
    );
    """,
)

Method = Literal["api_key", "oauth"]


@define(frozen=True)
class StoredCredential:
    """A saved credential. Secrets are :class:`Secret` (``***`` in every repr)."""

    method: Method
    base_url: str | None = None
    api_key: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    token_url: str | None = None
    scopes: tuple[str, ...] = ()
    updated_at: str = ""


class CredentialStore:
    """Load and save the CLI's credential for one profile in a :class:`StateDB`."""

    def __init__(self, db: StateDB, profile: str = "default") -> None:
        """Use (and migrate) ``db``; ``profile`` names the row."""
        self.db = db
        self.profile = profile
        db.apply_migrations(FEATURE, _MIGRATIONS)

    def load(self) -> StoredCredential | None:
        """The saved credential, or ``None``."""
        row = self.db.fetch_one(
            "SELECT method, base_url, api_key, client_id, client_secret, token_url, scopes,"
            " updated_at FROM cli_credentials WHERE profile = ?",
            (self.profile,),
        )
        if row is None:
            return None
        method, base_url, api_key, client_id, client_secret, token_url, scopes, updated = row
        return StoredCredential(
            method=method,
            base_url=base_url,
            api_key=Secret(api_key) if api_key else None,
            client_id=client_id,
            client_secret=Secret(client_secret) if client_secret else None,
            token_url=token_url,
            scopes=tuple(scopes.split()),
            updated_at=updated,
        )

    def save(self, credential: StoredCredential) -> None:
        """Replace the profile's credential (one transaction)."""
        values = (
            self.profile,
            credential.method,
            credential.base_url,
            credential.api_key.reveal() if credential.api_key else None,
            credential.client_id,
            credential.client_secret.reveal() if credential.client_secret else None,
            credential.token_url,
            " ".join(credential.scopes),
            datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        self.db.ensure_private()  # the row holds a secret: the file must not be 0644
        with self.db.transaction(immediate=True) as conn:
            conn.execute(
                "INSERT INTO cli_credentials (profile, method, base_url, api_key, client_id,"
                " client_secret, token_url, scopes, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (profile) DO UPDATE SET method = excluded.method,"
                " base_url = excluded.base_url, api_key = excluded.api_key,"
                " client_id = excluded.client_id, client_secret = excluded.client_secret,"
                " token_url = excluded.token_url, scopes = excluded.scopes,"
                " updated_at = excluded.updated_at",
                values,
            )
        self.db.ensure_private()

    def clear(self) -> bool:
        """Forget the profile's credential and OAuth tokens; ``True`` if anything was stored."""
        with self.db.transaction(immediate=True) as conn:
            removed = conn.execute(
                "DELETE FROM cli_credentials WHERE profile = ?", (self.profile,)
            ).rowcount
        tokens = self.token_store()
        had_tokens = tokens.load() is not None
        tokens.clear()
        return bool(removed) or had_tokens

    def token_store(self) -> SQLiteTokenStore:
        """The OAuth token store of this profile (same database)."""
        key = TOKEN_KEY if self.profile == "default" else f"cli:{self.profile}"
        return SQLiteTokenStore(self.db, key=key)

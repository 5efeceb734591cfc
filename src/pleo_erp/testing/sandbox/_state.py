"""Everything the sandbox remembers, as spec-shaped JSON dicts, behind one re-entrant lock.

Records are stored in dicts by id (O(1) lookups) and, per company, in lists ordered by a
global creation sequence number, which is what the cursors encode. Export job items are
indexed by ``accountingEntryId`` and counted per status so that a 10 000-item job can be
listed, filtered and updated without scanning it.
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Literal

from attrs import define, field

from ._clock import SandboxClock
from ._errors import ApiError

__all__ = [
    "AccessToken",
    "AuthorizationCode",
    "Company",
    "Credential",
    "Grant",
    "Job",
    "OAuthClient",
    "Record",
    "RefreshToken",
    "SandboxState",
    "StoredFile",
    "Subscription",
]

JSONDict = dict[str, Any]


@define(slots=True, eq=False)
class Record:
    """A stored object (tag group, tag, account, tax code): its sequence number and JSON."""

    seq: int
    company_id: str
    data: JSONDict


@define(slots=True, eq=False)
class Job:
    """An export job: its ``ExportJobV3`` fields (``expiresIn`` is computed) and its items.

    ``items`` holds the ``ExportJobItemV3`` objects in job order, ``index`` maps an
    ``accountingEntryId`` to its position, ``counts`` tracks how many items are in each
    status.
    """

    seq: int
    data: JSONDict
    items: list[JSONDict]
    index: dict[str, int]
    counts: Counter[str]

    @property
    def id(self) -> str:
        """The job id."""
        return str(self.data["id"])

    @property
    def company_id(self) -> str:
        """The company the job belongs to."""
        return str(self.data["companyId"])

    @property
    def status(self) -> str:
        """The job status."""
        return str(self.data["status"])


@define(slots=True, eq=False)
class Company:
    """One Pleo company and the per-company orderings of what it owns."""

    id: str
    name: str
    organization_id: str
    missing_contra_accounts: bool = False
    #: accountingEntryId -> ExportItemV3 (the data layer behind the jobs).
    entries: dict[str, JSONDict] = field(factory=dict)
    #: accountingEntryId -> the entry's JSON text (entries never change once stored).
    encoded_entries: dict[str, bytes] = field(factory=dict)
    #: Pleo account id -> number of export item lines / contra accounts referencing it.
    account_usage: Counter[str] = field(factory=Counter)
    contra_account_ids: set[str] = field(factory=set)
    jobs: list[Job] = field(factory=list)
    tag_groups: list[Record] = field(factory=list)
    tags: list[Record] = field(factory=list)
    accounts: list[Record] = field(factory=list)
    tax_codes: list[Record] = field(factory=list)
    #: externalId -> account record (externalId is unique per company).
    accounts_by_external_id: dict[str, Record] = field(factory=dict)


@define(slots=True, eq=False)
class Credential:
    """What an API key or an OAuth grant may do.

    ``company_ids`` ``None`` means every company of the organisation (an organisation-level
    key, like the sandbox's default key).
    """

    kind: Literal["api_key", "oauth"]
    application_id: str
    client_id: str
    application_name: str
    company_ids: frozenset[str] | None
    scopes: tuple[str, ...]

    def covers(self, company_id: str) -> bool:
        """Whether the credential may act on ``company_id``."""
        return self.company_ids is None or company_id in self.company_ids


@define(slots=True, eq=False)
class OAuthClient:
    """A registered OAuth client (one per integration/application)."""

    client_id: str
    client_secret: str = field(repr=False)
    application_id: str
    name: str
    redirect_uris: tuple[str, ...] | None


@define(slots=True, eq=False)
class AuthorizationCode:
    """A one-time authorization code waiting to be exchanged at ``/oauth/token``."""

    code: str = field(repr=False)
    client_id: str
    company_ids: frozenset[str]
    scopes: tuple[str, ...]
    redirect_uri: str | None
    code_challenge: str | None
    expires_at: float
    used: bool = False
    grant_id: str | None = None


@define(slots=True, eq=False)
class RefreshToken:
    """One refresh token of a grant; ``state`` becomes ``used`` once rotated."""

    grant_id: str
    expires_at: float
    state: Literal["active", "used", "revoked"] = "active"


@define(slots=True, eq=False)
class AccessToken:
    """A bearer access token."""

    grant_id: str
    expires_at: float
    revoked: bool = False


@define(slots=True, eq=False)
class Grant:
    """One authorisation of a client by a company; rotates refresh tokens."""

    id: str
    client_id: str
    credential: Credential
    refresh_tokens: list[str] = field(factory=list)
    revoked: bool = False


@define(slots=True, eq=False)
class Subscription:
    """A webhook subscription, its signing secret and the client (``owner``) that made it.

    ``company_ids`` are the companies whose events it receives (``None``: all of them).
    """

    seq: int
    owner: str
    data: JSONDict
    secret: str = field(repr=False)
    company_ids: frozenset[str] | None
    activities: list[JSONDict] = field(factory=list)
    #: The endpointAuth as sent (with credentials); the public view omits secrets.
    endpoint_auth: JSONDict | None = field(default=None, repr=False)


@define(slots=True, eq=False)
class StoredFile:
    """A receipt file served at ``/_sandbox/files/<id>``."""

    content_type: str
    content: bytes = field(repr=lambda content: f"<{len(content)} bytes>")


class SandboxState:
    """All sandbox data. Callers hold :attr:`lock` while reading or changing it."""

    def __init__(self, *, seed: int, clock: SandboxClock) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        # A namespaced seed: the demo builder seeds its own RNG with the bare seed, and the
        # two id streams must not coincide.
        self.rng = random.Random(f"pleo-erp-sandbox:{seed}")
        #: Pleo does not say whether pending jobs expire; by default only started ones do.
        self.expire_pending_jobs = False
        self.access_token_ttl = 3600.0
        #: Pleo promises "at least 60 days" for refresh tokens.
        self.refresh_token_ttl = 60 * 86400.0
        self._seq = itertools.count(1)
        self.organization_id = self.new_id()
        self.companies: dict[str, Company] = {}
        self.jobs: dict[str, Job] = {}
        self.tag_groups: dict[str, Record] = {}
        self.tags: dict[str, Record] = {}
        #: tag group id -> its tags in creation order
        self.group_tags: dict[str, list[Record]] = {}
        self.accounts: dict[str, Record] = {}
        self.tax_codes: dict[str, Record] = {}
        self.subscriptions: dict[str, Subscription] = {}
        #: (application id, company id) -> InstallationResponse
        self.installations: dict[tuple[str, str], JSONDict] = {}
        self.files: dict[str, StoredFile] = {}
        self.api_keys: dict[str, Credential] = {}
        self.oauth_clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        #: Secret that signs receipt download URLs.
        self.file_secret = self.new_token("", 16)
        #: Called (under the lock) with every new export job.
        self.job_listeners: list[Callable[[Job], None]] = []
        #: Callbacks to run after the lock is released (webhook deliveries).
        self.after_commit: list[Callable[[], None]] = []
        #: Things a faithful client should not do that Pleo may tolerate silently.
        self.warnings: list[str] = []

    # -- ids and time -------------------------------------------------------------------

    def new_id(self) -> str:
        """A fresh UUID (version 4), reproducible for a given seed."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_token(self, prefix: str, nbytes: int = 24) -> str:
        """A fresh opaque token (URL-safe), reproducible for a given seed."""
        raw = self.rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big")
        return prefix + raw.hex()

    def next_seq(self) -> int:
        """The next creation sequence number (orders every listing)."""
        return next(self._seq)

    def now_epoch(self) -> float:
        """The sandbox time as a POSIX timestamp."""
        return self.clock.now().timestamp()

    # -- lookups that raise Pleo-shaped errors -------------------------------------------

    def company(self, company_id: str) -> Company:
        """The company, or 404 ``COMPANY_NOT_FOUND``."""
        found = self.companies.get(company_id)
        if found is None:
            raise ApiError(404, "COMPANY_NOT_FOUND", f"Company {company_id} not found.")
        return found

    def job(self, job_id: str) -> Job:
        """The export job, or 404 ``EXPORT_NOT_FOUND``."""
        found = self.jobs.get(job_id)
        if found is None:
            raise ApiError(404, "EXPORT_NOT_FOUND", "Export job not found.")
        return found

    def iter_companies(self) -> Iterator[Company]:
        """Companies in creation order."""
        return iter(self.companies.values())

    def warn(self, message: str) -> None:
        """Record something a careful client would not do (see ``PleoSandbox.warnings``)."""
        self.warnings.append(message)

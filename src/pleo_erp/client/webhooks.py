"""Verify and parse Pleo webhook deliveries (DESIGN decisions 10 and 13).

Pleo signs deliveries the Standard Webhooks way (inferred from its headers and ``whsec_``
secrets; export-api.md §7 and Part 2 item 6): ``webhook-signature`` holds one or more
space-separated ``v1,<base64 HMAC-SHA256>`` entries over
``"{webhook-id}.{webhook-timestamp}.{body}"``, keyed with the base64-decoded part of the
secret. A subscription may instead use Basic auth or a custom header, so verification is a
small protocol with three implementations:
:class:`StandardWebhookVerifier`, :class:`BasicAuthVerifier` and :class:`HeaderVerifier`.

A receiver should: verify before parsing, reject replays (:class:`ReplayGuard`, dedupe on
``webhook-id``), answer 2xx fast, and treat the event as a trigger only — polling stays the
source of truth. :func:`verify_and_parse` does the first two in the right order.

Every comparison of secret material is constant-time, and no error message, log line or
``repr`` ever contains a secret, a signature or a credential.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from pleo_erp.client.errors import ResponseValidationError, WebhookVerificationError
from pleo_erp.client.serialization import structure
from pleo_erp.models.webhooks import (
    ExportJobCreatedPayload,
    WebhookEventPayload,
    WrappedWebhookPayload,
)

__all__ = [
    "EXPORT_JOB_CREATED",
    "EXPORT_JOB_CREATED_ALIASES",
    "BasicAuthVerifier",
    "ExportJobCreatedEvent",
    "HeaderVerifier",
    "ReplayGuard",
    "ReplayProtection",
    "ReplayStore",
    "StandardWebhookVerifier",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookReplayError",
    "WebhookVerificationError",
    "WebhookVerifier",
    "parse_event",
    "sign",
    "signature_headers",
    "verify_and_parse",
]

logger = logging.getLogger("pleo_erp.webhooks")

EXPORT_JOB_CREATED = "v1.export-job.created"
"""The event type Pleo sends when a user starts an export (the spelling used in payloads)."""

EXPORT_JOB_CREATED_ALIASES = frozenset(
    {EXPORT_JOB_CREATED, "v1.export.job-created", "export-job.created", "v2.export-job.created"}
)
"""Every spelling of the export-job event found in Pleo's docs (export-api.md Part 2 item 4).

All parse to :class:`ExportJobCreatedEvent`: the event is only a trigger, so accepting a
variant costs nothing and missing one would delay an export until the next poll.
"""

_SECRET_PREFIX = "whsec_"
_HEADER_ID = "webhook-id"
_HEADER_TIMESTAMP = "webhook-timestamp"
_HEADER_SIGNATURE = "webhook-signature"
_REDACTED = "'***'"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _as_bytes(body: bytes | bytearray | memoryview | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _digest_equal(left: bytes, right: bytes) -> bool:
    """Constant-time equality that does not even leak the lengths (both sides are hashed)."""
    return hmac.compare_digest(hashlib.sha256(left).digest(), hashlib.sha256(right).digest())


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class WebhookReplayError(WebhookVerificationError):
    """The delivery verified, but its ``webhook-id`` was already accepted.

    Senders redeliver when an acknowledgement is lost, so a receiver should answer 2xx (and
    do nothing) rather than an error status, or the sender keeps retrying.
    """


class WebhookPayloadError(ResponseValidationError):
    """A verified delivery whose body is not the JSON event shape expected (names the path)."""


# --------------------------------------------------------------------------------------------
# Signing (Standard Webhooks)
# --------------------------------------------------------------------------------------------


def _decode_secret(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        key = secret
    else:
        text = secret.strip()
        if text.startswith(_SECRET_PREFIX):
            text = text[len(_SECRET_PREFIX) :]
        try:
            # Tolerate secrets shared without their base64 padding.
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("webhook secret is not valid base64 after the whsec_ prefix") from None
    if not key:
        raise ValueError("webhook secret must not be empty")
    return key


def _timestamp_text(timestamp: int | datetime) -> str:
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware")
        return str(math.floor(timestamp.timestamp()))
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError("timestamp must be Unix seconds (int) or an aware datetime")
    return str(timestamp)


def _signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    signed = msg_id.encode("utf-8") + b"." + timestamp.encode("ascii") + b"." + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(
    secret: str | bytes,
    msg_id: str,
    timestamp: int | datetime,
    body: bytes | str,
) -> str:
    """The ``webhook-signature`` entry (``"v1,<base64>"``) for one delivery.

    ``secret`` is the ``whsec_…`` string (or the raw key bytes); ``timestamp`` Unix seconds or
    an aware datetime; ``body`` the exact bytes sent. The sandbox uses this to sign deliveries.
    """
    key = _decode_secret(secret)
    digest = _signature(key, msg_id, _timestamp_text(timestamp), _as_bytes(body))
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(
    secret: str | bytes,
    msg_id: str,
    timestamp: int | datetime,
    body: bytes | str,
) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery, ready to send."""
    return {
        _HEADER_ID: msg_id,
        _HEADER_TIMESTAMP: _timestamp_text(timestamp),
        _HEADER_SIGNATURE: sign(secret, msg_id, timestamp, body),
    }


# --------------------------------------------------------------------------------------------
# Verifiers
# --------------------------------------------------------------------------------------------


@runtime_checkable
class WebhookVerifier(Protocol):
    """Decides whether a delivery really comes from Pleo.

    ``verify`` returns normally for an authentic delivery and raises
    :class:`WebhookVerificationError` otherwise. ``headers`` is any mapping of the request's
    headers (names compared case-insensitively); ``body`` the raw, unparsed request body.
    """

    def verify(self, headers: Mapping[str, str], body: bytes | str) -> None:
        """Raise :class:`WebhookVerificationError` unless the delivery is authentic."""
        ...


class StandardWebhookVerifier:
    """Standard Webhooks HMAC-SHA256 verification with a timestamp tolerance.

    Rejects: a missing ``webhook-id``/``webhook-timestamp``/``webhook-signature``; a timestamp
    that is not whole Unix seconds or lies more than ``tolerance`` in the past *or* future; a
    signature header without any ``v1`` entry matching (others, e.g. from a rotated secret or a
    future ``v2`` scheme, are skipped).
    """

    def __init__(
        self,
        secret: str | bytes,
        *,
        tolerance: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Verify with the subscription secret (``whsec_…`` from ``GET …/secret``)."""
        if tolerance < timedelta(0):
            raise ValueError("tolerance must not be negative")
        self._key = _decode_secret(secret)
        self.tolerance = tolerance
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes | str) -> None:
        """Raise :class:`WebhookVerificationError` unless signature and timestamp check out."""
        lowered = _lower_keys(headers)
        msg_id = lowered.get(_HEADER_ID, "").strip()
        timestamp = lowered.get(_HEADER_TIMESTAMP, "").strip()
        signatures = lowered.get(_HEADER_SIGNATURE, "")
        for name, value in (
            (_HEADER_ID, msg_id),
            (_HEADER_TIMESTAMP, timestamp),
            (_HEADER_SIGNATURE, signatures.strip()),
        ):
            if not value:
                raise WebhookVerificationError(f"missing {name} header")
        self._check_timestamp(timestamp)
        expected = _signature(self._key, msg_id, timestamp, _as_bytes(body))
        matched = False
        for entry in signatures.split():
            version, _, encoded = entry.partition(",")
            if version != "v1" or not encoded:
                continue
            try:
                candidate = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue
            # No early exit: every entry costs the same whether or not an earlier one matched.
            matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise WebhookVerificationError("no webhook signature matches the body and secret")

    def _check_timestamp(self, text: str) -> None:
        # ``isascii``: ``"²".isdigit()`` is true but ``int("²")`` fails.
        if not (text.isascii() and text.isdigit()) or len(text) > 12:
            raise WebhookVerificationError("webhook-timestamp is not Unix seconds")
        try:
            sent = datetime.fromtimestamp(int(text), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):  # e.g. a year beyond 9999
            raise WebhookVerificationError("webhook-timestamp is out of range") from None
        now = self._clock()
        if sent < now - self.tolerance:
            raise WebhookVerificationError(
                f"webhook timestamp is older than the {self.tolerance} tolerance"
            )
        if sent > now + self.tolerance:
            raise WebhookVerificationError(
                f"webhook timestamp is further in the future than the {self.tolerance} tolerance"
            )

    def __repr__(self) -> str:
        return f"StandardWebhookVerifier(secret={_REDACTED}, tolerance={self.tolerance!r})"

    __str__ = __repr__


class BasicAuthVerifier:
    """Accepts deliveries carrying the Basic credentials given at subscription time.

    Pleo echoes the subscription's ``endpointAuth`` ``BASIC`` credentials on every
    notification (export-api.md §7). Offers no replay protection of its own: pair it with a
    :class:`ReplayGuard`.
    """

    def __init__(self, username: str, password: str) -> None:
        """Expect ``Authorization: Basic base64(username:password)``."""
        if not username or ":" in username:
            raise ValueError("username must be non-empty and contain no ':'")
        if not password:
            raise ValueError("password must not be empty")
        self._expected = f"{username}:{password}".encode()

    def verify(self, headers: Mapping[str, str], body: bytes | str) -> None:
        """Raise :class:`WebhookVerificationError` unless the Basic credentials match."""
        value = _lower_keys(headers).get("authorization", "").strip()
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            raise WebhookVerificationError("missing Basic authorization on the webhook")
        try:
            received = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise WebhookVerificationError("malformed Basic authorization on the webhook") from None
        if not _digest_equal(received, self._expected):
            raise WebhookVerificationError("webhook Basic credentials do not match")

    def __repr__(self) -> str:
        return f"BasicAuthVerifier(username={_REDACTED}, password={_REDACTED})"

    __str__ = __repr__


class HeaderVerifier:
    """Accepts deliveries carrying a custom header with a shared value (``customHeaders``)."""

    def __init__(self, header_name: str, value: str) -> None:
        """Expect header ``header_name`` (any case) to equal ``value`` exactly."""
        if not header_name.strip():
            raise ValueError("header_name must not be empty")
        if not value:
            raise ValueError("value must not be empty")
        self.header_name = header_name.strip().lower()
        self._expected = value.encode("utf-8")

    def verify(self, headers: Mapping[str, str], body: bytes | str) -> None:
        """Raise :class:`WebhookVerificationError` unless the header carries the value."""
        received = _lower_keys(headers).get(self.header_name)
        if received is None:
            raise WebhookVerificationError(f"missing {self.header_name} header on the webhook")
        if not _digest_equal(received.encode("utf-8"), self._expected):
            raise WebhookVerificationError(f"webhook {self.header_name} header does not match")

    def __repr__(self) -> str:
        return f"HeaderVerifier(header_name={self.header_name!r}, value={_REDACTED})"

    __str__ = __repr__


# --------------------------------------------------------------------------------------------
# Replay protection
# --------------------------------------------------------------------------------------------


@runtime_checkable
class ReplayProtection(Protocol):
    """What a receiver needs to reject replayed deliveries; :class:`ReplayGuard` is the
    in-memory default, a durable inbox (e.g. in the state database) can take its place.

    ``record`` must be atomic: of two concurrent calls with the same id exactly one returns
    ``True``.
    """

    def seen(self, webhook_id: str) -> bool:
        """Whether ``webhook_id`` was recorded already (and not yet forgotten)."""
        ...

    def record(self, webhook_id: str) -> bool:
        """Remember ``webhook_id``; ``True`` if it was new, ``False`` if it was a replay."""
        ...


@runtime_checkable
class ReplayStore(Protocol):
    """Optional durable memory of accepted ids, shared across restarts or processes."""

    def add_if_absent(self, webhook_id: str, seen_at: datetime) -> bool:
        """Record ``webhook_id``; ``True`` if it was new, ``False`` if already recorded.

        Must be atomic (e.g. ``INSERT OR IGNORE`` and check the row count).
        """
        ...


class ReplayGuard:
    """Rejects a ``webhook-id`` seen before, with bounded memory.

    Ids are remembered for ``ttl`` (default one day; the timestamp tolerance already rejects
    older signed replays) and at most ``max_entries`` of them (the oldest are forgotten
    first). An optional :class:`ReplayStore` makes the memory survive restarts and spans
    processes. Thread-safe.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        ttl: timedelta = timedelta(days=1),
        clock: Callable[[], datetime] = _utcnow,
        store: ReplayStore | None = None,
    ) -> None:
        """Configure the memory bounds, the clock and an optional durable store."""
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._store = store
        self._seen: OrderedDict[str, datetime] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def seen(self, webhook_id: str) -> bool:
        """Whether ``webhook_id`` is remembered in memory (:class:`ReplayProtection`)."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            return webhook_id in self._seen

    def record(self, webhook_id: str) -> bool:
        """Remember ``webhook_id``; ``False`` if it was seen already (:class:`ReplayProtection`)."""
        try:
            self.check_and_remember(webhook_id)
        except WebhookReplayError:
            return False
        return True

    def check_and_remember(self, webhook_id: str) -> None:
        """Remember ``webhook_id``; raise :class:`WebhookReplayError` if it was seen already.

        Call only after the delivery verified, so forged ids cannot fill the memory.
        """
        if not webhook_id:
            raise WebhookVerificationError("missing webhook id; cannot check for replays")
        now = self._clock()
        with self._lock:
            self._expire(now)
            if webhook_id in self._seen:
                raise WebhookReplayError("webhook already received (replayed webhook-id)")
            if self._store is not None and not self._store.add_if_absent(webhook_id, now):
                self._remember(webhook_id, now)
                raise WebhookReplayError("webhook already received (replayed webhook-id)")
            self._remember(webhook_id, now)

    def _remember(self, webhook_id: str, now: datetime) -> None:
        self._seen[webhook_id] = now
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)

    def _expire(self, now: datetime) -> None:
        horizon = now - self.ttl
        while self._seen:
            oldest_id, seen_at = next(iter(self._seen.items()))
            if seen_at >= horizon:
                break
            del self._seen[oldest_id]

    def __repr__(self) -> str:
        return f"ReplayGuard(max_entries={self.max_entries}, ttl={self.ttl!r})"


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


@attrs.define(frozen=True, kw_only=True)
class WebhookEvent:
    """A verified webhook event: its type, id and the raw ``data`` object.

    Unknown event types arrive as this class; known ones as a subclass with typed fields.
    """

    event_type: str
    event_id: str | None
    data: Mapping[str, Any]


@attrs.define(frozen=True, kw_only=True)
class ExportJobCreatedEvent(WebhookEvent):
    """``v1.export-job.created``: a user clicked Export and a ``pending`` job exists.

    A trigger only (decision 10): fetch the job list and process from there. ``data`` is
    the export job as it was when the event fired; ``is_interactive`` and the like may be
    missing, so only ``id``/``companyId`` are required.
    """

    job_id: uuid.UUID
    company_id: uuid.UUID
    status: str | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    expires_in: int | None = None
    number_of_items: int | None = None


def parse_event(body: bytes | str | Mapping[str, Any]) -> WebhookEvent:
    """Parse a (verified) delivery body into a :class:`WebhookEvent` or a typed subclass.

    Accepts both shapes Pleo's docs show (export-api.md Part 2 item 5): a body of
    ``{"data", "eventType", "eventId"}``, or the same wrapped in ``"payload"``. The body is
    structured into the models of :mod:`pleo_erp.models.webhooks` by the SDK's one converter,
    so its rules apply (scalars checked, unknown keys ignored, date-times as the converter reads
    them). Raises :class:`WebhookPayloadError` naming the JSON path of the first problem.
    """
    if isinstance(body, Mapping):
        document: Any = dict(body)
    else:
        try:
            document = json.loads(_as_bytes(body))
        except ValueError:  # includes UnicodeDecodeError
            raise WebhookPayloadError("WebhookEventPayload", ["$: not JSON"], path="$") from None
    # The newer docs' shape: the event under "payload" beside copies of the signature headers.
    wrapped = (
        isinstance(document, dict)
        and "eventType" not in document
        and isinstance(document.get("payload"), dict)
    )
    prefix = "$.payload" if wrapped else "$"
    event = _structure_event(document, WebhookEventPayload, wrapped=wrapped)
    if not event.event_type:
        raise WebhookPayloadError(
            "WebhookEventPayload",
            [f"must not be empty @ {prefix}.eventType"],
            path=f"{prefix}.eventType",
        )
    # The payload models carry the events' fields under the same names (the job's ``id``
    # becomes ``job_id``), so the events are built from them field by field.
    common = attrs.asdict(event, recurse=False)
    if event.event_type not in EXPORT_JOB_CREATED_ALIASES:
        return WebhookEvent(**common)
    job = attrs.asdict(
        _structure_event(document, ExportJobCreatedPayload, wrapped=wrapped).data, recurse=False
    )
    return ExportJobCreatedEvent(**common, job_id=job.pop("id"), **job)


_Payload = TypeVar("_Payload", WebhookEventPayload, ExportJobCreatedPayload)


def _structure_event(document: Any, cls: type[_Payload], *, wrapped: bool) -> _Payload:
    """``document`` as ``cls`` (or as ``cls`` under ``"payload"``), errors as JSON paths."""
    try:
        if wrapped:
            return structure(document, WrappedWebhookPayload[cls]).payload  # type: ignore[valid-type]
        return structure(document, cls)
    except ResponseValidationError as exc:
        raise WebhookPayloadError(exc.model, exc.errors, path=exc.path) from None


def verify_and_parse(
    headers: Mapping[str, str],
    body: bytes | str,
    verifier: WebhookVerifier,
    replay_guard: ReplayProtection | None = None,
) -> WebhookEvent:
    """Verify a delivery, parse it, and (optionally) reject replays — in that order.

    Replays are keyed on ``webhook-id``, or on the event's ``eventId`` when a verifier
    without that header (Basic, custom header) is used. Raises only
    :class:`WebhookVerificationError` (incl. :class:`WebhookReplayError`) or
    :class:`WebhookPayloadError`, whatever the headers and body hold (hostile values
    included: out-of-range timestamps, non-ASCII digits, deeply nested JSON).
    """
    try:
        verifier.verify(headers, body)
    except WebhookVerificationError as exc:
        logger.warning("webhook rejected: %s", exc)
        raise
    except (ValueError, TypeError, OverflowError, UnicodeError) as exc:
        # A verifier tripping over a hostile header value: refused, never a crash.
        logger.warning("webhook rejected: malformed headers (%s)", type(exc).__name__)
        raise WebhookVerificationError("malformed webhook headers") from None
    try:
        event = parse_event(body)
    except RecursionError:
        raise WebhookPayloadError(
            "WebhookEventPayload", ["$: nested too deeply"], path="$"
        ) from None
    if replay_guard is not None:
        webhook_id = _lower_keys(headers).get(_HEADER_ID, "").strip() or event.event_id or ""
        if not webhook_id:
            raise WebhookVerificationError("missing webhook id; cannot check for replays")
        if not replay_guard.record(webhook_id):
            raise WebhookReplayError("webhook already received (replayed webhook-id)")
    logger.debug("webhook accepted: %s", event.event_type)
    return event

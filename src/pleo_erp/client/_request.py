"""What one API operation sends and reads: :class:`Call`, :class:`Operation` and their helpers.

Resources describe each operation as an ``Operation``: a ``Call`` (method, path, query pairs,
JSON body and whether re-sending it is safe) plus the function that parses the response body.
The transport turns the call into an ``httpx.Request``. Keeping this pure (no I/O) is what lets
the sync and async clients share every operation definition: each resource module builds its
operations once, and its blocking and ``async`` classes only run them.

Query parameters are snake_case exactly as the specs name them (DESIGN decision 9); lists are
sent exploded (``?statuses=pending&statuses=in_progress``); booleans as ``true``/``false``.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pleo_erp.client.errors import PleoAPIError

__all__ = [
    "Call",
    "Operation",
    "QueryValue",
    "encode_json",
    "ensure_uuid",
    "id_path",
    "query",
]

T = TypeVar("T")

QueryValue = str | int | bool | uuid.UUID | enum.Enum | None
"""A scalar accepted as a query parameter value."""


@dataclass(frozen=True)
class Call:
    """One HTTP call to Pleo, before it becomes an ``httpx.Request``.

    Attributes:
        operation: a dotted name for logs, e.g. ``"export_jobs.get"``.
        method: the HTTP method, upper case.
        path: the versioned path (``/v3/export-jobs/…``), already percent-encoded.
        params: query pairs in order (repeated keys allowed), or ``()``.
        body: the JSON-ready request body, or ``None`` for no body.
        idempotent: whether sending the call twice has the same effect as once; decides
            whether the transport may re-send it after an ambiguous failure.
    """

    operation: str
    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: Any = None
    idempotent: bool = True

    def with_params(self, **extra: QueryValue | Iterable[QueryValue]) -> Call:
        """A copy with query pairs added (``None`` values skipped); used to page with ``after``."""
        added = query(**extra)
        return replace(self, params=self.params + added) if added else self


@dataclass(frozen=True, slots=True)  # slots: one is built per request, so keep it cheap
class Operation(Generic[T]):
    """One API operation as both clients run it: the call and how to read its response.

    Attributes:
        call: what to send.
        parse: turns the decoded JSON body (``None`` when empty) into the result, e.g. by
            structuring a ``{"data": ...}`` envelope into a model.
        refine_error: optionally turns a ``PleoAPIError`` of this operation into a more
            specific one (e.g. a 409 on account create into ``AccountExternalIdConflict``).
    """

    call: Call
    parse: Callable[[Any], T]
    refine_error: Callable[[PleoAPIError], PleoAPIError] | None = None


def _query_text(value: QueryValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def query(**params: QueryValue | Iterable[QueryValue]) -> tuple[tuple[str, str], ...]:
    """Query pairs from keyword arguments, in order, skipping ``None``.

    A list/tuple/set value becomes one pair per element (OpenAPI ``style: form, explode: true``).
    """
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, (str, enum.Enum, uuid.UUID, int)):
            pairs.append((name, _query_text(value)))
            continue
        for element in value:
            if element is not None:
                pairs.append((name, _query_text(element)))
    return tuple(pairs)


def ensure_uuid(value: uuid.UUID | str, name: str) -> uuid.UUID:
    """``value`` as a UUID; ``ValueError`` naming the argument for anything else.

    Company, job, account… ids are UUIDs in every spec. Checking locally turns an easy mistake
    (an organisation slug, a list, an int) into a clear error with no HTTP call
    (accounts-sync-and-auth.md rule 18).
    """
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ValueError(f"{name} must be a UUID, got {type(value).__name__}")


def id_path(collection: str, value: uuid.UUID | str, name: str, suffix: str = "") -> str:
    """``{collection}/{id}{suffix}`` for the UUID ``value`` (argument ``name`` in errors).

    Every path parameter in Pleo's specs is a UUID. Checking it first means a caller's value
    can never add path segments or a query, and a UUID's text (hex digits and hyphens) needs no
    percent-encoding.
    """
    return f"{collection}/{ensure_uuid(value, name)}{suffix}"


def _json_default(value: object) -> Any:
    """Encode the non-JSON types a request body may carry (spec formats)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime in a request body: attach a timezone")
        text = value.astimezone(dt.timezone.utc).isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send non-finite number {value}")
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        # Only emit a JSON float when it reads back as the exact same decimal.
        if Decimal(repr(as_float)) == value:
            return as_float
        raise ValueError(f"{value} cannot be sent as a JSON number without losing precision")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_json(body: Any) -> bytes:
    """UTF-8 JSON bytes for a request body (compact, non-ASCII kept as is)."""
    return json.dumps(
        body, default=_json_default, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")

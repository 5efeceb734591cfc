"""Factories shared by the Level 2/3 sync tests (pure-domain and sandbox)."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pleo_erp.models import (
    BookkeepingAccountRestModelV1,
    TagGroupModel,
    TagModel,
    TaxCodeModel,
)

COMPANY = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
_counter = itertools.count(1)


def uid(n: int | None = None) -> uuid.UUID:
    """A readable, increasing UUID (ids sort in creation order)."""
    return uuid.UUID(int=n if n is not None else next(_counter))


def group(
    code: str,
    name: str | None = None,
    *,
    archived: bool = False,
    id: uuid.UUID | None = None,
    created: int = 0,
    metadata: dict[str, str] | None = None,
) -> TagGroupModel:
    """A Pleo tag group as the API returns it."""
    return TagGroupModel(
        archived=archived,
        code=code,
        company_id=COMPANY,
        created_at=T0 + timedelta(minutes=created),
        id=id or uid(),
        metadata=metadata if metadata is not None else {},
        name=name if name is not None else code,
        updated_at=T0,
    )


def tag(
    code: str,
    name: str | None = None,
    *,
    group_id: uuid.UUID | None = None,
    archived: bool = False,
    id: uuid.UUID | None = None,
    created: int = 0,
) -> TagModel:
    """A Pleo tag as the API returns it."""
    return TagModel(
        archived=archived,
        code=code,
        created_at=T0 + timedelta(minutes=created),
        group_id=group_id or uid(10_000),
        id=id or uid(),
        name=name,
        updated_at=T0,
    )


def account(
    external_id: str,
    name: str,
    *,
    code: str | None = None,
    archived: bool = False,
    tax: str | None = None,
    metadata: dict[str, Any] | None = None,
    id: uuid.UUID | None = None,
) -> BookkeepingAccountRestModelV1:
    """A Pleo account as the API returns it."""
    return BookkeepingAccountRestModelV1(
        archived=archived,
        company_id=COMPANY,
        external_id=external_id,
        id=id or uid(),
        name=name,
        code=code,
        metadata=metadata,
        tax_code_external_id=tax,
    )


def tax_code(
    code: str | None,
    name: str,
    rate: str = "0.25",
    *,
    type: str = "inclusive",
    archived: bool = False,
    ingoing: str | None = None,
    outgoing: str | None = None,
    id: uuid.UUID | None = None,
) -> TaxCodeModel:
    """A Pleo tax code as the API returns it."""
    return TaxCodeModel(
        archived=archived,
        company_id=COMPANY,
        created_at=T0,
        id=id or uid(),
        name=name,
        rate=Decimal(rate),
        type=type,
        updated_at=T0,
        code=code,
        ingoing_tax_account=ingoing,
        outgoing_tax_account=outgoing,
    )


def kinds(plan: Any) -> list[tuple[str, str]]:
    """``[(kind, key), ...]`` of a plan's writes, in apply order."""
    return [(a.kind.value, a.target.key) for a in plan.actions]


def writes(sandbox: Any) -> list[Any]:
    """The write requests in a sandbox's log (anything but GET and read-only searches)."""
    return [r for r in sandbox.requests if r.method != "GET" and not r.path.endswith(":search")]

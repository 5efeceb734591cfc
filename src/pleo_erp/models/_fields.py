"""Field helpers shared by every wire model.

Two pieces of per-field wire knowledge live in attrs metadata, where the one cattrs converter
(`pleo_erp.client.serialization`) reads them:

* ``WIRE_NAME`` – the JSON property name when it is not the plain camelCase of the attribute
  (``_links`` → ``links``, ``subjectURN`` → ``subject_urn``, ``from`` → ``from_``).
* ``SKIP_NULL_ITEMS`` – the spec lets this array hold ``null`` entries (its item schema is
  nullable) but a null entry carries no information, so it is dropped while structuring and
  the attribute is typed ``tuple[X, ...]`` instead of ``tuple[X | None, ...]``.
* ``EMIT_NULL`` – whether a ``None`` value is written as JSON ``null``. Without it a ``None``
  field is left out of the JSON object. Response models set it for every property the spec
  declares nullable; request models set it only where ``null`` carries meaning (clearing a
  value in a PUT), so a request never sends ``null`` where the spec does not allow it.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["EMIT_NULL", "SKIP_NULL_ITEMS", "WIRE_NAME", "nullable", "wire"]

WIRE_NAME = "pleo_erp.wire_name"
EMIT_NULL = "pleo_erp.emit_null"
SKIP_NULL_ITEMS = "pleo_erp.skip_null_items"


def nullable(*, emit_null: bool = True, skip_null_items: bool = False) -> Any:
    """An optional field (default ``None``) that the spec declares nullable.

    ``emit_null`` (default) writes ``None`` as ``null``; ``skip_null_items`` marks an array
    whose ``null`` entries are dropped while structuring.
    """
    metadata: dict[str, Any] = {}
    if emit_null:
        metadata[EMIT_NULL] = True
    if skip_null_items:
        metadata[SKIP_NULL_ITEMS] = True
    return attrs.field(default=None, metadata=metadata)


def wire(name: str, *, emit_null: bool = False) -> Any:
    """An optional field (default ``None``) whose JSON property name is ``name``.

    ``emit_null`` writes ``None`` as ``null``. A *required* renamed field is declared inline as
    ``attrs.field(metadata={WIRE_NAME: name})`` so that type checkers still see it as required.
    """
    metadata: dict[str, Any] = {WIRE_NAME: name}
    if emit_null:
        metadata[EMIT_NULL] = True
    return attrs.field(default=None, metadata=metadata)

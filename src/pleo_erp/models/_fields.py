"""Per-field wire knowledge shared by every model, kept in attrs field metadata.

The one cattrs converter (``pleo_erp.client.serialization``) reads these keys:

* ``WIRE_NAME`` – the JSON property name when it is not the plain camelCase of the attribute
  (``_links`` → ``links``, ``subjectURN`` → ``subject_urn``, ``from`` → ``from_``).
* ``EMIT_NULL`` – a ``None`` value is written as JSON ``null``. Without it a ``None`` field is
  left out of the JSON object. Response models set it for every property the spec declares
  nullable; request models only where ``null`` carries meaning (clearing a value in a PUT),
  so a request never sends ``null`` where the spec does not allow it.
* ``SKIP_NULL_ITEMS`` – the spec lets this array hold ``null`` entries (its item schema is
  nullable) but a null entry carries no information, so it is dropped while structuring and
  the attribute is typed ``tuple[X, ...]`` rather than ``tuple[X | None, ...]``.

Models use the ready-made metadata mappings below, e.g.
``note: str | None = field(default=None, metadata=NULLABLE)``.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "EMIT_NULL",
    "NULLABLE",
    "NULLABLE_ITEMS",
    "SKIP_NULLS",
    "SKIP_NULL_ITEMS",
    "WIRE_NAME",
]

WIRE_NAME = "pleo_erp.wire_name"
EMIT_NULL = "pleo_erp.emit_null"
SKIP_NULL_ITEMS = "pleo_erp.skip_null_items"

NULLABLE: Mapping[str, bool] = {EMIT_NULL: True}
"""A nullable property: ``None`` is written as ``null``."""

NULLABLE_ITEMS: Mapping[str, bool] = {EMIT_NULL: True, SKIP_NULL_ITEMS: True}
"""A nullable array whose null items are dropped; ``None`` is written as ``null``."""

SKIP_NULLS: Mapping[str, bool] = {SKIP_NULL_ITEMS: True}
"""An optional request array whose null items are dropped; ``None`` is left out."""

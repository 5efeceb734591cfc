"""The one place that knows how Pleo's JSON maps onto ``pleo_erp.models``.

``structure(data, cls)`` turns parsed JSON into models and raises
``ResponseValidationError`` naming the JSON path of every bad field
(``$.data[3].amount.inWalletCurrency.value``). ``unstructure(obj)`` turns models into
camelCase, JSON-ready dicts and lists.

Wire rules
----------
* Names: attribute ``snake_case`` ↔ JSON ``camelCase``; the exceptions (``_links``, ``from``,
  ``subjectURN``) are declared on the field (``pleo_erp.models._fields.WIRE_NAME``).
  Unknown JSON keys are ignored.
* Scalars are checked, never coerced: a number is not a string, ``"false"`` is not a bool, a
  float with a fraction is not an integer (money is integer minor units).
* UUIDs → ``uuid.UUID``. Date-times → timezone-aware ``datetime``; ``Z`` and offsets are
  accepted on every Python version (3.10's ``fromisoformat`` rejects ``Z``), more than six
  fractional digits are truncated, a value without an offset is taken as UTC. Written back
  in UTC with ``Z``. Dates → ``datetime.date`` (a date-time string yields its date part).
* Decimals (tax rates) → ``Decimal`` from a JSON string, integer or number. A number arrives as
  a float from ``json.loads``; it is converted through its shortest ``repr``, which is the
  decimal text Pleo sent for any value of up to 15 significant digits, never through the
  float's binary value. Parse with ``loads`` (``parse_float=Decimal``) to skip floats
  altogether. Written back as an integer when integral, else as a float whose ``repr`` is
  exactly the decimal (a value needing more digits is refused instead of being rounded).
* Open enums (fields typed ``SomeEnum | str``): a known value becomes the member, an unknown
  value is kept as the raw string; never an error. Closed enums (request models only) refuse
  unknown values.
* Arrays are tuples. Where the spec allows ``null`` items in an array of objects or strings,
  null items are dropped (``SKIP_NULL_ITEMS``).
* ``None`` when writing: a field marked ``EMIT_NULL`` is written as ``null``; any other
  ``None`` field is left out. Response models mark every property the spec declares nullable;
  request models mark only properties whose ``null`` means "clear this value" in a PUT. So a
  request never contains a ``null`` the spec forbids, and no optional request field is sent
  unless it was set.

Where the rules live
--------------------
This module is the front door; the rules are split by concern:

* :mod:`pleo_erp.client._wire`: the scalar and name rules above, pure functions.
* :mod:`pleo_erp.client._wire_converter`: :func:`make_converter`, the cattrs hook factories
  that apply the rules to every model (generated per-model functions, renamed to wire names).
* :mod:`pleo_erp.client._wire_sharing`: :class:`SharingCache`, the opt-in sharing of equal
  values while structuring.
* :mod:`pleo_erp.client._wire_errors`: the error path (JSON paths of every failure).

Speed: two converters share the rules. The fast one (``converter``) runs cattrs' generated
structuring functions without detailed validation. Only when it fails is the input
re-structured by a second converter with ``detailed_validation=True``, whose error tree
``cattrs.transform_error`` turns into the JSON paths. On the fast path, ``X | None`` of the
common scalars is one fused hook, and ``MoneyModel`` pairs (five per export-item line) have a
hand-written hook.

Memory: a page repeats the same accounts, tags, people, vendors, currencies and tax rates on
every item. The SDK's ``converter`` opts in to sharing equal immutable values through its own
bounded :class:`SharingCache` (:data:`sharing_cache`): short strings, UUIDs, decimals, "leaf"
models (``AccountV3``, ``TagV3``, ``VendorV3``, …), tuples of them and equal supplier/wallet
``MoneyModel`` pairs. Models are frozen, so sharing is invisible except to ``is``; it roughly
halves the typed size of an export-item page. ``make_converter()`` without ``sharing`` builds a
converter that shares nothing. ``benchmarks/bench_models.py`` and ``benchmarks/bench_export.py``
measure the result.
"""

from __future__ import annotations

import typing
from typing import Any, TypeVar

import cattrs

from pleo_erp.client._wire import WireTypeError, WireValueError, loads, type_name, wire_name
from pleo_erp.client._wire_converter import make_converter
from pleo_erp.client._wire_errors import validation_error
from pleo_erp.client._wire_sharing import SharingCache

__all__ = [
    "SharingCache",
    "WireTypeError",
    "WireValueError",
    "converter",
    "detailed_converter",
    "loads",
    "make_converter",
    "sharing_cache",
    "structure",
    "type_name",
    "unstructure",
    "wire_name",
]

T = TypeVar("T")

sharing_cache: SharingCache = SharingCache()
"""The bounded caches the SDK's ``converter`` shares equal values through (``.clear()`` them)."""

converter: cattrs.Converter = make_converter(sharing=sharing_cache)
"""The fast converter every part of the SDK uses. Prefer ``structure``: it adds JSON paths."""

detailed_converter: cattrs.Converter = make_converter(detailed=True)
"""Same rules with ``detailed_validation``; ``structure`` uses it only to explain a failure."""


@typing.overload
def structure(data: Any, cls: type[T]) -> T: ...


@typing.overload
def structure(data: Any, cls: Any) -> Any: ...


def structure(data: Any, cls: Any) -> Any:
    """Build ``cls`` (a model, a ``CursorPage[...]`` / ``DataResponse[...]`` alias, a tuple of
    models, …) from parsed JSON.

    Raises ``ResponseValidationError`` whose ``path`` is the JSON path of the first bad field
    and whose ``errors`` list every problem as ``"<what> @ <path>"``.
    """
    try:
        return converter.structure(data, cls)
    except Exception:  # noqa: S110 - the detailed pass below re-raises with the JSON path
        pass
    # Slow path, only on failure: redo with detailed validation to learn *where* it failed.
    try:
        return detailed_converter.structure(data, cls)
    except Exception as exc:
        raise validation_error(type_name(cls), exc) from None


def unstructure(obj: Any, cls: Any = None) -> Any:
    """Turn a model (or a tuple/list of models) into JSON-ready dicts and lists, camelCase.

    ``None`` fields are omitted unless the field is marked to be sent as ``null`` (module
    docstring). Pass ``cls`` to unstructure as a declared type (e.g. a generic envelope).
    """
    if cls is None and isinstance(obj, (list, tuple)):
        return [converter.unstructure(item) for item in obj]
    return converter.unstructure(obj, unstructure_as=cls)

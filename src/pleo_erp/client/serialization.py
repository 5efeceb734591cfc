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

Speed: two converters share these rules. The fast one (``converter``) runs cattrs' generated
structuring functions without detailed validation. Only when it fails is the input
re-structured by a second converter with ``detailed_validation=True``, whose error tree
``cattrs.transform_error`` turns into the JSON paths. On the fast path, ``X | None`` of the
common scalars is one fused hook, and ``MoneyModel`` pairs (five per export-item line) have a
hand-written hook.

Memory: a page repeats the same accounts, tags, people, vendors, currencies and tax rates on
every item, and ``json.loads`` gives each occurrence its own objects. The fast converter
shares equal immutable values instead: short strings, UUIDs and decimals through small
bounded caches, "leaf" models (every field a string, UUID or open enum: ``AccountV3``,
``TagV3``, ``VendorV3``, …) as one instance per distinct input, tuples of such models (a
line's tags), and the supplier/wallet ``MoneyModel`` of a pair when both are equal. Models
are frozen, so sharing is invisible except to ``is``; it roughly halves the typed size of an
export-item page and the objects the garbage collector walks. ``benchmarks/bench_models.py``
and ``benchmarks/bench_export.py`` measure the result.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import math
import operator
import re
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from pleo_erp.client.errors import ResponseValidationError
from pleo_erp.models._fields import EMIT_NULL, SKIP_NULL_ITEMS, WIRE_NAME
from pleo_erp.models.common import MoneyModel

__all__ = [
    "WireTypeError",
    "WireValueError",
    "converter",
    "detailed_converter",
    "loads",
    "structure",
    "type_name",
    "unstructure",
    "wire_name",
]

T = TypeVar("T")

_UTC = dt.timezone.utc
_NoneType = type(None)
_StructureHook = Callable[[Any, Any], Any]


class WireTypeError(TypeError):
    """A JSON value has the wrong JSON type for its field. The message never quotes the value."""


class WireValueError(ValueError):
    """A JSON value has the right type but an invalid content. The message never quotes it."""


def _json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for error messages that must not echo values."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# --------------------------------------------------------------------------- names


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def wire_name(field: attrs.Attribute[Any]) -> str:
    """The JSON property name of an attrs field of a wire model."""
    explicit = field.metadata.get(WIRE_NAME)
    return explicit if isinstance(explicit, str) else _camel(field.name)


def type_name(cls: Any) -> str:
    """A readable name for a model type or a generic alias (``CursorPage[ExportItemV3]``)."""
    origin = typing.get_origin(cls)
    if origin is None:
        return getattr(cls, "__name__", repr(cls))
    args = ", ".join("..." if a is Ellipsis else type_name(a) for a in typing.get_args(cls))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(cls))
    return f"{type_name(origin)}[{args}]"


# --------------------------------------------------------------------------- scalars


# ``json.loads`` makes a new object for every string value, so a page of 1 000 export items
# holds a thousand copies of "SEK" and of every account name, tag code and person name. The
# fast converter keeps one object per distinct short string instead (a third of a page's typed
# size). A bounded dict rather than ``sys.intern``: unique strings (reconciliation ids, notes)
# would otherwise grow the interpreter's intern table for good; here they just fall out at the
# next clear. Long strings (URLs) are usually unique and are left alone.
_SHARE_MAX_LEN = 64
_STR_CACHE: dict[str, str] = {}
_STR_CACHE_MAX = 8192
_str_cache_get = _STR_CACHE.get


def _share_new(value: str) -> str:
    """Remember a short string not seen recently (the slow half of sharing)."""
    if len(_STR_CACHE) >= _STR_CACHE_MAX:
        _STR_CACHE.clear()
    _STR_CACHE[value] = value
    return value


def _shared(value: str) -> str:
    """The shared object equal to ``value`` (``value`` itself when it is long)."""
    if len(value) > _SHARE_MAX_LEN:
        return value
    return _str_cache_get(value) or _share_new(value)


def _structure_str(value: Any, cls: Any) -> Any:
    if cls is str:
        if type(value) is str:
            if len(value) > _SHARE_MAX_LEN:
                return value
            return _str_cache_get(value) or _share_new(value)
        if isinstance(value, str):
            return value
        raise WireTypeError(f"expected a string, got {_json_type(value)}")
    # cattrs dispatches every ``str`` subclass here, so closed ``str`` enums arrive too.
    return _closed_enum_hook(cls)(value, cls)


@functools.cache
def _closed_enum_hook(enum_cls: type[enum.Enum]) -> _StructureHook:
    """Structure hook of a closed enum: a known value or an error (request models only)."""
    members = {m.value: m for m in enum_cls}
    name = enum_cls.__name__

    def structure_enum(value: Any, _: Any) -> Any:
        if not isinstance(value, str):
            raise WireTypeError(f"expected a string, got {_json_type(value)}")
        member = members.get(value)
        if member is None:
            raise WireValueError(f"not a {name} value")
        return member

    return structure_enum


def _structure_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        result: bool = value
        return result
    raise WireTypeError(f"expected a boolean, got {_json_type(value)}")


def _structure_int(value: Any, _: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, (float, Decimal)):
        raise WireValueError("expected an integer, got a number with a fraction")
    raise WireTypeError(f"expected an integer, got {_json_type(value)}")


def _structure_float(value: Any, _: Any) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    raise WireTypeError(f"expected a number, got {_json_type(value)}")


# Decimals by their text: a page repeats a handful of tax rates thousands of times. The cached
# value is exactly ``Decimal(text)`` and a ``Decimal``'s ``str`` reads back to an identical one,
# so sharing never changes a value or its exponent. Bounded like the UUID cache.
_DECIMAL_CACHE: dict[str, Decimal] = {}
_DECIMAL_CACHE_MAX = 256
_decimal_cache_get = _DECIMAL_CACHE.get


def _decimal_from_text(text: str) -> Decimal:
    cached = _decimal_cache_get(text)
    if cached is not None:
        return cached
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise WireValueError("expected a decimal number") from None
    if not result.is_finite():
        raise WireValueError("expected a finite number")
    if len(text) <= 32:
        if len(_DECIMAL_CACHE) >= _DECIMAL_CACHE_MAX:
            _DECIMAL_CACHE.clear()
        _DECIMAL_CACHE[text] = result
    return result


def _structure_decimal(value: Any, _: Any) -> Decimal:
    kind = type(value)
    if kind is Decimal:
        if not value.is_finite():
            raise WireValueError("expected a finite number")
        return _decimal_from_text(str(value))
    if kind is float:
        if not math.isfinite(value):
            raise WireValueError("expected a finite number")
        # repr() is the shortest text that reads back as this float: the JSON literal Pleo sent.
        return _decimal_from_text(repr(value))
    if kind is int:
        return Decimal(value)
    if kind is str:
        return _decimal_from_text(value)
    raise WireTypeError(f"expected a number, got {_json_type(value)}")


_UUID_CACHE: dict[str, uuid.UUID] = {}
_UUID_CACHE_MAX = 1024
_uuid_cache_get = _UUID_CACHE.get
_new_uuid = object.__new__
_set_uuid_attr = object.__setattr__
_SAFE_UNKNOWN = uuid.SafeUUID.unknown


def _parse_uuid(text: str) -> uuid.UUID:
    """Parse the canonical 8-4-4-4-12 form without ``uuid.UUID.__init__``'s generic parsing."""
    if len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-":
        try:
            raw = bytes.fromhex(text.replace("-", ""))
        except ValueError:
            raw = b""
        if len(raw) == 16:
            result = _new_uuid(uuid.UUID)
            _set_uuid_attr(result, "int", int.from_bytes(raw, "big"))
            _set_uuid_attr(result, "is_safe", _SAFE_UNKNOWN)
            return result
    try:
        return uuid.UUID(text)  # other spellings UUID() accepts (no dashes, braces, urn:uuid:)
    except ValueError:
        raise WireValueError("expected a UUID") from None


def _structure_uuid(value: Any, _: Any) -> uuid.UUID:
    if type(value) is str:
        cached = _uuid_cache_get(value)
        if cached is not None:
            return cached
        parsed = _parse_uuid(value)
        if len(_UUID_CACHE) >= _UUID_CACHE_MAX:
            _UUID_CACHE.clear()  # bounded memory; UUIDs are immutable so sharing is safe
        _UUID_CACHE[value] = parsed
        return parsed
    if isinstance(value, uuid.UUID):
        return value
    raise WireTypeError(f"expected a UUID string, got {_json_type(value)}")


_fromisoformat = dt.datetime.fromisoformat
_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?"
)


def _parse_datetime_slow(text: str) -> dt.datetime:
    """ISO 8601 forms ``fromisoformat`` rejects on some Python versions (e.g. nanoseconds)."""
    match = _ISO_DATETIME.fullmatch(text)
    if match is None:
        raise WireValueError("expected an ISO 8601 date-time")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    tz: dt.tzinfo | None = None
    if zulu:
        tz = _UTC
    elif sign:
        offset = dt.timedelta(hours=int(off_h), minutes=int(off_m or 0))
        tz = dt.timezone(-offset if sign == "-" else offset)
    try:
        return dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError:
        raise WireValueError("expected a valid date-time") from None


def _structure_datetime(value: Any, _: Any) -> dt.datetime:
    if type(value) is not str:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value
        raise WireTypeError(f"expected a date-time string, got {_json_type(value)}")
    text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        result = _fromisoformat(text)
    except ValueError:
        result = _parse_datetime_slow(value)
    if result.tzinfo is None:
        result = result.replace(tzinfo=_UTC)  # Pleo's times are UTC; never leave one naive
    return result


def _structure_date(value: Any, _: Any) -> dt.date:
    if type(value) is not str:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        raise WireTypeError(f"expected a date string, got {_json_type(value)}")
    if len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise WireValueError("expected an ISO 8601 date") from None
    # The spec types invoice dates as date-time; take the calendar date as written.
    text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        return _fromisoformat(text).date()
    except ValueError:
        return _parse_datetime_slow(value).date()


# ``X | None`` for the commonest scalars, fused into one call: optional string and UUID fields
# are most of an export item, and a wrapper call per field is measurable on a 10k-item page.


def _structure_optional_str(value: Any, _: Any) -> str | None:
    if type(value) is str:
        if len(value) > _SHARE_MAX_LEN:
            return value
        return _str_cache_get(value) or _share_new(value)
    if value is None:
        return None
    checked: str = _structure_str(value, str)  # raises: not a string
    return checked


def _structure_optional_uuid(value: Any, _: Any) -> uuid.UUID | None:
    if value is None:
        return None
    if type(value) is str:
        cached = _uuid_cache_get(value)
        if cached is not None:
            return cached
    return _structure_uuid(value, _)


def _structure_optional_bool(value: Any, _: Any) -> bool | None:
    if value is None or value is True or value is False:
        result: bool | None = value
        return result
    return _structure_bool(value, _)


def _structure_optional_int(value: Any, _: Any) -> int | None:
    if value is None or type(value) is int:
        result: int | None = value
        return result
    return _structure_int(value, _)


def _structure_optional_datetime(value: Any, _: Any) -> dt.datetime | None:
    return None if value is None else _structure_datetime(value, _)


_FUSED_OPTIONAL: dict[Any, _StructureHook] = {
    str: _structure_optional_str,
    uuid.UUID: _structure_optional_uuid,
    bool: _structure_optional_bool,
    int: _structure_optional_int,
    dt.datetime: _structure_optional_datetime,
}


def _structure_money_fast(value: Any, _: Any) -> MoneyModel:
    """``MoneyModel`` without per-field calls: it occurs ~20 times on every export item.

    Any irregularity falls back to the generated function, which raises the precise error.
    """
    currency = value["currency"]
    amount = value["value"]
    if type(currency) is str and type(amount) is int:
        return MoneyModel(_shared(currency), amount)
    result: MoneyModel = _money_generated(value, _)
    return result


def _money_pair_hook(
    cls: type[Any], keys: tuple[str, str], generated: _StructureHook
) -> _StructureHook:
    """Structure hook of a class holding exactly two ``MoneyModel`` (the amount in supplier and
    in wallet currency, five times per export-item line).

    Both amounts are read in one call, and when they are equal (same currency) one immutable
    ``MoneyModel`` serves both. Anything irregular goes to the generated function, which
    raises the precise error.
    """
    first_key, second_key = keys

    def structure_money_pair(value: Any, _: Any) -> Any:
        if type(value) is not dict:
            return generated(value, _)
        try:
            first = value[first_key]
            second = value[second_key]
            first_currency = first["currency"]
            first_value = first["value"]
            second_currency = second["currency"]
            second_value = second["value"]
        except (KeyError, TypeError, IndexError):
            return generated(value, _)
        if (
            type(first_currency) is not str
            or type(first_value) is not int
            or type(second_currency) is not str
            or type(second_value) is not int
        ):
            return generated(value, _)
        a = MoneyModel(_shared(first_currency), first_value)
        if second_value == first_value and second_currency == first_currency:
            b = a
        else:
            b = MoneyModel(_shared(second_currency), second_value)
        return cls(a, b)

    return structure_money_pair


def _unstructure_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise WireValueError("refusing to serialize a naive datetime; attach a timezone")
    text = value.astimezone(_UTC).isoformat()
    return text[:-6] + "Z"


def _unstructure_decimal(value: Decimal) -> int | float:
    if not value.is_finite():
        raise WireValueError("cannot serialize a non-finite decimal")
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) != value:
        raise WireValueError("decimal has more digits than a JSON number keeps exactly")
    return as_float


def loads(data: str | bytes) -> Any:
    """``json.loads`` that reads non-integer numbers as ``Decimal`` (exact tax rates)."""
    return json.loads(data, parse_float=Decimal)


# --------------------------------------------------------------------------- type predicates


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _union_without_none(tp: Any) -> Any:
    rest = tuple(a for a in typing.get_args(tp) if a is not _NoneType)
    return rest[0] if len(rest) == 1 else typing.Union[rest]  # noqa: UP007 (runtime union)


def _is_optional(tp: Any) -> bool:
    return _is_union(tp) and _NoneType in typing.get_args(tp)


def _open_enum_of(tp: Any) -> type[enum.Enum] | None:
    """The enum of an ``SomeEnum | str`` annotation, else ``None``."""
    if not _is_union(tp):
        return None
    args = set(typing.get_args(tp))
    if len(args) != 2 or str not in args:
        return None
    (other,) = args - {str}
    return other if isinstance(other, type) and issubclass(other, enum.Enum) else None


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _is_var_tuple(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _is_dict(tp: Any) -> bool:
    return typing.get_origin(tp) in (dict, Mapping) and len(typing.get_args(tp)) == 2


def _attrs_origin(tp: Any) -> type[Any] | None:
    origin = typing.get_origin(tp) or tp
    return origin if isinstance(origin, type) and attrs.has(origin) else None


# --------------------------------------------------------------------------- configuration


class _Rules:
    """Registers the wire rules on one converter (fast or detailed flavour)."""

    def __init__(self, conv: cattrs.Converter, *, detailed: bool) -> None:
        self.conv = conv
        self.detailed = detailed

    def install(self) -> None:
        conv = self.conv
        for cls, hook in (
            (str, _structure_str),
            (bool, _structure_bool),
            (int, _structure_int),
            (float, _structure_float),
            (Decimal, _structure_decimal),
            (uuid.UUID, _structure_uuid),
            (dt.datetime, _structure_datetime),
            (dt.date, _structure_date),
        ):
            conv.register_structure_hook(cls, hook)
        conv.register_unstructure_hook(uuid.UUID, str)
        conv.register_unstructure_hook(str, _unstructure_enum)  # str enums → their plain value
        conv.register_unstructure_hook(dt.datetime, _unstructure_datetime)
        conv.register_unstructure_hook(dt.date, dt.date.isoformat)
        conv.register_unstructure_hook(Decimal, _unstructure_decimal)

        # Later registrations win in cattrs' dispatch: generic shapes first, specific last.
        conv.register_structure_hook_factory(_is_dict, self._dict_structure)
        conv.register_structure_hook_factory(_is_var_tuple, self._tuple_structure)
        conv.register_structure_hook_factory(_is_enum, self._closed_enum_structure)
        conv.register_structure_hook_factory(_is_optional, self._optional_structure)
        conv.register_structure_hook_factory(
            lambda tp: _open_enum_of(tp) is not None, self._open_enum_structure
        )
        conv.register_structure_hook_factory(
            lambda tp: _attrs_origin(tp) is not None, self._attrs_structure
        )
        conv.register_unstructure_hook_factory(_is_var_tuple, self._tuple_unstructure)
        conv.register_unstructure_hook_factory(_is_enum, lambda _: _unstructure_enum)
        conv.register_unstructure_hook_factory(
            lambda tp: _open_enum_of(tp) is not None, lambda _: _unstructure_enum
        )
        conv.register_unstructure_hook_factory(
            lambda tp: _attrs_origin(tp) is not None, self._attrs_unstructure
        )

    # -- structure factories -------------------------------------------------

    def _optional_structure(self, tp: Any) -> _StructureHook:
        inner = _union_without_none(tp)
        fused = _FUSED_OPTIONAL.get(inner)
        if fused is not None:
            return fused
        hook = self.conv.get_structure_hook(inner)

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else hook(value, inner)

        return structure_optional

    def _open_enum_structure(self, tp: Any) -> _StructureHook:
        enum_cls = _open_enum_of(tp)
        assert enum_cls is not None
        members = {m.value: m for m in enum_cls}
        lookup = members.get

        def structure_open_enum(value: Any, _: Any) -> Any:
            if type(value) is str:
                member = lookup(value)
                return value if member is None else member
            if isinstance(value, str):
                return value
            raise WireTypeError(f"expected a string, got {_json_type(value)}")

        return structure_open_enum

    def _closed_enum_structure(self, tp: Any) -> _StructureHook:
        return _closed_enum_hook(tp)

    def _tuple_structure(self, tp: Any, *, skip_null: bool = False) -> _StructureHook:
        item_type = typing.get_args(tp)[0]
        hook = self.conv.get_structure_hook(item_type)

        if not self.detailed:
            if skip_null:

                def structure_tuple_skip(value: Any, _: Any) -> tuple[Any, ...]:
                    if type(value) is not list and type(value) is not tuple:
                        raise WireTypeError(f"expected an array, got {_json_type(value)}")
                    return tuple([hook(v, item_type) for v in value if v is not None])

                fast = structure_tuple_skip
            else:

                def structure_tuple(value: Any, _: Any) -> tuple[Any, ...]:
                    if type(value) is not list and type(value) is not tuple:
                        raise WireTypeError(f"expected an array, got {_json_type(value)}")
                    return tuple([hook(v, item_type) for v in value])

                fast = structure_tuple
            origin = _attrs_origin(item_type)
            if origin is not None and _is_leaf(origin):
                return _shared_tuples(fast)
            return fast

        def structure_tuple_detailed(value: Any, _: Any) -> tuple[Any, ...]:
            if not isinstance(value, (list, tuple)):
                raise WireTypeError(f"expected an array, got {_json_type(value)}")
            result = []
            errors: list[Exception] = []
            for index, item in enumerate(value):
                if item is None and skip_null:
                    continue
                try:
                    result.append(hook(item, item_type))
                except Exception as exc:
                    note = IterableValidationNote(
                        f"Structuring {type_name(tp)} @ index {index}", index, item_type
                    )
                    _add_note(exc, note)
                    errors.append(exc)
            if errors:
                raise IterableValidationError(f"While structuring {type_name(tp)}", errors, tp)
            return tuple(result)

        return structure_tuple_detailed

    def _dict_structure(self, tp: Any) -> _StructureHook:
        key_type, value_type = typing.get_args(tp)
        key_hook = self.conv.get_structure_hook(key_type)
        value_hook = self.conv.get_structure_hook(value_type)
        passthrough = value_type is Any

        if not self.detailed:

            def structure_dict(value: Any, _: Any) -> dict[Any, Any]:
                if type(value) is not dict:
                    raise WireTypeError(f"expected an object, got {_json_type(value)}")
                if passthrough:
                    return {key_hook(k, key_type): v for k, v in value.items()}
                return {key_hook(k, key_type): value_hook(v, value_type) for k, v in value.items()}

            return structure_dict

        def structure_dict_detailed(value: Any, _: Any) -> dict[Any, Any]:
            if not isinstance(value, dict):
                raise WireTypeError(f"expected an object, got {_json_type(value)}")
            result = {}
            errors: list[Exception] = []
            for key, item in value.items():
                try:
                    result[key_hook(key, key_type)] = (
                        item if passthrough else value_hook(item, value_type)
                    )
                except Exception as exc:
                    note = IterableValidationNote(
                        f"Structuring {type_name(tp)} @ key {key!r}", key, value_type
                    )
                    _add_note(exc, note)
                    errors.append(exc)
            if errors:
                raise IterableValidationError(f"While structuring {type_name(tp)}", errors, tp)
            return result

        return structure_dict_detailed

    def _attrs_structure(self, tp: Any) -> _StructureHook:
        origin = _attrs_origin(tp)
        assert origin is not None
        attrs.resolve_types(origin)
        overrides: dict[str, Any] = {}
        for field in attrs.fields(origin):
            hook: _StructureHook | None = None
            if field.metadata.get(SKIP_NULL_ITEMS):
                hook = self._skip_null_tuple_hook(field.type)
            overrides[field.name] = override(rename=wire_name(field), struct_hook=hook)
        generated = make_dict_structure_fn(
            tp, self.conv, _cattrs_forbid_extra_keys=False, **overrides
        )
        if not self.detailed:
            if _is_leaf(origin):
                return _memoized_leaf(generated, [wire_name(f) for f in attrs.fields(origin)])
            fields = attrs.fields(origin)
            if len(fields) == 2 and all(f.type is MoneyModel for f in fields):
                wire = (wire_name(fields[0]), wire_name(fields[1]))
                return _money_pair_hook(origin, wire, generated)
            if any(field.default is attrs.NOTHING for field in attrs.fields(origin)):
                # A required key is read with ``o[key]``: a non-object fails on its own.
                return generated

            def structure_optional_only(value: Any, cls: Any) -> Any:
                # Every key is optional, so the generated code would only test membership
                # (``key in o``) and accept a list or a string; refuse them here.
                if type(value) is not dict:
                    raise WireTypeError(f"expected an object, got {_json_type(value)}")
                return generated(value, cls)

            return structure_optional_only

        def structure_object(value: Any, cls: Any) -> Any:
            # The generated function would report a non-object once per field; say it once.
            if not isinstance(value, dict):
                raise WireTypeError(f"expected an object, got {_json_type(value)}")
            return generated(value, cls)

        return structure_object

    def _skip_null_tuple_hook(self, field_type: Any) -> _StructureHook:
        tuple_type = _union_without_none(field_type) if _is_optional(field_type) else field_type
        if not _is_var_tuple(tuple_type):
            raise TypeError(f"{SKIP_NULL_ITEMS} needs a tuple[X, ...] field, not {field_type}")
        hook = self._tuple_structure(tuple_type, skip_null=True)
        if tuple_type is field_type:
            return hook

        def structure_optional_tuple(value: Any, _: Any) -> Any:
            return None if value is None else hook(value, tuple_type)

        return structure_optional_tuple

    # -- unstructure factories -----------------------------------------------

    def _tuple_unstructure(self, tp: Any) -> Callable[[Any], Any]:
        item_type = typing.get_args(tp)[0]
        # An unresolved type variable (an envelope unstructured without its parameter)
        # dispatches on each value's runtime class.
        hook = (
            self.conv.unstructure
            if isinstance(item_type, TypeVar)
            else self.conv.get_unstructure_hook(item_type)
        )

        def unstructure_tuple(value: Any) -> list[Any]:
            return [hook(v) for v in value]

        return unstructure_tuple

    def _attrs_unstructure(self, tp: Any) -> Callable[[Any], Any]:
        origin = _attrs_origin(tp)
        assert origin is not None
        attrs.resolve_types(origin)
        overrides: dict[str, Any] = {
            field.name: override(
                rename=wire_name(field),
                omit_if_default=field.default is None and not field.metadata.get(EMIT_NULL),
            )
            for field in attrs.fields(origin)
        }
        return make_dict_unstructure_fn(tp, self.conv, **overrides)


# Leaf models (every field a string, UUID or open enum: an account, a tag, a person, a vendor)
# repeat on every item of a page. Equal inputs give equal, immutable models, so the fast
# converter hands out one shared instance per distinct input: fewer objects to build, to keep
# in memory and for the garbage collector to walk. Only string-like fields qualify, because
# their JSON values compare equal only when they structure alike (``1 == 1.0 == True`` rules
# out numbers and booleans).

_LEAF_CACHE_MAX = 2048
_MISSING = object()


def _is_leaf_field_type(tp: Any) -> bool:
    if _is_optional(tp):
        tp = _union_without_none(tp)
    return tp is str or tp is uuid.UUID or _open_enum_of(tp) is not None


def _is_leaf(cls: type[Any]) -> bool:
    fields = attrs.fields(cls)
    return bool(fields) and all(
        _is_leaf_field_type(f.type) and not f.metadata.get(SKIP_NULL_ITEMS) for f in fields
    )


def _memoized_leaf(generated: _StructureHook, keys: list[str]) -> _StructureHook:
    cache: dict[Any, Any] = {}
    lookup = cache.get
    # The key is the field values as sent: ``itemgetter`` reads them all in one C call when
    # every key is present (the usual case); an absent key is told apart from ``null``.
    read_all = operator.itemgetter(*keys)

    def structure_leaf(value: Any, cls: Any) -> Any:
        if type(value) is not dict:
            raise WireTypeError(f"expected an object, got {_json_type(value)}")
        try:
            key = read_all(value)
        except KeyError:
            key = (_MISSING, *[value.get(k, _MISSING) for k in keys])
        try:
            hit = lookup(key)
        except TypeError:  # an unhashable value (a list, an object): not a valid leaf anyway
            return generated(value, cls)
        if hit is not None:
            return hit
        result = generated(value, cls)
        if len(cache) >= _LEAF_CACHE_MAX:
            cache.clear()  # bounded memory; the next page refills what it needs
        cache[key] = result
        return result

    return structure_leaf


def _shared_tuples(structure_tuple: _StructureHook) -> _StructureHook:
    """One shared tuple per distinct sequence of shared leaf models (a line's tags repeat).

    Leaf models are shared instances, so the sequence is identified by their ids; the cache
    keeps those instances alive, so an id cannot be reused while it is a key.
    """
    cache: dict[tuple[int, ...], tuple[Any, ...]] = {}
    lookup = cache.get

    def structure_shared_tuple(value: Any, cls: Any) -> tuple[Any, ...]:
        result: tuple[Any, ...] = structure_tuple(value, cls)
        key = tuple(map(id, result))
        hit = lookup(key)
        if hit is not None:
            return hit
        if len(cache) >= _LEAF_CACHE_MAX:
            cache.clear()
        cache[key] = result
        return result

    return structure_shared_tuple


def _add_note(exc: Exception, note: str) -> None:
    """``exc.add_note(note)``, which Python 3.10 lacks (cattrs reads ``__notes__``)."""
    exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


def _unstructure_enum(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _make_converter(*, detailed: bool) -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=detailed, forbid_extra_keys=False)
    _Rules(conv, detailed=detailed).install()
    return conv


converter: cattrs.Converter = _make_converter(detailed=False)
"""The fast converter every part of the SDK uses. Prefer ``structure``: it adds JSON paths."""

detailed_converter: cattrs.Converter = _make_converter(detailed=True)
"""Same rules with ``detailed_validation``; ``structure`` uses it only to explain a failure."""

_money_generated = converter.get_structure_hook(MoneyModel)
converter.register_structure_hook(MoneyModel, _structure_money_fast)


# --------------------------------------------------------------------------- errors


def _rename_notes(exc: BaseException) -> None:
    """Rewrite attribute notes in place so ``transform_error`` prints JSON names, not attrs."""
    if isinstance(exc, ClassValidationError):
        origin = _attrs_origin(exc.cl)
        names = {f.name: wire_name(f) for f in attrs.fields(origin)} if origin else {}
        for sub in exc.exceptions:
            notes = getattr(sub, "__notes__", None)
            if notes:
                sub.__notes__ = [
                    AttributeValidationNote(str(n), names.get(n.name, n.name), n.type)
                    if isinstance(n, AttributeValidationNote)
                    else n
                    for n in notes
                ]
            _rename_notes(sub)
    elif isinstance(exc, IterableValidationError):
        for sub in exc.exceptions:
            _rename_notes(sub)


def _format_exception(exc: BaseException, tp: Any) -> str:
    """Describe one leaf failure without ever quoting the offending value (it may be secret)."""
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, (WireTypeError, WireValueError)):
        return str(exc)
    expected = f", expected {type_name(tp)}" if tp is not None else ""
    return f"invalid value ({type(exc).__name__}){expected}"


def _validation_error(model: str, exc: BaseException) -> ResponseValidationError:
    _rename_notes(exc)
    messages = cattrs.transform_error(exc, path="$", format_exception=_format_exception)
    first_path = messages[0].rpartition(" @ ")[2] if messages else "$"
    return ResponseValidationError(model, messages, path=first_path)


# --------------------------------------------------------------------------- API


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
        raise _validation_error(type_name(cls), exc) from None


def unstructure(obj: Any, cls: Any = None) -> Any:
    """Turn a model (or a tuple/list of models) into JSON-ready dicts and lists, camelCase.

    ``None`` fields are omitted unless the field is marked to be sent as ``null`` (module
    docstring). Pass ``cls`` to unstructure as a declared type (e.g. a generic envelope).
    """
    if cls is None and isinstance(obj, (list, tuple)):
        return [converter.unstructure(item) for item in obj]
    return converter.unstructure(obj, unstructure_as=cls)

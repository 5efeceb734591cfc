"""Pleo's wire rules for scalars and names, with no caching (see :mod:`.serialization`).

How one JSON value becomes a Python value and back: names (``snake_case`` ↔ ``camelCase``),
strings, booleans, integers, floats, decimals, UUIDs, date-times and dates, closed enums, and
the type predicates the converter's hook factories dispatch on. Every function here is pure;
the interning of repeated values lives in :mod:`._wire_sharing`, the error paths in
:mod:`._wire_errors`.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
import math
import re
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from pleo_erp.models._fields import WIRE_NAME

__all__ = [
    "WireTypeError",
    "WireValueError",
    "loads",
    "type_name",
    "wire_name",
]

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


def _structure_str(value: Any, cls: Any) -> Any:
    """A string as sent (no sharing; :class:`._wire_sharing.SharingCache` has the sharing one)."""
    if cls is str:
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


def _decimal_from_text(text: str) -> Decimal:
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise WireValueError("expected a decimal number") from None
    if not result.is_finite():
        raise WireValueError("expected a finite number")
    return result


def decimal_hook(from_text: Callable[[str], Decimal]) -> _StructureHook:
    """The ``Decimal`` structure hook, reading decimal text with ``from_text`` (which may
    share equal values)."""

    def structure_decimal(value: Any, _: Any) -> Decimal:
        kind = type(value)
        if kind is Decimal:
            if not value.is_finite():
                raise WireValueError("expected a finite number")
            return from_text(str(value))
        if kind is float:
            if not math.isfinite(value):
                raise WireValueError("expected a finite number")
            # repr() is the shortest text that reads back as this float: the JSON literal sent.
            return from_text(repr(value))
        if kind is int:
            return Decimal(value)
        if kind is str:
            return from_text(value)
        raise WireTypeError(f"expected a number, got {_json_type(value)}")

    return structure_decimal


_structure_decimal = decimal_hook(_decimal_from_text)

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
        return _parse_uuid(value)
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
    if value is None or type(value) is str:
        result: str | None = value
        return result
    checked: str = _structure_str(value, str)  # raises: not a string
    return checked


def _structure_optional_uuid(value: Any, _: Any) -> uuid.UUID | None:
    return None if value is None else _structure_uuid(value, _)


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


#: The fused ``X | None`` hooks without sharing; :class:`._wire_sharing.SharingCache` replaces
#: the string and UUID ones.
FUSED_OPTIONAL: Mapping[Any, _StructureHook] = {
    str: _structure_optional_str,
    uuid.UUID: _structure_optional_uuid,
    bool: _structure_optional_bool,
    int: _structure_optional_int,
    dt.datetime: _structure_optional_datetime,
}


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


def _unstructure_enum(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


# One decoder for every document: ``json.loads`` given any option builds a new decoder (and
# scanner) per call. Decoding is reentrant, so threads may share it.
_DECODER = json.JSONDecoder(parse_float=Decimal)


def loads(data: str | bytes) -> Any:
    """``json.loads`` that reads non-integer numbers as ``Decimal`` (exact tax rates)."""
    if isinstance(data, bytes):
        data = data.decode(json.detect_encoding(data), "surrogatepass")
    return _DECODER.decode(data)


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

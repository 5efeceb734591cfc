"""The cattrs hook factories that apply the wire rules to every model (see :mod:`.serialization`).

:func:`make_converter` builds a ``cattrs.Converter`` that knows Pleo's JSON: scalar hooks from
:mod:`._wire`, generated per-model functions (``make_dict_structure_fn`` /
``make_dict_unstructure_fn``) renamed to wire names, tuples, dicts, optionals and open enums.
Tuples and dicts have their own factories rather than cattrs' stock ones because the stock ones
structure any iterable (a string would become a tuple of characters) and the wire rules check,
never coerce. With a :class:`._wire_sharing.SharingCache` the fast converter shares equal
values; with ``detailed=True`` it reports every failure with its path (:mod:`._wire_errors`).
"""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from pleo_erp.client._wire import (
    FUSED_OPTIONAL,
    WireTypeError,
    _attrs_origin,
    _closed_enum_hook,
    _is_dict,
    _is_enum,
    _is_optional,
    _is_var_tuple,
    _json_type,
    _open_enum_of,
    _structure_bool,
    _structure_date,
    _structure_datetime,
    _structure_decimal,
    _structure_float,
    _structure_int,
    _structure_str,
    _structure_uuid,
    _union_without_none,
    _unstructure_datetime,
    _unstructure_decimal,
    _unstructure_enum,
    wire_name,
)
from pleo_erp.client._wire_errors import (
    detailed_dict_hook,
    detailed_object_hook,
    detailed_tuple_hook,
)
from pleo_erp.client._wire_sharing import SharingCache, is_leaf
from pleo_erp.models._fields import EMIT_NULL, SKIP_NULL_ITEMS
from pleo_erp.models.common import MoneyModel

__all__ = ["make_converter"]

_StructureHook = Callable[[Any, Any], Any]


def make_converter(
    *, detailed: bool = False, sharing: SharingCache | None = None
) -> cattrs.Converter:
    """A converter with Pleo's wire rules.

    ``detailed=True`` gives the error-path flavour (cattrs ``detailed_validation``: slower,
    every failure with its JSON path). ``sharing`` opts in to sharing equal values through that
    cache (fast flavour only; ignored when ``detailed``).
    """
    conv = cattrs.Converter(detailed_validation=detailed, forbid_extra_keys=False)
    share = None if detailed else sharing
    _Rules(conv, detailed=detailed, sharing=share).install()
    if share is not None:
        generated = conv.get_structure_hook(MoneyModel)
        conv.register_structure_hook(MoneyModel, share.money_hook(generated))
    return conv


class _Rules:
    """Registers the wire rules on one converter (fast or detailed, sharing or not)."""

    def __init__(
        self, conv: cattrs.Converter, *, detailed: bool, sharing: SharingCache | None
    ) -> None:
        self.conv = conv
        self.detailed = detailed
        self.sharing = sharing
        self.fused_optional = FUSED_OPTIONAL if sharing is None else sharing.fused_optional

    def install(self) -> None:
        conv = self.conv
        sharing = self.sharing
        for cls, hook in (
            (str, _structure_str if sharing is None else sharing.structure_str),
            (bool, _structure_bool),
            (int, _structure_int),
            (float, _structure_float),
            (Decimal, _structure_decimal if sharing is None else sharing.structure_decimal),
            (uuid.UUID, _structure_uuid if sharing is None else sharing.structure_uuid),
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
        fused = self.fused_optional.get(inner)
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
        if self.detailed:
            return detailed_tuple_hook(tp, item_type, hook, skip_null=skip_null)

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
        if self.sharing is not None and origin is not None and is_leaf(origin):
            return self.sharing.tuple_hook(fast)
        return fast

    def _dict_structure(self, tp: Any) -> _StructureHook:
        key_type, value_type = typing.get_args(tp)
        key_hook = self.conv.get_structure_hook(key_type)
        value_hook = self.conv.get_structure_hook(value_type)
        if self.detailed:
            return detailed_dict_hook(tp, key_type, key_hook, value_type, value_hook)
        passthrough = value_type is Any

        def structure_dict(value: Any, _: Any) -> dict[Any, Any]:
            if type(value) is not dict:
                raise WireTypeError(f"expected an object, got {_json_type(value)}")
            if passthrough:
                return {key_hook(k, key_type): v for k, v in value.items()}
            return {key_hook(k, key_type): value_hook(v, value_type) for k, v in value.items()}

        return structure_dict

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
        if self.detailed:
            return detailed_object_hook(generated)
        fields = attrs.fields(origin)
        if self.sharing is not None:
            if is_leaf(origin):
                return self.sharing.leaf_hook(generated, [wire_name(f) for f in fields])
            if len(fields) == 2 and all(f.type is MoneyModel for f in fields):
                wire = (wire_name(fields[0]), wire_name(fields[1]))
                return self.sharing.money_pair_hook(origin, wire, generated)
        if any(field.default is attrs.NOTHING for field in fields):
            # A required key is read with ``o[key]``: a non-object fails on its own.
            return generated

        def structure_optional_only(value: Any, cls: Any) -> Any:
            # Every key is optional, so the generated code would only test membership
            # (``key in o``) and accept a list or a string; refuse them here.
            if type(value) is not dict:
                raise WireTypeError(f"expected an object, got {_json_type(value)}")
            return generated(value, cls)

        return structure_optional_only

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

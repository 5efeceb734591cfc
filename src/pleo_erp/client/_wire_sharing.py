"""Opt-in sharing of equal immutable values while structuring (see :mod:`.serialization`).

A page repeats the same accounts, tags, people, vendors, currencies and tax rates on every
item, and ``json.loads`` gives each occurrence its own objects. A :class:`SharingCache` given
to a converter hands out one object per distinct value instead: short strings, UUIDs and
decimals, "leaf" models (every field a string, UUID or open enum: ``AccountV3``, ``TagV3``,
``VendorV3``, …) as one instance per distinct input, tuples of such models (a line's tags),
and the supplier/wallet ``MoneyModel`` of a pair when both are equal. Models are frozen, so
sharing is invisible except to ``is``; it roughly halves the typed size of an export-item page
and the objects the garbage collector walks (``benchmarks/bench_models.py``).

Every cache is bounded and belongs to its ``SharingCache`` (not to the process): the SDK's
default converter owns one; :meth:`SharingCache.clear` drops what it holds.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs

from pleo_erp.client._wire import (
    FUSED_OPTIONAL,
    WireTypeError,
    _closed_enum_hook,
    _decimal_from_text,
    _is_optional,
    _json_type,
    _open_enum_of,
    _parse_uuid,
    _structure_uuid,
    _union_without_none,
    decimal_hook,
)
from pleo_erp.models._fields import SKIP_NULL_ITEMS
from pleo_erp.models.common import MoneyModel

__all__ = ["SharingCache"]

_StructureHook = Callable[[Any, Any], Any]
_MISSING = object()


class SharingCache:
    """Bounded caches that let a converter share equal immutable values (module docstring).

    Pass one to :func:`pleo_erp.client.serialization.make_converter`; the hooks it builds
    read and fill these caches. A full cache is emptied rather than grown (the next page
    refills what it needs), so memory stays bounded in a long-lived worker.
    """

    #: Strings longer than this (URLs, notes) are usually unique: never shared.
    max_string_length = 64

    def __init__(
        self,
        *,
        max_strings: int = 8192,
        max_uuids: int = 1024,
        max_decimals: int = 256,
        max_models: int = 2048,
    ) -> None:
        self.max_strings = max_strings
        self.max_uuids = max_uuids
        self.max_decimals = max_decimals
        self.max_models = max_models
        # A bounded dict rather than ``sys.intern``: unique strings (reconciliation ids) would
        # otherwise grow the interpreter's intern table for good; here they fall out at the
        # next clear.
        self._strings: dict[str, str] = {}
        self._uuids: dict[str, uuid.UUID] = {}
        self._decimals: dict[str, Decimal] = {}
        self._model_caches: list[dict[Any, Any]] = []
        #: The shared string equal to a given one (itself when long).
        self.shared = self._shared_hook()
        self.structure_str = self._str_hook()
        self.structure_uuid = self._uuid_hook()
        self.decimal_from_text = self._decimal_reader()
        self.structure_decimal = decimal_hook(self.decimal_from_text)
        self.fused_optional: dict[Any, _StructureHook] = {
            **FUSED_OPTIONAL,
            str: self._optional_str_hook(),
            uuid.UUID: self._optional_uuid_hook(),
        }

    def clear(self) -> None:
        """Forget every shared value (values already handed out stay valid)."""
        self._strings.clear()
        self._uuids.clear()
        self._decimals.clear()
        for cache in self._model_caches:
            cache.clear()

    # -- scalars ---------------------------------------------------------------------------

    def _shared_hook(self) -> Callable[[str], str]:
        str_cache_get = self._strings.get
        share_new = self._share_new
        max_len = self.max_string_length

        def shared(value: str) -> str:
            """The shared object equal to ``value`` (``value`` itself when it is long)."""
            if len(value) > max_len:
                return value
            return str_cache_get(value) or share_new(value)

        return shared

    def _share_new(self, value: str) -> str:
        """Remember a short string not seen recently (the slow half of sharing)."""
        if len(self._strings) >= self.max_strings:
            self._strings.clear()
        self._strings[value] = value
        return value

    def _str_hook(self) -> _StructureHook:
        str_cache_get = self._strings.get
        share_new = self._share_new
        max_len = self.max_string_length

        def structure_str(value: Any, cls: Any) -> Any:
            if cls is str:
                if type(value) is str:
                    if len(value) > max_len:
                        return value
                    return str_cache_get(value) or share_new(value)
                if isinstance(value, str):
                    return value
                raise WireTypeError(f"expected a string, got {_json_type(value)}")
            # cattrs dispatches every ``str`` subclass here, so closed ``str`` enums arrive too.
            return _closed_enum_hook(cls)(value, cls)

        return structure_str

    def _optional_str_hook(self) -> _StructureHook:
        str_cache_get = self._strings.get
        share_new = self._share_new
        max_len = self.max_string_length
        structure_str = self.structure_str

        def structure_optional_str(value: Any, _: Any) -> str | None:
            if type(value) is str:
                if len(value) > max_len:
                    return value
                return str_cache_get(value) or share_new(value)
            if value is None:
                return None
            checked: str = structure_str(value, str)  # raises: not a string
            return checked

        return structure_optional_str

    def _uuid_hook(self) -> _StructureHook:
        cache = self._uuids
        uuid_cache_get = cache.get
        max_uuids = self.max_uuids

        def structure_uuid(value: Any, _: Any) -> uuid.UUID:
            if type(value) is str:
                cached = uuid_cache_get(value)
                if cached is not None:
                    return cached
                parsed = _parse_uuid(value)
                if len(cache) >= max_uuids:
                    cache.clear()  # bounded memory; UUIDs are immutable so sharing is safe
                cache[value] = parsed
                return parsed
            return _structure_uuid(value, _)

        return structure_uuid

    def _optional_uuid_hook(self) -> _StructureHook:
        uuid_cache_get = self._uuids.get
        structure_uuid = self.structure_uuid

        def structure_optional_uuid(value: Any, _: Any) -> uuid.UUID | None:
            if value is None:
                return None
            if type(value) is str:
                cached = uuid_cache_get(value)
                if cached is not None:
                    return cached
            result: uuid.UUID = structure_uuid(value, _)
            return result

        return structure_optional_uuid

    def _decimal_reader(self) -> Callable[[str], Decimal]:
        # Decimals by their text: a page repeats a handful of tax rates thousands of times.
        # The cached value is exactly ``Decimal(text)`` and a ``Decimal``'s ``str`` reads back
        # to an identical one, so sharing never changes a value or its exponent.
        cache = self._decimals
        decimal_cache_get = cache.get
        max_decimals = self.max_decimals

        def decimal_from_text(text: str) -> Decimal:
            cached = decimal_cache_get(text)
            if cached is not None:
                return cached
            result = _decimal_from_text(text)
            if len(text) <= 32:
                if len(cache) >= max_decimals:
                    cache.clear()
                cache[text] = result
            return result

        return decimal_from_text

    # -- models ----------------------------------------------------------------------------

    def _model_cache(self) -> dict[Any, Any]:
        cache: dict[Any, Any] = {}
        self._model_caches.append(cache)
        return cache

    def money_hook(self, generated: _StructureHook) -> _StructureHook:
        """``MoneyModel`` without per-field calls: it occurs ~20 times on every export item.

        Any irregularity falls back to ``generated``, which raises the precise error.
        """
        shared = self.shared

        def structure_money_fast(value: Any, _: Any) -> MoneyModel:
            currency = value["currency"]
            amount = value["value"]
            if type(currency) is str and type(amount) is int:
                return MoneyModel(shared(currency), amount)
            result: MoneyModel = generated(value, _)
            return result

        return structure_money_fast

    def money_pair_hook(
        self, cls: type[Any], keys: tuple[str, str], generated: _StructureHook
    ) -> _StructureHook:
        """Structure hook of a class holding exactly two ``MoneyModel`` (the amount in supplier
        and in wallet currency, five times per export-item line).

        Both amounts are read in one call, and when they are equal (same currency) one
        immutable ``MoneyModel`` serves both. Anything irregular goes to ``generated``, which
        raises the precise error.
        """
        first_key, second_key = keys
        shared = self.shared

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
            a = MoneyModel(shared(first_currency), first_value)
            if second_value == first_value and second_currency == first_currency:
                b = a
            else:
                b = MoneyModel(shared(second_currency), second_value)
            return cls(a, b)

        return structure_money_pair

    def leaf_hook(self, generated: _StructureHook, keys: list[str]) -> _StructureHook:
        """One shared instance per distinct input of a leaf model (:func:`is_leaf`)."""
        cache = self._model_cache()
        lookup = cache.get
        max_models = self.max_models
        # The key is the field values as sent: ``itemgetter`` reads them all in one C call
        # when every key is present (the usual case); an absent key is told apart from null.
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
            except TypeError:  # an unhashable value (a list, an object): not a valid leaf
                return generated(value, cls)
            if hit is not None:
                return hit
            result = generated(value, cls)
            if len(cache) >= max_models:
                cache.clear()  # bounded memory; the next page refills what it needs
            cache[key] = result
            return result

        return structure_leaf

    def tuple_hook(self, structure_tuple: _StructureHook) -> _StructureHook:
        """One shared tuple per distinct sequence of shared leaf models (a line's tags repeat).

        Leaf models are shared instances, so the sequence is identified by their ids; the
        cache keeps those instances alive, so an id cannot be reused while it is a key.
        """
        cache: dict[tuple[int, ...], tuple[Any, ...]] = self._model_cache()
        lookup = cache.get
        max_models = self.max_models

        def structure_shared_tuple(value: Any, cls: Any) -> tuple[Any, ...]:
            result: tuple[Any, ...] = structure_tuple(value, cls)
            key = tuple(map(id, result))
            hit = lookup(key)
            if hit is not None:
                return hit
            if len(cache) >= max_models:
                cache.clear()
            cache[key] = result
            return result

        return structure_shared_tuple


# Leaf models (every field a string, UUID or open enum: an account, a tag, a person, a vendor)
# repeat on every item of a page. Only string-like fields qualify, because their JSON values
# compare equal only when they structure alike (``1 == 1.0 == True`` rules out numbers and
# booleans).


def _is_leaf_field_type(tp: Any) -> bool:
    if _is_optional(tp):
        tp = _union_without_none(tp)
    return tp is str or tp is uuid.UUID or _open_enum_of(tp) is not None


def is_leaf(cls: type[Any]) -> bool:
    """Whether equal inputs of model ``cls`` may share one instance (string-like fields only)."""
    fields = attrs.fields(cls)
    return bool(fields) and all(
        _is_leaf_field_type(f.type) and not f.metadata.get(SKIP_NULL_ITEMS) for f in fields
    )

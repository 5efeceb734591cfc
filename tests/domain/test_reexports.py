"""The re-export shims derive their names from the defining modules' ``__all__``.

``pleo_erp.domain``, ``pleo_erp.accounting_system`` (and its ``.export`` / ``.sources``) and
``pleo_erp.domain.reconcile`` re-export whole modules: every name a defining module lists is
there, as the same object, and listed in the shim's ``__all__`` too. A name added to
``domain.journal`` or ``domain.records`` later reaches every old import path by itself.
"""

from __future__ import annotations

from types import ModuleType

import pytest

import pleo_erp.accounting_system as accounting_system
import pleo_erp.domain as domain
from pleo_erp.accounting_system import ap_split, dry_run, export, sources
from pleo_erp.domain import journal, reconcile, records
from pleo_erp.domain.reconcile import plan

SHIMS: list[tuple[ModuleType, tuple[ModuleType, ...]]] = [
    (domain, (journal, records)),
    (export, (journal,)),
    (sources, (records,)),
    (accounting_system, (journal, records, export, sources, ap_split, dry_run)),
    (reconcile, (plan,)),
]


@pytest.mark.parametrize(("shim", "defining"), SHIMS, ids=[shim.__name__ for shim, _ in SHIMS])
def test_every_name_of_the_defining_modules_is_re_exported_as_the_same_object(
    shim: ModuleType, defining: tuple[ModuleType, ...]
) -> None:
    for module in defining:
        for name in module.__all__:
            assert getattr(shim, name) is getattr(module, name), (shim.__name__, name)
            assert name in shim.__all__, (shim.__name__, name)


@pytest.mark.parametrize(("shim", "defining"), SHIMS, ids=[s.__name__ for s, _ in SHIMS])
def test_a_shim_lists_each_name_once_and_only_names_it_has(
    shim: ModuleType, defining: tuple[ModuleType, ...]
) -> None:
    assert len(shim.__all__) == len(set(shim.__all__))
    assert all(hasattr(shim, name) for name in shim.__all__)


def test_the_package_lists_are_exactly_their_modules_lists() -> None:
    assert set(domain.__all__) == {*journal.__all__, *records.__all__}
    assert set(accounting_system.__all__) == {
        *ap_split.__all__,
        *dry_run.__all__,
        *export.__all__,
        *sources.__all__,
    }

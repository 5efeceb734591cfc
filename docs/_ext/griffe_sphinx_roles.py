"""Griffe extension: render the Sphinx roles used in pleo-erp's docstrings as links.

The docstrings are Google style but refer to other objects the Sphinx way
(``:class:`~pleo_erp.client.PleoClient```, ``:meth:`merged```). mkdocstrings does not read
those roles, so without this extension they would show up literally. Each role becomes an
*optional* autorefs cross-reference: a link when the target is rendered somewhere in the API
reference, plain code otherwise — never a build warning, because an object that is simply not
part of the reference (a private helper) is not an error.

Sphinx semantics are kept: ``~`` shows only the last component, functions and methods get
``()``, and a name is resolved in the scope of the object whose docstring mentions it (its
class, then its module and that module's imports).
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|func|meth|data|mod|attr|exc|obj|const):`(~?)([^`]+)`")
_CALLABLE_ROLES = frozenset({"func", "meth"})


def _resolve_relative(obj: griffe.Object, first: str, rest: str) -> str | None:
    """``first.rest`` looked up in ``obj``'s scope, then in each enclosing scope."""
    scope: griffe.Object | None = obj
    while scope is not None:
        try:
            found = scope.resolve(first)
        except Exception:  # griffe.NameResolutionError and friends: try the outer scope
            scope = scope.parent
            continue
        return f"{found}.{rest}" if rest else found
    return None


def _resolve(obj: griffe.Object, name: str) -> str | None:
    """The full path ``name`` designates from ``obj``'s scope, or ``None``."""
    name = name.lstrip(".")
    first, _, rest = name.partition(".")
    full = name if first == obj.package.name else _resolve_relative(obj, first, rest)
    if full is None:
        return None
    try:
        target = obj.modules_collection[full]
        return str(target.canonical_path)
    except Exception:  # unknown member or an alias to an external package
        return full


def _rewrite(obj: griffe.Object, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        role, tilde, target = match.groups()
        target = target.strip()
        shown = target.lstrip(".").rsplit(".", 1)[-1] if tilde else target.lstrip(".")
        if role in _CALLABLE_ROLES and not shown.endswith(")"):
            shown += "()"
        code = f"<code>{html.escape(shown)}</code>"
        identifier = _resolve(obj, target)
        if identifier is None:
            return code
        return f'<autoref identifier="{html.escape(identifier)}" optional>{code}</autoref>'

    return _ROLE.sub(replace, text)


def _walk(obj: griffe.Object, seen: set[str]) -> None:
    if obj.path in seen:
        return
    seen.add(obj.path)
    if obj.docstring is not None and ":" in obj.docstring.value:
        obj.docstring.value = _rewrite(obj, obj.docstring.value)
    for member in obj.members.values():
        if not member.is_alias:
            _walk(member, seen)  # type: ignore[arg-type]  # aliases skipped just above


class SphinxRoles(griffe.Extension):
    """Turns ``:class:`…``` and friends into optional cross-references (see the module)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite every docstring of the package once it is fully loaded (griffe 2)."""
        _walk(pkg, set())

    def on_package_loaded(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """The same hook under its griffe 1 name (rewriting twice changes nothing)."""
        _walk(pkg, set())

"""Read the CLI's TOML configuration file: ``tomllib`` (Python 3.11+) or ``tomli`` (3.10).

``tomli`` is the ``tomllib`` backport; the ``cli`` extra installs it on Python 3.10. The CLI
only reads TOML (``pleo-erp config`` prints settings, it never writes the file), so no writer
is needed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, BinaryIO

__all__ = ["TOMLError", "load", "loads"]

_INSTALL_HINT = "reading TOML on Python 3.10 needs tomli: pip install 'pleo-erp[cli]'"


class TOMLError(ValueError):
    """The text is not TOML (the message names the line), or no TOML reader is installed."""


def _library_loader() -> Callable[[str], dict[str, Any]] | None:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads
    try:  # Python 3.10: the tomllib backport from the ``cli`` extra
        import tomli  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:
        return None
    loader: Callable[[str], dict[str, Any]] = tomli.loads
    return loader


def loads(text: str) -> dict[str, Any]:
    """Parse TOML ``text`` into a dict; raise :class:`TOMLError` with the line on failure."""
    loader = _library_loader()
    if loader is None:
        raise TOMLError(_INSTALL_HINT)
    try:
        return loader(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError subclasses ValueError
        raise TOMLError(str(exc)) from None


def load(fp: BinaryIO) -> dict[str, Any]:
    """Parse a TOML file opened in binary mode."""
    try:
        text = fp.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TOMLError(f"not UTF-8: {exc}") from None
    return loads(text)

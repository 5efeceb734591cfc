"""``with`` support for objects that own something to close or release.

Many objects of the SDK (clients, state databases, token stores, progress bars, the ledger
lock) are used as ``with obj: ...`` and do one thing when the block ends. These mixins give
them that ``__enter__``/``__exit__`` pair once: ``__enter__`` returns the object itself (typed
``Self``, so subclasses keep their own type), ``__exit__`` closes or releases it, also when the
block raised, and never swallows the exception.

This module sits at the bottom of the layers so every layer may use it.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from typing_extensions import Self

__all__ = ["ClosesOnExit", "ReleasesOnExit"]


class _Closable(Protocol):
    def close(self) -> None: ...


class _Releasable(Protocol):
    def acquire(self) -> None: ...

    def release(self) -> None: ...


_Held = TypeVar("_Held", bound=_Releasable)


class ClosesOnExit:
    """Mixin: ``with obj:`` gives ``obj`` and calls ``obj.close()`` when the block ends."""

    __slots__ = ()

    def __enter__(self) -> Self:
        return self

    def __exit__(self: _Closable, *exc_info: object) -> None:
        self.close()


class ReleasesOnExit:
    """Mixin: ``with obj:`` calls ``obj.acquire()``, gives ``obj``, then ``obj.release()``."""

    __slots__ = ()

    def __enter__(self: _Held) -> _Held:
        self.acquire()
        return self

    def __exit__(self: _Releasable, *exc_info: object) -> None:
        self.release()

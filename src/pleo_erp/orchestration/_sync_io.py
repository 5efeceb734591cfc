"""The syncs' I/O, split from their decisions: requests, and the two drivers that perform them.

A sync's logic (read, plan, guard, create → re-read → re-plan → update → archive, report) is a
*steps* generator that never does I/O itself (the way :mod:`pleo_erp.client._transport` splits
retry decisions from sending). Each time it needs the outside world it *yields* a
:class:`Request` — call a Pleo client method, read the accounting system, load or save the
tags selection — and is *sent back* the result, or has the exception *thrown* in at the
``yield``, exactly where a direct call would have raised. So its ``try``/``except`` blocks read
like the blocking code they replace.

Two thin drivers perform the requests:

- :func:`drive` — with a :class:`~pleo_erp.client.PleoClient` and a blocking source;
- :func:`drive_async` — with an :class:`~pleo_erp.client.AsyncPleoClient` (its methods are
  awaited, its paginators collected with ``async for``) and an ``async`` source; a blocking
  source or state store is run in a worker thread (``asyncio.to_thread``) so it never blocks
  the event loop.

Every decision lives in the steps, so the blocking and ``async`` syncs cannot drift apart.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Generator, Mapping
from contextlib import closing
from typing import Any, Generic, Literal, TypeVar, cast

import attrs

__all__ = [
    "AsyncIO",
    "BlockingIO",
    "Request",
    "Steps",
    "Target",
    "ask",
    "drive",
    "drive_async",
    "perform",
    "perform_async",
    "pleo_call",
    "source_read",
    "state_call",
]

T = TypeVar("T")
R = TypeVar("R")

#: What a request is addressed to: the Pleo client, the AS source, the selection store.
Target = Literal["pleo", "source", "state"]


@attrs.frozen
class Request(Generic[T]):
    """One call a sync's steps ask their driver to make: ``<target>.<method>(*args, **kwargs)``.

    ``method`` may be dotted (``"tags.list"`` is ``client.tags.list``). With ``collect`` the
    answer is an iterable (a paginator, sync or ``async``) that the driver reads to a list.
    ``T`` is what the driver sends back.
    """

    target: Target
    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)
    collect: bool = False

    def __str__(self) -> str:
        return f"{self.target}.{self.method}"


#: A sans-I/O computation: yields requests, is sent their results, returns ``R``.
Steps = Generator[Request[Any], Any, R]


def pleo_call(method: str, *args: Any, collect: bool = False, **kwargs: Any) -> Request[Any]:
    """A call of a Pleo client method (``collect``: read every page into a list)."""
    return Request("pleo", method, args, kwargs, collect)


def source_read(method: str, *args: Any) -> Request[Any]:
    """A read of the accounting system source (``list_tax_codes`` …)."""
    return Request("source", method, args)


def state_call(method: str, *args: Any, **kwargs: Any) -> Request[Any]:
    """A call of the selection store (``load``/``save``)."""
    return Request("state", method, args, kwargs)


def ask(request: Request[T]) -> Steps[T]:
    """``result = yield from ask(request)``: yield ``request``, return its (typed) result."""
    result: T = yield request
    return result


@attrs.frozen
class BlockingIO:
    """What :func:`drive` performs requests on: a ``PleoClient``, a source, a store."""

    client: Any
    source: Any = None
    state: Any = None


@attrs.frozen
class AsyncIO:
    """What :func:`drive_async` performs requests on.

    ``client`` is an ``AsyncPleoClient``; ``source`` may be ``async`` or blocking (a blocking
    method runs in a worker thread); ``state`` is a blocking selection store (worker thread).
    """

    client: Any
    source: Any = None
    state: Any = None


def _resolve(io: BlockingIO | AsyncIO, request: Request[Any]) -> Any:
    """The bound method a request names (an ``AttributeError`` is thrown into the steps)."""
    obj: Any = getattr(io, "client" if request.target == "pleo" else request.target)
    for name in request.method.split("."):
        obj = getattr(obj, name)
    return obj


def perform(io: BlockingIO, request: Request[Any]) -> Any:
    """Make one request with blocking I/O."""
    result = _resolve(io, request)(*request.args, **request.kwargs)
    return list(result) if request.collect else result


async def perform_async(io: AsyncIO, request: Request[Any]) -> Any:
    """Make one request without blocking the event loop."""
    method = _resolve(io, request)
    if request.target == "pleo" or inspect.iscoroutinefunction(method):
        result = method(*request.args, **request.kwargs)
    else:
        # A blocking source or store: off the event loop.
        result = await asyncio.to_thread(method, *request.args, **request.kwargs)
    if inspect.isawaitable(result):
        result = await result
    if not request.collect:
        return result
    if hasattr(result, "__aiter__"):
        return [item async for item in result]
    return list(result)


@attrs.frozen
class _Finished(Generic[R]):
    value: R


def _resume(steps: Steps[R], reply: Any, error: Exception | None) -> Request[Any] | _Finished[R]:
    """Hand the last request's reply (or error) to ``steps``: their next request, or the end."""
    try:
        return steps.send(reply) if error is None else steps.throw(error)
    except StopIteration as done:
        return _Finished(cast(R, done.value))


def drive(steps: Steps[R], io: BlockingIO) -> R:
    """Run ``steps`` to completion, performing each request with blocking I/O."""
    with closing(steps):
        step = _resume(steps, None, None)
        while isinstance(step, Request):
            try:
                reply, error = perform(io, step), None
            except Exception as exc:  # thrown into the steps, where a direct call would raise
                reply, error = None, exc
            step = _resume(steps, reply, error)
        return step.value


async def drive_async(steps: Steps[R], io: AsyncIO) -> R:
    """Run ``steps`` to completion, awaiting each request (the ``async`` twin of :func:`drive`).

    Cancelling the task closes the steps (their ``finally`` blocks run) and propagates.
    """
    with closing(steps):
        step = _resume(steps, None, None)
        while isinstance(step, Request):
            try:
                reply, error = await perform_async(io, step), None
            except Exception as exc:  # thrown into the steps, where a direct call would raise
                reply, error = None, exc
            step = _resume(steps, reply, error)
        return step.value

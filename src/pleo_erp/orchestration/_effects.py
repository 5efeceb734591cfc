"""The export's sans-I/O seam: the core *describes* I/O, a driver *does* it.

The orchestrator's decisions (what to ask Pleo and the accounting system next, what an answer
means, what to report, which item may start) are generators that ``yield`` effect objects and
receive their results (or have their exceptions thrown back in), the way ``client/_transport``
splits request decisions from sending. Two drivers run the same generators:

- :class:`SyncDriver` calls the blocking :class:`~pleo_erp.PleoClient` and
  :class:`~pleo_erp.accounting_system.ExportTarget`; concurrent work (posts in flight, the next
  page of export items) runs on a bounded thread pool;
- :class:`AsyncDriver` awaits the :class:`~pleo_erp.AsyncPleoClient` and an
  :class:`~pleo_erp.accounting_system.AsyncExportTarget`; concurrent work runs as tasks.

Neither driver makes a decision: they only perform effects and report what happened.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Generic, Protocol, TypeVar

from attrs import define, field

__all__ = [
    "AsCall",
    "AsyncDriver",
    "Blocking",
    "Core",
    "Done",
    "Effect",
    "EnterSession",
    "ExitSession",
    "NextPage",
    "OpenPages",
    "PleoCall",
    "Sleep",
    "Spawn",
    "SyncDriver",
    "WaitAny",
]

_T = TypeVar("_T")


@define(frozen=True, slots=True)
class AsCall:
    """Call the accounting system's method ``method`` with ``args``."""

    method: str
    args: tuple[Any, ...] = ()


@define(frozen=True, slots=True)
class _ClientMethod:
    """``client.<resource>.<method>`` with its arguments (the fields of the two effects below)."""

    resource: str
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(factory=dict)


@define(frozen=True, slots=True)
class PleoCall(_ClientMethod):
    """Call ``client.<resource>.<method>(*args, **kwargs)``."""


@define(frozen=True, slots=True)
class OpenPages(_ClientMethod):
    """Open the paginated list ``client.<resource>.<method>(...)``; the result is a cursor
    for :class:`NextPage` (no request is made yet). ``split``: a threaded driver opens the
    paginator's ``split_pages()`` instead, whose pages are typed by the consumer
    (``RawExportItemPage.parse``) rather than on the thread that fetched them."""

    split: bool = False


@define(frozen=True, slots=True)
class NextPage:
    """Fetch the next page of an opened list: a :class:`~pleo_erp.client.pagination.Page`, or
    ``None`` after the last one."""

    cursor: Any


@define(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds`` (on the run's injected sleep)."""

    seconds: float


@define(frozen=True, slots=True)
class Blocking:
    """A blocking local call (waiting for receipt downloads); the async driver runs it on a
    worker thread so the event loop never blocks."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


@define(frozen=True, slots=True)
class EnterSession:
    """Open the target's ``job_session(job)`` (a context manager, or an async one for the
    async driver); the result is the entered session, for :class:`ExitSession`."""

    job: Any


@define(frozen=True, slots=True)
class ExitSession:
    """Close an entered session with the exception that ended its body (or ``None``); the
    result is whether the session suppressed it."""

    session: Any
    error: BaseException | None = None


@define(frozen=True, slots=True)
class Spawn:
    """Start running the generator ``core`` concurrently; the result is a handle for
    :class:`WaitAny`. ``inline``: run it to completion right away (one at a time).
    ``lane``: run it on that lane's own single thread, which lives as long as the driver (the
    blocking driver; tasks ignore it). Export pages use one, so every page is parsed in the
    same thread and its buffers reuse one malloc arena instead of fragmenting several."""

    core: Generator[Any, Any, Any]
    inline: bool = False
    lane: str | None = None


@define(frozen=True, slots=True)
class WaitAny:
    """Wait until at least one spawned core finished; the result is a list of :class:`Done`."""


@define(frozen=True, slots=True)
class Done:
    """A spawned core that finished: its handle and its return value or exception."""

    handle: int
    value: Any = None
    error: BaseException | None = None


Effect = (
    AsCall
    | PleoCall
    | OpenPages
    | NextPage
    | Sleep
    | Blocking
    | EnterSession
    | ExitSession
    | Spawn
    | WaitAny
)
Core = Generator[Any, Any, _T]
"""A generator that yields effects and returns a ``_T``."""


class _Steps(Generic[_T]):
    """A core's effects, one at a time, for a driver loop that resumes it after each.

    Iterating yields the next effect; before asking for the one after, the driver sets
    ``value`` (what the effect returned) or ``error`` (what it raised, thrown into the core).
    When the core returns, iteration stops and ``result`` holds its value.
    """

    def __init__(self, core: Core[_T]) -> None:
        self.core = core
        self.value: Any = None
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                if self.error is not None:
                    effect = self.core.throw(self.error)
                else:
                    effect = self.core.send(self.value)
            except StopIteration as stop:
                self.result: _T = stop.value
                return
            self.value, self.error = None, None
            yield effect


class SyncDriver:
    """Runs cores against blocking I/O; spawned cores run on up to ``workers`` threads."""

    def __init__(
        self,
        client: Any,
        target: Any,
        *,
        sleep: Callable[[float], None],
        workers: int = 1,
    ) -> None:
        """``client``: a ``PleoClient``; ``target``: an ``ExportTarget``."""
        self.client = client
        self.target = target
        self.sleep = sleep
        self.workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        self._handles = itertools.count(1)
        self._running: dict[int, Future[Any]] = {}

    def run(self, core: Core[_T]) -> _T:
        """Drive ``core`` to its end; its exceptions propagate."""
        steps = _Steps(core)
        for effect in steps:
            try:
                steps.value = self.perform(effect)
            except BaseException as raised:  # thrown back into the core, which decides
                steps.error = raised
        return steps.result

    def perform(self, effect: Any) -> Any:
        """Do one effect."""
        if isinstance(effect, AsCall):
            return getattr(self.target, effect.method)(*effect.args)
        if isinstance(effect, PleoCall):
            resource = getattr(self.client, effect.resource)
            return getattr(resource, effect.method)(*effect.args, **effect.kwargs)
        if isinstance(effect, OpenPages):
            resource = getattr(self.client, effect.resource)
            paginator = getattr(resource, effect.method)(*effect.args, **effect.kwargs)
            return iter(paginator.split_pages() if effect.split else paginator.pages())
        if isinstance(effect, NextPage):
            cursor: Iterator[Any] = effect.cursor
            return next(cursor, None)
        if isinstance(effect, Sleep):
            self.sleep(effect.seconds)
            return None
        if isinstance(effect, Blocking):
            return effect.fn(*effect.args)
        if isinstance(effect, EnterSession):
            session = self.target.job_session(effect.job)
            session.__enter__()
            return session
        if isinstance(effect, ExitSession):
            error = effect.error
            tb = error.__traceback__ if error is not None else None
            return bool(effect.session.__exit__(type(error) if error else None, error, tb))
        if isinstance(effect, Spawn):
            return self._spawn(effect)
        if isinstance(effect, WaitAny):
            return self._wait_any()
        raise TypeError(f"unknown effect {effect!r}")

    def _spawn(self, effect: Spawn) -> int:
        handle = next(self._handles)
        if effect.inline:
            future: Future[Any] = Future()
            try:
                future.set_result(self.run(effect.core))
            except BaseException as error:  # reported through WaitAny, like a thread's
                future.set_exception(error)
        elif effect.lane is not None:
            lane = self._lanes.get(effect.lane)
            if lane is None:
                lane = self._lanes[effect.lane] = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"pleo-erp-{effect.lane}"
                )
            future = lane.submit(self.run, effect.core)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="pleo-erp-export"
                )
            future = self._pool.submit(self.run, effect.core)
        self._running[handle] = future
        return handle

    def _wait_any(self) -> list[Done]:
        if not self._running:
            return []
        # Usually a core already finished (an inline item): no waiting machinery for that.
        finished: Collection[Future[Any]] = [f for f in self._running.values() if f.done()]
        if not finished:
            finished, _ = wait(list(self._running.values()), return_when=FIRST_COMPLETED)
        return _collect(self._running, finished)

    def close(self) -> None:
        """Wait for every spawned core (a post in flight is never abandoned) and stop."""
        # The run already failed for another reason when one of these raised.
        wait(list(self._running.values()))
        self._running.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for lane in self._lanes.values():
            lane.shutdown(wait=True)
        self._lanes.clear()


class AsyncDriver:
    """Runs cores against awaitable I/O; spawned cores run as tasks.

    A target method that is not a coroutine function (a blocking ``ExportTarget``) is called
    directly, so an async run can use either kind of adapter.
    """

    def __init__(
        self,
        client: Any,
        target: Any,
        *,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        """``client``: an ``AsyncPleoClient``; ``target``: an ``AsyncExportTarget``."""
        self.client = client
        self.target = target
        self.sleep = sleep
        self._handles = itertools.count(1)
        self._running: dict[int, asyncio.Task[Any]] = {}

    async def run(self, core: Core[_T]) -> _T:
        """Drive ``core`` to its end; its exceptions propagate."""
        steps = _Steps(core)
        for effect in steps:
            try:
                steps.value = await self.perform(effect)
            except BaseException as raised:  # thrown back into the core, which decides
                if isinstance(raised, asyncio.CancelledError):
                    core.close()
                    raise
                steps.error = raised
        return steps.result

    async def perform(self, effect: Any) -> Any:
        """Do one effect."""
        if isinstance(effect, AsCall):
            return await _maybe_await(getattr(self.target, effect.method)(*effect.args))
        if isinstance(effect, PleoCall):
            resource = getattr(self.client, effect.resource)
            return await _maybe_await(
                getattr(resource, effect.method)(*effect.args, **effect.kwargs)
            )
        if isinstance(effect, OpenPages):
            resource = getattr(self.client, effect.resource)
            pages = getattr(resource, effect.method)(*effect.args, **effect.kwargs).pages()
            return pages.__aiter__()
        if isinstance(effect, NextPage):
            cursor: AsyncIterator[Any] = effect.cursor
            try:
                return await cursor.__anext__()
            except StopAsyncIteration:
                return None
        if isinstance(effect, Sleep):
            await self.sleep(effect.seconds)
            return None
        if isinstance(effect, Blocking):
            return await asyncio.to_thread(effect.fn, *effect.args)
        if isinstance(effect, EnterSession):
            session = self.target.job_session(effect.job)
            if hasattr(session, "__aenter__"):
                await session.__aenter__()
            else:
                session.__enter__()
            return session
        if isinstance(effect, ExitSession):
            error = effect.error
            args = (type(error) if error else None, error, error.__traceback__ if error else None)
            if hasattr(effect.session, "__aexit__"):
                return bool(await effect.session.__aexit__(*args))
            return bool(effect.session.__exit__(*args))
        if isinstance(effect, Spawn):
            handle = next(self._handles)
            if effect.inline:
                task: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                try:
                    task.set_result(await self.run(effect.core))
                except asyncio.CancelledError:
                    raise
                except BaseException as error:
                    task.set_exception(error)
                self._running[handle] = task  # type: ignore[assignment]
            else:
                self._running[handle] = asyncio.ensure_future(self.run(effect.core))
            return handle
        if isinstance(effect, WaitAny):
            return await self._wait_any()
        raise TypeError(f"unknown effect {effect!r}")

    async def _wait_any(self) -> list[Done]:
        if not self._running:
            return []
        finished, _ = await asyncio.wait(
            list(self._running.values()), return_when=asyncio.FIRST_COMPLETED
        )
        return _collect(self._running, finished)

    async def close(self) -> None:
        """Wait for every spawned core (a post in flight is never abandoned)."""
        running = list(self._running.values())
        self._running.clear()
        if running:
            await asyncio.gather(*running, return_exceptions=True)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class _Outcome(Protocol):
    """A finished future, thread or asyncio."""

    def exception(self) -> BaseException | None: ...

    def result(self) -> Any: ...


_F = TypeVar("_F", bound=_Outcome)


def _collect(running: dict[int, _F], finished: Collection[_F]) -> list[Done]:
    """Take the ``finished`` futures out of ``running`` (handle -> future) as :class:`Done`
    results, in handle order (so a run's order never depends on which one won the race)."""
    done: list[Done] = []
    for handle in sorted(h for h, future in running.items() if future in finished):
        future = running.pop(handle)
        error = future.exception()
        done.append(
            Done(handle, None, error) if error is not None else Done(handle, future.result())
        )
    return done

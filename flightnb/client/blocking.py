"""Blocking twins of the async API, declared rather than written.

A twin class names, for each member of its async original, how the blocking side runs it::

    class FlightClient(BlockingContext[AsyncFlightClient]):
        get_flight_info = blocking(AsyncFlightClient.get_flight_info)
        list_flights = blocking_iter(AsyncFlightClient.list_flights)
        do_get = blocking_to(FlightStreamReader)(AsyncFlightClient.do_get)

Each declaration runs the async method on flightnb's loop thread (grpc.aio channels belong to
that loop) and waits for it; a KeyboardInterrupt while waiting cancels it. The twin keeps the
original's name, docstring, parameters and defaults (``inspect.signature`` shows them), so
the two APIs cannot drift; only the return shape is adapted: async iterators become
iterators, async resources become their twins. Twin objects passed as arguments (a
``Transaction`` as ``transaction=``) reach the async method as their originals.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast

from flightnb.client.loop_thread import LoopThread, shared_loop_thread

__all__ = [
    "BlockingContext",
    "Twin",
    "blocking",
    "blocking_close",
    "blocking_iter",
    "blocking_property",
    "blocking_to",
    "direct",
    "mirror",
    "on_loop",
    "same_call",
    "same_parameters",
]

A = TypeVar("A")
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
W = TypeVar("W", bound="Twin[Any]")

_NOTHING = object()


class Twin(Generic[A]):
    """A blocking view of one async object, run on flightnb's loop thread.

    Parameters
    ----------
    original : object
        The async object.
    portal : LoopThread, optional
        The loop thread its coroutines run on (default: flightnb's shared one).
    """

    _async: A
    _portal: LoopThread

    def __init__(self, original: A, portal: LoopThread | None = None) -> None:
        self._async = original
        self._portal = portal or shared_loop_thread()

    @classmethod
    def wrap(cls: type[W], original: Any, portal: LoopThread | None = None) -> W:
        """The twin of ``original``, made without running the twin class's ``__init__``."""
        twin = cls.__new__(cls)
        Twin.__init__(twin, original, portal)
        return twin

    def __repr__(self) -> str:
        text = repr(self._async)
        name = type(self._async).__name__
        return text.replace(name, type(self).__name__, 1) if text.startswith(name) else text


class BlockingContext(Twin[A]):
    """A twin of an async context manager: ``with`` runs the original's ``async with``."""

    def __enter__(self: W) -> W:
        self._portal.run(self._async.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._portal.run(self._async.__aexit__(exc_type, exc, tb))  # type: ignore[attr-defined]


def _original(value: Any) -> Any:
    return value._async if isinstance(value, Twin) else value


def _declare(
    method: Callable[..., Any],
    adapt: Callable[[Any, LoopThread], Any],
    returns: Any,
    closed_loop_result: Any = _NOTHING,
) -> Callable[..., Any]:
    name = method.__name__

    @functools.wraps(method)
    def twin(self: Twin[Any], *args: Any, **kwargs: Any) -> Any:
        portal = self._portal
        if closed_loop_result is not _NOTHING and portal.loop.is_closed():
            return closed_loop_result
        args = tuple(_original(a) for a in args)
        kwargs = {key: _original(value) for key, value in kwargs.items()}
        bound = getattr(self._async, name)

        async def invoke() -> Any:
            result = bound(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return adapt(portal.run(invoke()), portal)

    signature = inspect.signature(method)
    twin.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
    annotations = dict(getattr(method, "__annotations__", {}))
    annotations["return"] = returns
    twin.__annotations__ = annotations
    return twin


def _as_is(value: Any, portal: LoopThread) -> Any:
    return value


def _return_annotation(method: Callable[..., Any]) -> Any:
    return inspect.signature(method).return_annotation


def blocking(
    method: Callable[Concatenate[A, P], Awaitable[R]],
) -> Callable[Concatenate[Any, P], R]:
    """The blocking twin of an async method: same parameters, returns what it awaits to."""
    return _declare(method, _as_is, _return_annotation(method))


def blocking_close(
    method: Callable[Concatenate[A, P], Awaitable[None]],
) -> Callable[Concatenate[Any, P], None]:
    """Like :func:`blocking`, but a no-op once flightnb's loop has shut down (at exit)."""
    return _declare(method, _as_is, _return_annotation(method), closed_loop_result=None)


def blocking_iter(
    method: Callable[Concatenate[A, P], AsyncIterator[T]],
) -> Callable[Concatenate[Any, P], Iterator[T]]:
    """The twin of an async generator method: an iterator pulling each item on the loop."""
    returns = _return_annotation(method)
    if isinstance(returns, str):
        returns = returns.replace("AsyncIterator", "Iterator", 1)
    return _declare(method, _iterate, returns)


def blocking_to(
    twin_class: type[W],
) -> Callable[[Callable[Concatenate[A, P], Any]], Callable[Concatenate[Any, P], W]]:
    """The twin of a method returning an async resource: returns its ``twin_class`` twin.

    The method may be a coroutine, or plain and return an awaitable (it is awaited) or the
    resource itself.
    """

    def declare(method: Callable[Concatenate[A, P], Any]) -> Callable[Concatenate[Any, P], W]:
        return _declare(method, twin_class.wrap, twin_class.__name__)

    return declare


def on_loop(method: Callable[Concatenate[A, P], None]) -> Callable[Concatenate[Any, P], None]:
    """The twin of a plain method that must run on the loop (``cancel``): scheduled there.

    Returns at once, from any thread, even while another thread waits on a blocking call.
    """
    name = method.__name__

    @functools.wraps(method)
    def twin(self: Twin[Any], *args: P.args, **kwargs: P.kwargs) -> None:
        loop = self._portal.loop
        if not loop.is_closed():
            call = functools.partial(getattr(self._async, name), *args, **kwargs)
            loop.call_soon_threadsafe(call)

    return cast("Callable[Concatenate[Any, P], None]", twin)


def direct(method: Callable[Concatenate[A, P], R]) -> Callable[Concatenate[Any, P], R]:
    """The twin of a plain method without I/O (``bind``): called as it is, on this thread."""
    name = method.__name__

    @functools.wraps(method)
    def twin(self: Twin[Any], *args: Any, **kwargs: Any) -> R:
        args = tuple(_original(a) for a in args)
        kwargs = {key: _original(value) for key, value in kwargs.items()}
        result: R = getattr(self._async, name)(*args, **kwargs)
        return result

    return cast("Callable[Concatenate[Any, P], R]", twin)


def same_call(
    original: Callable[P, Awaitable[Any]],
) -> Callable[[Callable[..., R]], Callable[P, R]]:
    """Declare that a blocking function ``f(*args, **options)`` takes ``original``'s parameters.

    For a one-call helper that runs its async twin: type checkers then check its calls
    against the async function's parameters, and ``inspect.signature`` shows them.
    """

    def declare(function: Callable[..., R]) -> Callable[P, R]:
        returns = inspect.signature(function).return_annotation
        signature = inspect.signature(original).replace(return_annotation=returns)
        function.__signature__ = signature  # type: ignore[attr-defined]
        return function

    return declare


def same_parameters(
    original: Callable[Concatenate[Any, P], None],
) -> Callable[[Callable[..., None]], Callable[Concatenate[Any, P], None]]:
    """Declare that a twin's ``__init__(*args, **kwargs)`` takes ``original``'s parameters.

    Type checkers then check a twin's construction against the original's parameters, and
    ``inspect.signature`` (``help()``, editors) shows them.
    """

    def declare(init: Callable[..., None]) -> Callable[Concatenate[Any, P], None]:
        init.__signature__ = inspect.signature(original)  # type: ignore[attr-defined]
        return init

    return declare


def mirror(name: str, *, settable: bool = False, doc: str | None = None) -> Any:
    """A property showing the original's attribute ``name`` (and setting it if allowed)."""

    def get(self: Twin[Any]) -> Any:
        return getattr(self._async, name)

    def set_(self: Twin[Any], value: Any) -> None:
        setattr(self._async, name, value)

    return property(get, set_ if settable else None, doc=doc or f"The original's ``{name}``.")


def blocking_property(method: Callable[[A], Awaitable[R]], doc: str | None = None) -> Any:
    """A property whose value the async ``method`` computes (e.g. waits for a schema)."""

    def get(self: Twin[Any]) -> Any:
        return self._portal.run(getattr(self._async, method.__name__)())

    return property(get, doc=doc or method.__doc__)


def _iterate(iterator: Any, portal: LoopThread) -> Iterator[Any]:
    """Pull ``iterator`` (an async iterator living on the loop) item by item, blocking.

    The first item is fetched at once, so the call starts (and a failure to start raises)
    where it is made, as with pyarrow.flight; the rest come as the caller iterates.
    """

    async def pull() -> Any:
        try:
            return await iterator.__anext__()
        except StopAsyncIteration:
            return _NOTHING

    first = portal.run(pull())
    return _rest(iterator, portal, first, pull)


def _rest(iterator: Any, portal: LoopThread, first: Any, pull: Any) -> Iterator[Any]:
    finished = False
    try:
        item = first
        while item is not _NOTHING:
            yield item
            item = portal.run(pull())
        finished = True
    finally:
        close = getattr(iterator, "aclose", None)
        if not finished and close is not None and not portal.loop.is_closed():
            # Left early (break, error, garbage collection): end the call on the loop,
            # without waiting, since this may run on any thread.
            asyncio.run_coroutine_threadsafe(close(), portal.loop)

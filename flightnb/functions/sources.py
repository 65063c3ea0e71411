"""The client a one-call function calls: one of its own for a location, or the one given.

Every one-call function of :mod:`flightnb.functions` (:func:`flightnb.read_flight`,
:func:`flightnb.open_flight`, :func:`flightnb.write_flight`, the sinks...) is a shim over the
client method of the same name: it takes its client from here and calls the method. A
location gets a Flight SQL client of its own, closed when the call ends (or, for a stream,
when the stream ends); a Flight client is viewed as a Flight SQL client on the same
connection, so that ``sql=`` works on it too; a client passed in is never closed.

Blocking calls, and async calls given a location or a blocking client, run on flightnb's
loop thread, where the blocking clients' channels live: one process then polls gRPC from one
event loop, not two (a second grpc.aio loop makes reads on both pay a hand-over; see
docs/performance.md). An async client's calls run on the caller's loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.batch_reader import AsyncFlightBatchReader, FlightBatchReader
from flightnb.client.loop_thread import shared_loop_thread
from flightnb.client.sync import FlightClient
from flightnb.errors import FlightArgumentError
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.sql.sync import FlightSqlClient

if TYPE_CHECKING:
    from flightnb.types import LocationLike

    #: Where a blocking call goes: a location, or a client whose connection it uses.
    Source: TypeAlias = "LocationLike | FlightClient | FlightSqlClient"
    #: Where an async call goes: also an async client, whose loop it then runs on.
    AsyncSource: TypeAlias = "Source | AsyncFlightClient | AsyncFlightSqlClient"

__all__ = [
    "async_client",
    "blocking_call",
    "blocking_client",
    "check_client_options",
    "open_async",
    "open_blocking",
]

T = TypeVar("T")


def check_client_options(source: Any, client_options: Mapping[str, Any]) -> None:
    """Refuse client options given with a client: they only apply to a client made here."""
    if client_options and isinstance(
        source, (FlightClient, FlightSqlClient, AsyncFlightClient, AsyncFlightSqlClient)
    ):
        raise FlightArgumentError(
            f"client options ({', '.join(sorted(client_options))}) only apply when source is a "
            "location; set them on the client instead"
        )


def _refuse_async(source: Any, name: str) -> None:
    if isinstance(source, (AsyncFlightClient, AsyncFlightSqlClient)):
        raise FlightArgumentError(
            f"{name} needs a URI or a FlightClient; with an AsyncFlightClient use "
            f"'await {name}_async(...)', or the client's own method"
        )


@contextlib.contextmanager
def blocking_client(
    source: Any, client_options: Mapping[str, Any], name: str
) -> Iterator[FlightSqlClient]:
    """The blocking client to call ``name`` on; one of its own is closed on leaving.

    The functions call :func:`blocking_call` instead, which makes the client on the loop
    thread; this stays for the deprecated :mod:`flightnb.sources`, for one release.
    """
    _refuse_async(source, name)
    check_client_options(source, client_options)
    if isinstance(source, FlightSqlClient):
        yield source
        return
    # A view of a FlightClient closes only the statements it prepared, never the client.
    opened = FlightSqlClient(source) if isinstance(source, FlightClient) else None
    with opened or FlightSqlClient(source, **client_options) as client:
        yield client


@contextlib.asynccontextmanager
async def _on_loop(
    source: Any, client_options: Mapping[str, Any]
) -> AsyncIterator[AsyncFlightSqlClient]:
    if isinstance(source, AsyncFlightSqlClient):
        yield source
        return
    if isinstance(source, FlightSqlClient):
        yield source.async_client
        return
    if isinstance(source, FlightClient):
        source = source.async_client
    opened = AsyncFlightSqlClient(source) if isinstance(source, AsyncFlightClient) else None
    async with opened or AsyncFlightSqlClient(source, **client_options) as client:
        yield client


async def async_client(
    source: Any,
    client_options: Mapping[str, Any],
    call: Callable[[AsyncFlightSqlClient], Awaitable[T]],
) -> T:
    """``call`` with the async client for ``source``, on the loop that client belongs to."""
    check_client_options(source, client_options)

    async def run() -> T:
        async with _on_loop(source, client_options) as client:
            return await call(client)

    if isinstance(source, (AsyncFlightClient, AsyncFlightSqlClient)):
        return await run()
    return await shared_loop_thread().run_async(run())


def blocking_call(
    source: Any,
    client_options: Mapping[str, Any],
    name: str,
    call: Callable[[AsyncFlightSqlClient], Awaitable[T]],
) -> T:
    """``call`` with the client for ``source``, waited for from the calling thread.

    The whole of it (opening a client for a location, the call, closing that client) runs
    on flightnb's loop thread, so a KeyboardInterrupt can only reach the caller's wait: it
    cancels the call, and the client is closed on the loop as the call unwinds. Opened on
    the calling thread, an interrupt landing between making the client and entering its
    ``with`` block would leave its channel open.
    """
    _refuse_async(source, name)
    return shared_loop_thread().run(async_client(source, client_options, call))


def open_blocking(
    source: Any,
    client_options: Mapping[str, Any],
    name: str,
    call: Callable[[FlightSqlClient], FlightBatchReader],
) -> FlightBatchReader:
    """The reader ``call`` opens; a client opened for it closes when the stream ends."""
    _refuse_async(source, name)
    check_client_options(source, client_options)
    if isinstance(source, FlightSqlClient):
        return call(source)
    if isinstance(source, FlightClient):
        return call(FlightSqlClient(source))  # a view: nothing of its own to close
    client = FlightSqlClient(source, **client_options)
    try:
        reader = call(client)
        # Inside the try: an interrupt while handing the close over must not leave it open.
        reader._close_with(client.async_client.close)
    except BaseException:
        client.close()
        raise
    return reader


async def open_async(
    source: Any,
    client_options: Mapping[str, Any],
    call: Callable[[AsyncFlightSqlClient], Coroutine[Any, Any, AsyncFlightBatchReader]],
) -> AsyncFlightBatchReader:
    """The async reader ``call`` opens; a client opened for it closes when the stream ends."""
    check_client_options(source, client_options)
    if isinstance(source, AsyncFlightSqlClient):
        return await call(source)
    if isinstance(source, AsyncFlightClient):
        return await call(AsyncFlightSqlClient(source))
    if isinstance(source, FlightSqlClient):
        return await shared_loop_thread().run_async(call(source.async_client))
    if isinstance(source, FlightClient):
        view = AsyncFlightSqlClient(source.async_client)
        return await shared_loop_thread().run_async(call(view))

    async def own() -> AsyncFlightBatchReader:
        client = AsyncFlightSqlClient(source, **client_options)
        try:
            reader = await call(client)
        except BaseException:
            await client.close()
            raise
        reader._close_with(client.close)
        return reader

    return await shared_loop_thread().run_async(own())

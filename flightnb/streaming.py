"""One-call streaming reads: ``open_flight`` and ``open_flight_async``.

They plan a read like :func:`flightnb.read_flight` (a ticket, a descriptor, or a Flight SQL
query) and hand back the stream instead of a Table: a
:class:`~flightnb.client.batch_reader.FlightBatchReader` (blocking) or an
:class:`~flightnb.client.batch_reader.AsyncFlightBatchReader`. Flights opened from a URI or
a ``FlightClient`` run on flightnb's loop thread, so their blocking Arrow views
(``to_reader()``, ``__arrow_c_stream__``) work from any thread, including a notebook's.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.batch_reader import AsyncFlightBatchReader, FlightBatchReader
from flightnb.client.batch_stream import DEFAULT_MAX_BUFFER_BYTES, FlightBatchStream, open_stream
from flightnb.client.loop_thread import LoopThread, shared_loop_thread
from flightnb.client.observer import TransferObserver
from flightnb.client.sync import FlightClient
from flightnb.errors import FlightArgumentError
from flightnb.requests import SqlQuery, observer_for, read_request
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.sql.sync import FlightSqlClient
from flightnb.types import FlightDescriptor, FlightInfo, Ticket

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flightnb.client.aio import ClientOptions
    from flightnb.types import DescriptorLike, LocationLike, TicketLike

    #: Where a blocking read goes: a location, or a client whose connection it uses.
    Source: TypeAlias = "LocationLike | FlightClient | FlightSqlClient"
    #: Where an async read goes: also an async client, whose loop it then runs on.
    AsyncSource: TypeAlias = "Source | AsyncFlightClient | AsyncFlightSqlClient"

__all__ = ["Chooser", "open_flight", "open_flight_async", "open_reader", "plan_and_stream"]

#: Picks the endpoints to read once a flight is planned (see :func:`plan_and_stream`).
Chooser = Callable[[FlightInfo | Ticket], Sequence[int] | None]


async def plan_and_stream(
    client: AsyncFlightClient,
    request: Ticket | FlightDescriptor | SqlQuery | FlightInfo,
    *,
    owns_client: bool,
    max_concurrency: int | None = None,
    preserve_order: bool | None = None,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    stall_timeout: float | None = None,
    timeout: float | None = None,
    observer: TransferObserver | None = None,
    choose: Chooser | None = None,
) -> FlightBatchStream:
    """Plan ``request`` on ``client`` (GetFlightInfo, a SQL query, or none) and start it.

    Runs on ``client``'s loop. The stream closes ``client`` when it ends if ``owns_client``.
    ``choose`` sees the plan (a FlightInfo or the Ticket) before any DoGet and returns the
    indexes of the endpoints to read (None: all); it may raise to refuse the plan.
    """
    sql_client: AsyncFlightSqlClient | None = None
    closed = False

    async def close() -> None:
        nonlocal closed
        if closed:
            return
        closed = True
        try:
            if sql_client is not None:
                await sql_client.close()  # statements prepared for parameters
        finally:
            if owns_client:
                await client.close()

    try:
        what: FlightInfo | Ticket
        if isinstance(request, SqlQuery):
            sql_client = AsyncFlightSqlClient(client)
            what = await sql_client.execute(request.query, request.parameters, timeout=timeout)
        elif isinstance(request, FlightDescriptor):
            what = await client.get_flight_info(request, timeout=timeout)
        else:
            what = request
        endpoints = choose(what) if choose is not None else None
        return await open_stream(
            client,
            what,
            max_concurrency=max_concurrency,
            preserve_order=preserve_order,
            max_buffer_bytes=max_buffer_bytes,
            stall_timeout=stall_timeout,
            timeout=timeout,
            observer=observer,
            on_close=close,
            endpoints=endpoints,
        )
    except BaseException:
        await close()
        raise


def resolve_source(
    source: Any, client_options: Mapping[str, Any]
) -> tuple[AsyncFlightClient | None, LoopThread | None, Any]:
    """(client, or None to create one for the location; the loop thread or None; location).

    A URI or a FlightClient runs on flightnb's loop thread; an AsyncFlightClient on the
    caller's loop (thread None).
    """
    if isinstance(source, (FlightSqlClient, AsyncFlightSqlClient)):
        source = source.flight_client
    if client_options and isinstance(source, (FlightClient, AsyncFlightClient)):
        raise FlightArgumentError(
            f"client options ({', '.join(sorted(client_options))}) only apply when source is a "
            "location; set them on the client instead"
        )
    if isinstance(source, AsyncFlightClient):
        return source, None, None
    if isinstance(source, FlightClient):
        return source.async_client, shared_loop_thread(), None
    return None, shared_loop_thread(), source


@contextlib.asynccontextmanager
async def client_for(
    client: AsyncFlightClient | None, location: Any, client_options: Mapping[str, Any]
) -> AsyncIterator[AsyncFlightClient]:
    """``client``, or a client of its own for ``location``, closed on leaving (on its loop)."""
    if client is not None:
        yield client
        return
    async with AsyncFlightClient(location, **client_options) as own:
        yield own


async def _open_on_loop(
    client: AsyncFlightClient | None,
    location: Any,
    request: Ticket | FlightDescriptor | SqlQuery,
    client_options: Mapping[str, Any],
    options: dict[str, Any],
) -> FlightBatchStream:
    owns = client is None
    if client is None:
        client = AsyncFlightClient(location, **client_options)
    return await plan_and_stream(client, request, owns_client=owns, **options)


async def open_flight_async(
    source: AsyncSource,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    max_concurrency: int | None = None,
    preserve_order: bool | None = None,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    stall_timeout: float | None = None,
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> AsyncFlightBatchReader:
    """Open a flight as a stream of record batches, from async code.

    Takes the arguments of :func:`open_flight` and returns an
    :class:`~flightnb.client.batch_reader.AsyncFlightBatchReader` (``async for``,
    ``await read_all()``, ``async with``). With an ``AsyncFlightClient`` as ``source`` the
    calls run on the caller's loop; otherwise on flightnb's loop thread.

    Examples
    --------
    >>> rows = 0
    >>> async with await open_flight_async(URI, path="trips") as reader:
    ...     async for batch in reader:
    ...         rows += batch.num_rows
    """
    request = read_request(ticket, path, command, descriptor, sql, parameters)
    client, thread, location = resolve_source(source, client_options)
    options = stream_options(
        max_concurrency, preserve_order, max_buffer_bytes, stall_timeout, timeout, progress
    )
    opening = _open_on_loop(client, location, request, client_options, options)
    if thread is None:
        return AsyncFlightBatchReader(await opening, None)
    return AsyncFlightBatchReader(await thread.run_async(opening), thread)


def open_flight(
    source: Source,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    max_concurrency: int | None = None,
    preserve_order: bool | None = None,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    stall_timeout: float | None = None,
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> FlightBatchReader:
    """Open a flight as a stream of record batches, without materializing it.

    Every endpoint is read concurrently and at most ``max_buffer_bytes`` of received,
    unconsumed data is held; beyond that the client stops reading and gRPC flow control
    slows the servers down.

    Parameters
    ----------
    source : str or FlightClient
        A location URI (``grpc://host:port``, ...) or a client.
    ticket, path, command, descriptor, sql, parameters
        What to read, exactly as for :func:`flightnb.read_flight`.
    max_concurrency : int, optional
        Endpoints read at once. Default: one stream per endpoint, at most 16, and at most
        one per 32 MiB of ``max_buffer_bytes`` (what a stream may hold in gRPC: about twice its
        16 MiB window).
    preserve_order : bool, optional
        True: batches come in endpoint order (a reorder buffer, within the memory bound);
        False: in arrival order. None follows ``FlightInfo.ordered`` (a ticket is ordered).
    max_buffer_bytes : int
        Received bytes held before the client stops reading (default 256 MiB).
    stall_timeout : float, optional
        Raise FlightTimedOutError when an endpoint sends no message for this many seconds
        (time spent waiting for the consumer does not count).
    progress : bool, TransferObserver or None
        As for :func:`flightnb.read_flight`.
    timeout : float, optional
        The deadline of each call (GetFlightInfo, each DoGet), in seconds.
    **client_options
        Passed to the client when ``source`` is a URI.

    Returns
    -------
    FlightBatchReader
        ``schema``, ``info``, ``stats``; iterate for ``pyarrow.RecordBatch``; ``read_all()``,
        ``to_reader()``, ``__arrow_c_stream__``, ``cancel()``; a context manager whose exit
        cancels every call still running.

    Examples
    --------
    >>> import polars
    >>> with open_flight("grpc://127.0.0.1:8815", path="trips") as reader:
    ...     df = polars.from_arrow(reader)          # streams through the C interface
    """
    if isinstance(source, (AsyncFlightClient, AsyncFlightSqlClient)):
        raise FlightArgumentError(
            "open_flight needs a URI or a FlightClient; with an AsyncFlightClient use "
            "'await open_flight_async(...)'"
        )
    request = read_request(ticket, path, command, descriptor, sql, parameters)
    options = stream_options(
        max_concurrency, preserve_order, max_buffer_bytes, stall_timeout, timeout, progress
    )
    return open_reader(source, request, client_options, options)


def open_reader(
    source: Any,
    request: Ticket | FlightDescriptor | SqlQuery,
    client_options: Mapping[str, Any],
    options: dict[str, Any],
    choose: Chooser | None = None,
) -> FlightBatchReader:
    """:func:`open_flight` after its arguments are checked (the sinks build on it)."""
    client, thread, location = resolve_source(source, client_options)
    if thread is None:
        raise FlightArgumentError(
            "a blocking read needs a URI or a FlightClient, not an AsyncFlightClient"
        )
    if choose is not None:
        options = {**options, "choose": choose}
    stream = thread.run(_open_on_loop(client, location, request, client_options, options))
    return FlightBatchReader(stream, thread)


def stream_options(
    max_concurrency: int | None,
    preserve_order: bool | None,
    max_buffer_bytes: int,
    stall_timeout: float | None,
    timeout: float | None,
    progress: bool | TransferObserver | None,
) -> dict[str, Any]:
    if max_concurrency is not None and max_concurrency < 1:
        raise FlightArgumentError("max_concurrency must be at least 1")
    if max_buffer_bytes < 1:
        raise FlightArgumentError("max_buffer_bytes must be positive")
    if stall_timeout is not None and stall_timeout <= 0:
        raise FlightArgumentError("stall_timeout must be positive")
    return {
        "max_concurrency": max_concurrency,
        "preserve_order": preserve_order,
        "max_buffer_bytes": max_buffer_bytes,
        "stall_timeout": stall_timeout,
        "timeout": timeout,
        "observer": observer_for(progress, timeout=timeout),
    }

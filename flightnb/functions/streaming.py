"""One-call streaming reads: ``open_flight`` and ``open_flight_async``.

Shims over the clients' :meth:`~flightnb.client.operations.AsyncFlightOperations.open_flight`:
they open a client for a location (closed when the stream ends), or use the client given,
and call the method. Flights opened from a URI or a ``FlightClient`` run on flightnb's loop
thread, so their blocking Arrow views (``to_reader()``, ``__arrow_c_stream__``) work from any
thread, including a notebook's. :func:`plan_and_stream`, :func:`resolve_source` and
:func:`client_for` serve the polars scan and the Dask and Ray workers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.batch_reader import AsyncFlightBatchReader, FlightBatchReader
from flightnb.client.batch_stream import DEFAULT_MAX_BUFFER_BYTES, FlightBatchStream
from flightnb.client.loop_thread import LoopThread, shared_loop_thread
from flightnb.client.observer import TransferObserver
from flightnb.client.operations import Chooser, start_stream
from flightnb.client.sync import FlightClient
from flightnb.functions.sources import check_client_options, open_async, open_blocking
from flightnb.requests import SqlQuery
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.sql.sync import FlightSqlClient
from flightnb.types import FlightDescriptor, FlightInfo, Ticket

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flightnb.client.aio import ClientOptions
    from flightnb.functions.sources import AsyncSource, Source
    from flightnb.types import DescriptorLike, TicketLike

__all__ = [
    "Chooser",
    "client_for",
    "open_flight",
    "open_flight_async",
    "plan_and_stream",
    "resolve_source",
]


async def plan_and_stream(
    client: AsyncFlightClient,
    request: Ticket | FlightDescriptor | SqlQuery | FlightInfo,
    *,
    owns_client: bool,
    choose: Chooser | None = None,
    **options: Any,
) -> FlightBatchStream:
    """Plan ``request`` on ``client`` (GetFlightInfo, a SQL query, or none) and start it.

    :func:`flightnb.client.operations.start_stream` for a plain client, with ``sql=``
    planned by a Flight SQL view of it. Runs on ``client``'s loop; the stream closes
    ``client`` when it ends if ``owns_client``. ``options`` are those of ``start_stream``.
    """
    planner = AsyncFlightSqlClient(client) if isinstance(request, SqlQuery) else None
    return await start_stream(
        client,
        request,
        planner=planner,
        choose=choose,
        on_close=client.close if owns_client else None,
        **options,
    )


def resolve_source(
    source: Any, client_options: Mapping[str, Any]
) -> tuple[AsyncFlightClient | None, LoopThread | None, Any]:
    """(client, or None to create one for the location; the loop thread or None; location).

    A URI or a FlightClient runs on flightnb's loop thread; an AsyncFlightClient on the
    caller's loop (thread None).
    """
    check_client_options(source, client_options)
    if isinstance(source, (FlightSqlClient, AsyncFlightSqlClient)):
        source = source.flight_client
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
    return await open_async(
        source,
        client_options,
        lambda client: client.open_flight(
            descriptor,
            ticket=ticket,
            path=path,
            command=command,
            sql=sql,
            parameters=parameters,
            max_concurrency=max_concurrency,
            preserve_order=preserve_order,
            max_buffer_bytes=max_buffer_bytes,
            stall_timeout=stall_timeout,
            progress=progress,
            timeout=timeout,
        ),
    )


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
    return open_blocking(
        source,
        client_options,
        "open_flight",
        lambda client: client.open_flight(
            descriptor,
            ticket=ticket,
            path=path,
            command=command,
            sql=sql,
            parameters=parameters,
            max_concurrency=max_concurrency,
            preserve_order=preserve_order,
            max_buffer_bytes=max_buffer_bytes,
            stall_timeout=stall_timeout,
            progress=progress,
            timeout=timeout,
        ),
    )

"""One-call reads: ``read_flight`` and ``read_flight_async``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import pyarrow as pa

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.flights import read_descriptor, read_ticket
from flightnb.client.loop_thread import shared_loop_thread
from flightnb.client.observer import TransferObserver
from flightnb.convert import check_target, convert_table
from flightnb.errors import FlightArgumentError
from flightnb.requests import SqlQuery, bounded, observer_for, read_request
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.streaming import client_for, open_flight, open_flight_async, resolve_source
from flightnb.types import FlightDescriptor, Ticket

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    from typing_extensions import Unpack

    from flightnb.client.aio import ClientOptions
    from flightnb.streaming import AsyncSource, Source
    from flightnb.types import DescriptorLike, TicketLike

    #: What ``to=`` may return when the type checker does not know which value it is.
    ReadResult: TypeAlias = "pa.Table | pd.DataFrame | pl.DataFrame | pa.RecordBatchReader"

__all__ = ["read_flight", "read_flight_async"]


async def _read(
    client: AsyncFlightClient,
    request: Ticket | FlightDescriptor | SqlQuery,
    observer: TransferObserver | None,
) -> pa.Table:
    if isinstance(request, SqlQuery):
        return await AsyncFlightSqlClient(client).query(
            request.query, request.parameters, observer=observer
        )
    # The same stream open_flight returns, drained: arrival order, reassembled in endpoint order.
    if isinstance(request, FlightDescriptor):
        return await read_descriptor(client, request, observer=observer)
    return await read_ticket(client, request, observer=observer)


@overload
async def read_flight_async(
    source: AsyncSource,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: Literal["arrow"] = "arrow",
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> pa.Table: ...


@overload
async def read_flight_async(
    source: AsyncSource,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: Literal["pandas"],
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> pd.DataFrame: ...


@overload
async def read_flight_async(
    source: AsyncSource,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: Literal["polars"],
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> pl.DataFrame: ...


@overload
async def read_flight_async(
    source: AsyncSource,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: Literal["reader"],
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> pa.RecordBatchReader: ...


@overload
async def read_flight_async(
    source: AsyncSource,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: str = "arrow",
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> ReadResult: ...


async def read_flight_async(
    source: AsyncSource,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: str = "arrow",
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> ReadResult:
    """Read a flight on the running event loop; see :func:`read_flight`."""
    if to == "reader":
        if isinstance(source, (AsyncFlightClient, AsyncFlightSqlClient)):
            raise FlightArgumentError(
                "to='reader' blocks on each batch, which would deadlock the loop your "
                "AsyncFlightClient runs on; use 'await open_flight_async(...)' instead"
            )
        reader = await open_flight_async(
            source,
            ticket=ticket,
            path=path,
            command=command,
            descriptor=descriptor,
            sql=sql,
            parameters=parameters,
            progress=progress,
            timeout=timeout,
            **client_options,
        )
        return reader.to_reader()
    check_target(to)
    request = read_request(ticket, path, command, descriptor, sql, parameters)
    observer = observer_for(progress, timeout=timeout)
    client, thread, location = resolve_source(source, client_options)

    async def read_once() -> pa.Table:
        async with client_for(client, location, client_options) as active:
            return await bounded(_read(active, request, observer), timeout)

    # A URI or a FlightClient reads on flightnb's loop thread, where the FlightClient's
    # channels live and where a URI gets a client of its own: one process then polls gRPC
    # from one event loop, not two (a second grpc.aio loop makes reads on both pay a
    # hand-over; see docs/performance.md). An AsyncFlightClient reads on the caller's loop.
    table = await (read_once() if thread is None else thread.run_async(read_once()))
    return convert_table(table, to)


@overload
def read_flight(
    source: Source,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: Literal["arrow"] = "arrow",
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> pa.Table: ...


@overload
def read_flight(
    source: Source,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: Literal["pandas"],
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> pd.DataFrame: ...


@overload
def read_flight(
    source: Source,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: Literal["polars"],
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> pl.DataFrame: ...


@overload
def read_flight(
    source: Source,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: Literal["reader"],
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> pa.RecordBatchReader: ...


@overload
def read_flight(
    source: Source,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: str = "arrow",
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> ReadResult: ...


def read_flight(
    source: Source,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    to: str = "arrow",
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> ReadResult:
    """Read a flight into a pyarrow Table, pandas DataFrame or polars DataFrame.

    Parameters
    ----------
    source : str or FlightClient
        A location URI (``grpc://host:port``, ``grpc+tls://...``, ``grpc+unix:///path``) or
        a client.
    ticket : str or bytes, optional
        Read this one ticket with a single DoGet.
    path, command, descriptor : optional
        Read a whole flight: GetFlightInfo, then every endpoint concurrently.
    sql : str, optional
        Run this Flight SQL query and read its whole result.
    parameters : dict, list, tuple, pyarrow Table, pandas or polars DataFrame, optional
        Values for the ``sql`` query's parameters, bound as Arrow through a prepared
        statement (see :meth:`flightnb.sql.AsyncFlightSqlClient.query`).
    to : {"arrow", "pandas", "polars", "reader"}
        What to return; ``"reader"`` is a ``pyarrow.RecordBatchReader`` over the stream,
        nothing materialized (see :func:`flightnb.open_flight`; ``timeout`` is then the
        deadline of each call).
    progress : bool or None
        None shows progress when the read takes more than a moment; True always, False never.
    timeout : float, optional
        Bound on the whole read in seconds; raises FlightTimedOutError after it.
    **client_options
        Passed to the client when ``source`` is a URI (``token=``, ``headers=``, TLS...).

    Returns
    -------
    pyarrow.Table, pandas.DataFrame, polars.DataFrame or pyarrow.RecordBatchReader
        As ``to=`` says. Type checkers know which from the literal (``to="polars"`` is a
        ``polars.DataFrame``); for a ``to`` held in a ``str`` variable they see the union.

    Examples
    --------
    >>> df = read_flight("grpc://127.0.0.1:8815", path="trips", to="polars")
    >>> df = read_flight("grpc://127.0.0.1:8815", sql="SELECT * FROM trips WHERE fare > ?",
    ...                  parameters=[2.5], to="pandas")
    >>> bool((df["fare"] > 2.5).all())
    True
    """
    if to != "reader":
        check_target(to)
    if isinstance(source, (AsyncFlightClient, AsyncFlightSqlClient)):
        raise FlightArgumentError(
            "read_flight needs a URI or a FlightClient; with an AsyncFlightClient use "
            "'await read_flight_async(...)'"
        )
    if to == "reader":
        return open_flight(
            source,
            ticket=ticket,
            path=path,
            command=command,
            descriptor=descriptor,
            sql=sql,
            parameters=parameters,
            progress=progress,
            timeout=timeout,
            **client_options,
        ).to_reader()
    return shared_loop_thread().run(
        read_flight_async(
            source,
            ticket=ticket,
            path=path,
            command=command,
            descriptor=descriptor,
            sql=sql,
            parameters=parameters,
            to=to,
            progress=progress,
            timeout=timeout,
            **client_options,
        )
    )

"""One-call reads: ``read_flight`` and ``read_flight_async``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.flights import read_descriptor
from flightnb.client.loop_thread import shared_loop_thread
from flightnb.client.observer import TransferObserver, notify, observed_transfer
from flightnb.client.sync import FlightClient
from flightnb.convert import check_target, convert_table
from flightnb.errors import FlightInvalidArgumentError, FlightTimedOutError
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.sql.sync import FlightSqlClient
from flightnb.types import FlightDescriptor, Ticket, as_ticket, descriptor_from

__all__ = ["read_flight", "read_flight_async"]

T = TypeVar("T")


@dataclass(frozen=True)
class SqlQuery:
    """A ``sql=`` read: a Flight SQL statement query, with parameters bound as Arrow."""

    query: str
    parameters: Any = field(default=None, repr=False)


def _request(
    ticket: Any,
    path: str | Sequence[str] | None,
    command: str | bytes | None,
    descriptor: Any,
    sql: str | None = None,
    parameters: Any = None,
) -> Ticket | FlightDescriptor | SqlQuery:
    given = [
        name
        for name, value in (
            ("ticket", ticket),
            ("path", path),
            ("command", command),
            ("descriptor", descriptor),
            ("sql", sql),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise FlightInvalidArgumentError(
            "give exactly one of ticket=, path=, command=, descriptor= or sql= "
            f"(got {', '.join(given) or 'none'})"
        )
    if parameters is not None and sql is None:
        raise FlightInvalidArgumentError("parameters= goes with sql= only")
    if sql is not None:
        return SqlQuery(sql, parameters)
    if ticket is not None:
        return as_ticket(ticket)
    return descriptor_from(path, command, descriptor)


def observer_for(progress: Any) -> TransferObserver | None:
    """The display for ``progress=``: None/True/False pick one, anything else is used as is."""
    if progress is None or progress is False or progress is True:
        from flightnb.progress import auto_observer

        return auto_observer(progress)
    return progress  # type: ignore[no-any-return]


async def _read(
    client: AsyncFlightClient,
    request: Ticket | FlightDescriptor | SqlQuery,
    observer: TransferObserver | None,
) -> pa.Table:
    if isinstance(request, SqlQuery):
        return await AsyncFlightSqlClient(client).query(
            request.query, request.parameters, observer=observer
        )
    if isinstance(request, FlightDescriptor):
        return await read_descriptor(client, request, observer=observer)
    async with observed_transfer(observer, info=None, parts=1):
        reader = client.do_get(request)
        if observer is not None:
            reader.on_progress = lambda stats: notify(observer, "progressed", 0, stats)
        async with reader:
            return await reader.read_all()


async def read_flight_async(
    source: str | AsyncFlightClient | FlightClient | Any,
    *,
    ticket: str | bytes | Any = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: Any = None,
    sql: str | None = None,
    parameters: Any = None,
    to: str = "arrow",
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Any,
) -> Any:
    """Read a flight on the running event loop; see :func:`read_flight`."""
    check_target(to)
    request = _request(ticket, path, command, descriptor, sql, parameters)
    if isinstance(source, (FlightSqlClient, AsyncFlightSqlClient)):
        source = source.flight_client
    observer = observer_for(progress)
    if client_options and isinstance(source, (FlightClient, AsyncFlightClient)):
        raise FlightInvalidArgumentError(
            f"client options ({', '.join(sorted(client_options))}) only apply when source is a "
            "location; set them on the client instead"
        )
    if isinstance(source, FlightClient):
        # Its channels live on flightnb's loop thread: run there (or right here, if this is
        # that thread already).
        table = await shared_loop_thread().run_async(
            bounded(_read(source.async_client, request, observer), timeout)
        )
        return convert_table(table, to)
    owns_client = not isinstance(source, AsyncFlightClient)
    client = (
        source
        if isinstance(source, AsyncFlightClient)
        else AsyncFlightClient(source, **client_options)
    )
    try:
        table = await bounded(_read(client, request, observer), timeout)
    finally:
        if owns_client:
            await client.close()
    return convert_table(table, to)


async def bounded(awaitable: Awaitable[T], timeout: float | None) -> T:
    """Await ``awaitable``, cancelling it (and its RPCs) if it takes over ``timeout`` s."""
    if timeout is None:
        return await awaitable
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise FlightTimedOutError(
            f"the call did not finish within {timeout} s", code="DEADLINE_EXCEEDED"
        ) from None


def read_flight(
    source: str | FlightClient | Any,
    *,
    ticket: str | bytes | Any = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: Any = None,
    sql: str | None = None,
    parameters: Any = None,
    to: str = "arrow",
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Any,
) -> Any:
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
    to : {"arrow", "pandas", "polars"}
        What to return.
    progress : bool or None
        None shows progress when the read takes more than a moment; True always, False never.
    timeout : float, optional
        Bound on the whole read in seconds; raises FlightTimedOutError after it.
    **client_options
        Passed to the client when ``source`` is a URI (``token=``, ``headers=``, TLS...).

    Examples
    --------
    >>> df = read_flight("grpc://127.0.0.1:8815", path="trips", to="polars")  # doctest: +SKIP
    >>> df = read_flight("grpc://127.0.0.1:8815", sql="SELECT * FROM trips WHERE fare > ?",
    ...                  parameters=[2.5], to="pandas")  # doctest: +SKIP
    """
    check_target(to)
    if isinstance(source, (AsyncFlightClient, AsyncFlightSqlClient)):
        raise FlightInvalidArgumentError(
            "read_flight needs a URI or a FlightClient; with an AsyncFlightClient use "
            "'await read_flight_async(...)'"
        )
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

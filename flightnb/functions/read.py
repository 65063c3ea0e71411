"""One-call reads: ``read_flight`` and ``read_flight_async``.

Shims over the clients' :meth:`~flightnb.client.operations.AsyncFlightOperations.read_flight`
(see :mod:`flightnb.functions.sources`): everything a read does, and every option, is the method's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from flightnb.client.observer import TransferObserver
from flightnb.convert import DEFAULT_DTYPE_BACKEND, DtypeBackend
from flightnb.functions.sources import async_client, blocking_call
from flightnb.functions.streaming import open_flight, open_flight_async

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    from typing_extensions import Unpack

    from flightnb.client.aio import ClientOptions
    from flightnb.client.operations import ReadResult
    from flightnb.functions.sources import AsyncSource, Source
    from flightnb.types import DescriptorLike, TicketLike

__all__ = ["read_flight", "read_flight_async"]


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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> ReadResult:
    """Read a flight on the running event loop; see :func:`read_flight`."""
    if to == "reader":  # a reader outlives the call: its client goes with the stream
        reader = await open_flight_async(
            source,
            ticket=ticket,
            path=path,
            command=command,
            descriptor=descriptor,
            sql=sql,
            parameters=parameters,
            max_concurrency=max_concurrency,
            progress=progress,
            timeout=timeout,
            **client_options,
        )
        return reader.to_reader()
    return await async_client(
        source,
        client_options,
        lambda client: client.read_flight(
            descriptor,
            ticket=ticket,
            path=path,
            command=command,
            sql=sql,
            parameters=parameters,
            to=to,
            dtype_backend=dtype_backend,
            to_pandas_options=to_pandas_options,
            rechunk=rechunk,
            max_concurrency=max_concurrency,
            progress=progress,
            timeout=timeout,
        ),
    )


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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
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
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
    max_concurrency: int | None = None,
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    **client_options: Unpack[ClientOptions],
) -> ReadResult:
    """Read a flight into a pyarrow Table, pandas DataFrame or polars DataFrame.

    Opens a client for ``source`` (or uses the one given, without closing it) and calls its
    ``read_flight``: ``read_flight(uri, ...)`` is ``FlightSqlClient(uri).read_flight(...)``.

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
    dtype_backend, to_pandas_options, rechunk, max_concurrency
        As for :meth:`flightnb.FlightClient.read_flight`
        (``dtype_backend`` defaults to ``"numpy"``, on every path that gives pandas).
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
    if to == "reader":  # a reader outlives the call: its client goes with the stream
        return open_flight(
            source,
            ticket=ticket,
            path=path,
            command=command,
            descriptor=descriptor,
            sql=sql,
            parameters=parameters,
            max_concurrency=max_concurrency,
            progress=progress,
            timeout=timeout,
            **client_options,
        ).to_reader()
    return blocking_call(
        source,
        client_options,
        "read_flight",
        lambda client: client.read_flight(
            descriptor,
            ticket=ticket,
            path=path,
            command=command,
            sql=sql,
            parameters=parameters,
            to=to,
            dtype_backend=dtype_backend,
            to_pandas_options=to_pandas_options,
            rechunk=rechunk,
            max_concurrency=max_concurrency,
            progress=progress,
            timeout=timeout,
        ),
    )

"""The one-call operations every client has: read, open, write, exchange, and the sinks.

:class:`AsyncFlightOperations` gives :class:`~flightnb.client.aio.AsyncFlightClient` and
:class:`~flightnb.sql.AsyncFlightSqlClient` the same methods (``read_flight``,
``open_flight``, ``write_flight``, ``exchange_flight``, ``write_parquet``, ``write_ipc``,
``write_dataset``), written once here; the blocking clients have their twins. The top-level
functions (:func:`flightnb.read_flight`, ...) open a client for a location and call these.

A plain Flight client plans no Flight SQL: ``sql=`` needs a Flight SQL client (the top-level
functions use one). This module sits below both clients, so it reaches them only through the
protocols of :mod:`flightnb.client.rpcs`.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import pyarrow as pa

from flightnb import sink_files
from flightnb.client.batch_reader import AsyncFlightBatchReader, FlightBatchReader
from flightnb.client.batch_stream import DEFAULT_MAX_BUFFER_BYTES, FlightBatchStream, open_stream
from flightnb.client.flights import read_descriptor, read_ticket
from flightnb.client.loop_thread import current_portal, running_on_loop_thread
from flightnb.client.observer import TransferObserver, notify, observed_transfer
from flightnb.convert import (
    DEFAULT_DTYPE_BACKEND,
    DtypeBackend,
    as_table,
    check_pandas_options,
    check_read_target,
    check_rechunk,
    check_target,
    convert_table,
)
from flightnb.errors import FlightArgumentError, FlightCancelledError
from flightnb.narrowing import Narrowing, narrow_large_types
from flightnb.progress.state import describe_descriptor
from flightnb.requests import Request, SqlQuery, bounded, observer_for, read_request
from flightnb.sink_files import WriteSummary
from flightnb.types import FlightDescriptor, FlightInfo, Ticket, descriptor_from

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from flightnb.client.rpcs import FlightRpcs, SqlPlanner
    from flightnb.types import DescriptorLike, TicketLike

    #: What ``to=`` may return when the type checker does not know which value it is.
    ReadResult: TypeAlias = "pa.Table | pd.DataFrame | pl.DataFrame | pa.RecordBatchReader"
    #: What an exchange's ``to=`` may return.
    ExchangeResult: TypeAlias = "pa.Table | pd.DataFrame | pl.DataFrame"

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "AsyncFlightOperations",
    "Chooser",
    "PutSummary",
    "start_stream",
    "stream_options",
]

DEFAULT_CHUNK_ROWS = 65_536

#: Picks the endpoints to read once a flight is planned (see :func:`start_stream`).
Chooser = Callable[[FlightInfo | Ticket], Sequence[int] | None]


@dataclass(frozen=True)
class PutSummary:
    """What an upload sent, and what the server answered.

    Attributes
    ----------
    rows, batches, bytes : int
        What was sent (``bytes`` on the wire).
    seconds : float
        Wall time of the upload.
    rows_written : int or None
        The rows the server says it stored, when it answered with a Flight SQL
        ``DoPutUpdateResult`` (the embedded server does); None for servers that do not say.
    results : tuple of bytes
        The ``app_metadata`` of every PutResult, as received.
    narrowed : tuple of str
        Columns sent with 32-bit offsets instead of the large types they had (see
        ``keep_large_types`` of :meth:`AsyncFlightOperations.write_flight`).
    kept_large : tuple of str
        Columns whose data does not fit 32-bit offsets, sent with their large types.
    """

    rows: int
    batches: int
    bytes: int
    seconds: float
    rows_written: int | None
    results: tuple[builtins.bytes, ...]  # the field ``bytes`` shadows the type here
    narrowed: tuple[str, ...] = ()
    kept_large: tuple[str, ...] = ()

    def __str__(self) -> str:
        stored = "" if self.rows_written is None else f", {self.rows_written:,} stored"
        text = f"uploaded {self.rows:,} rows ({self.bytes / 2**20:.1f} MiB{stored}) in " + (
            f"{self.seconds:.2f} s"
        )
        if self.narrowed:
            text += f"; large types sent as 32-bit: {', '.join(self.narrowed)}"
        if self.kept_large:
            text += f"; too large for 32-bit offsets, sent as is: {', '.join(self.kept_large)}"
        return text


def _summary(writer: Any, narrowing: Narrowing) -> PutSummary:
    # The Flight SQL package builds on the clients: its result decoding is imported on use.
    from flightnb.sql.results import update_count

    counts = [c for c in map(update_count, writer.results) if c is not None]
    stats = writer.stats
    return PutSummary(
        rows=stats.rows,
        batches=stats.batches,
        bytes=stats.bytes,
        seconds=stats.elapsed,
        rows_written=sum(counts) if counts else None,
        results=tuple(writer.results),
        narrowed=narrowing.narrowed,
        kept_large=narrowing.kept,
    )


def stream_options(
    max_concurrency: int | None,
    preserve_order: bool | None,
    max_buffer_bytes: int,
    stall_timeout: float | None,
    timeout: float | None,
    progress: bool | TransferObserver | None,
) -> dict[str, Any]:
    """The checked options of a stream; ``progress`` becomes its observer."""
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


async def start_stream(
    calls: FlightRpcs,
    request: Request | FlightInfo,
    *,
    planner: SqlPlanner | None = None,
    choose: Chooser | None = None,
    on_close: Callable[[], Awaitable[None]] | None = None,
    max_concurrency: int | None = None,
    preserve_order: bool | None = None,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    stall_timeout: float | None = None,
    timeout: float | None = None,
    observer: TransferObserver | None = None,
) -> FlightBatchStream:
    """Plan ``request`` (GetFlightInfo, a Flight SQL query, or none) and start reading it.

    Runs on the loop of ``calls``. A ``sql=`` request is planned by ``planner``, closed when
    the stream ends, as is ``on_close`` awaited. ``choose`` sees the plan (a FlightInfo or
    the Ticket) before any DoGet and returns the indexes of the endpoints to read (None:
    all); it may raise to refuse the plan.
    """
    closed = False

    async def close() -> None:
        nonlocal closed
        if closed:
            return
        closed = True
        try:
            if planner is not None:
                await planner.close()  # statements prepared for parameters
        finally:
            if on_close is not None:
                await on_close()

    try:
        what: FlightInfo | Ticket
        if isinstance(request, SqlQuery):
            if planner is None:
                raise FlightArgumentError("a sql= read needs a Flight SQL client")
            what = await planner.execute(request.query, request.parameters, timeout=timeout)
        elif isinstance(request, FlightDescriptor):
            what = await calls.get_flight_info(request, timeout=timeout)
        else:
            what = request
        endpoints = choose(what) if choose is not None else None
        return await open_stream(
            calls,
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


class AsyncFlightOperations:
    """The one-call operations of the async clients, on top of their RPCs.

    A client provides ``_flight_calls`` (its Flight RPCs) and ``_sql_planner`` (a Flight SQL
    client for ``sql=`` requests, or a refusal).
    """

    def _flight_calls(self) -> FlightRpcs:
        raise NotImplementedError

    def _sql_planner(self) -> SqlPlanner:
        raise FlightArgumentError(
            "sql= is a Flight SQL query, which a plain Flight client does not plan: use "
            "a Flight SQL client (AsyncFlightSqlClient(client) or FlightSqlClient(client)), "
            "or flightnb.read_flight(client, sql=...)"
        )

    def _planner_for(self, request: Request) -> SqlPlanner | None:
        return self._sql_planner() if isinstance(request, SqlQuery) else None

    # --- reads ---------------------------------------------------------------------------

    @overload
    async def read_flight(
        self,
        descriptor: DescriptorLike | None = None,
        *,
        ticket: TicketLike | None = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        sql: str | None = None,
        parameters: Any = None,
        to: Literal["arrow"] = "arrow",
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        to_pandas_options: Mapping[str, Any] | None = None,
        rechunk: bool = False,
        max_concurrency: int | None = None,
        progress: bool | TransferObserver | None = None,
        timeout: float | None = None,
    ) -> pa.Table: ...

    @overload
    async def read_flight(
        self,
        descriptor: DescriptorLike | None = None,
        *,
        ticket: TicketLike | None = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        sql: str | None = None,
        parameters: Any = None,
        to: Literal["pandas"],
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        to_pandas_options: Mapping[str, Any] | None = None,
        rechunk: bool = False,
        max_concurrency: int | None = None,
        progress: bool | TransferObserver | None = None,
        timeout: float | None = None,
    ) -> pd.DataFrame: ...

    @overload
    async def read_flight(
        self,
        descriptor: DescriptorLike | None = None,
        *,
        ticket: TicketLike | None = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        sql: str | None = None,
        parameters: Any = None,
        to: Literal["polars"],
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        to_pandas_options: Mapping[str, Any] | None = None,
        rechunk: bool = False,
        max_concurrency: int | None = None,
        progress: bool | TransferObserver | None = None,
        timeout: float | None = None,
    ) -> pl.DataFrame: ...

    @overload
    async def read_flight(
        self,
        descriptor: DescriptorLike | None = None,
        *,
        ticket: TicketLike | None = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        sql: str | None = None,
        parameters: Any = None,
        to: Literal["reader"],
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        to_pandas_options: Mapping[str, Any] | None = None,
        rechunk: bool = False,
        max_concurrency: int | None = None,
        progress: bool | TransferObserver | None = None,
        timeout: float | None = None,
    ) -> pa.RecordBatchReader: ...

    @overload
    async def read_flight(
        self,
        descriptor: DescriptorLike | None = None,
        *,
        ticket: TicketLike | None = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        sql: str | None = None,
        parameters: Any = None,
        to: str = "arrow",
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        to_pandas_options: Mapping[str, Any] | None = None,
        rechunk: bool = False,
        max_concurrency: int | None = None,
        progress: bool | TransferObserver | None = None,
        timeout: float | None = None,
    ) -> ReadResult: ...

    async def read_flight(
        self,
        descriptor: DescriptorLike | None = None,
        *,
        ticket: TicketLike | None = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        sql: str | None = None,
        parameters: Any = None,
        to: str = "arrow",
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        to_pandas_options: Mapping[str, Any] | None = None,
        rechunk: bool = False,
        max_concurrency: int | None = None,
        progress: bool | TransferObserver | None = None,
        timeout: float | None = None,
    ) -> ReadResult:
        """Read a flight into a pyarrow Table, a pandas or polars DataFrame, or a reader.

        Give exactly one of ``descriptor`` (also positional), ``ticket``, ``path``,
        ``command`` or ``sql``; everything is checked before anything is sent.

        Parameters
        ----------
        descriptor : FlightDescriptor, optional
            Read a whole flight: GetFlightInfo, then every endpoint concurrently.
        ticket : str or bytes, optional
            Read this one ticket with a single DoGet.
        path, command : optional
            Shorthands for ``FlightDescriptor.for_path`` / ``for_command``.
        sql : str, optional
            Run this Flight SQL query and read its whole result (a Flight SQL client's).
        parameters : dict, list, tuple, pyarrow Table, pandas or polars DataFrame, optional
            Values for the ``sql`` query's parameters, bound as Arrow through a prepared
            statement.
        to : {"arrow", "pandas", "polars", "reader"}
            What to return; ``"reader"`` is a ``pyarrow.RecordBatchReader`` over the stream,
            nothing materialized (see :meth:`open_flight`; ``timeout`` is then the deadline
            of each call). It reads through this client: read it before the client closes
            (later reads raise FlightClientClosedError). An async client on your own event
            loop refuses ``"reader"``, whose reads would block that loop.
        dtype_backend : {"numpy", "numpy_nullable", "pyarrow"}, default "numpy"
            The pandas dtypes of ``to="pandas"``: NumPy (pandas' default), pandas' nullable
            dtypes, or ``pd.ArrowDtype`` columns that keep the Arrow memory.
        to_pandas_options : dict, optional
            Passed on to :meth:`pyarrow.Table.to_pandas` for ``to="pandas"``.
        rechunk : bool, default False
            For ``to="polars"``: True makes each column one contiguous chunk (a copy).
        max_concurrency : int, optional
            Endpoints read at once (default: one per endpoint, at most 16).
        progress : bool, TransferObserver or None
            None shows progress when the read takes more than a moment; True always,
            False never.
        timeout : float, optional
            Bound on the whole read in seconds; raises FlightTimedOutError after it.

        Returns
        -------
        pyarrow.Table, pandas.DataFrame, polars.DataFrame or pyarrow.RecordBatchReader
            As ``to=`` says. Type checkers know which from the literal (``to="polars"`` is a
            ``polars.DataFrame``); for a ``to`` held in a ``str`` variable they see the union.

        Examples
        --------
        >>> import flightnb
        >>> with flightnb.FlightClient(URI) as client:
        ...     df = client.read_flight(path="trips", to="pandas", dtype_backend="pyarrow")
        >>> df["trip_id"].dtype
        int64[pyarrow]
        """
        if check_read_target(to) == "reader":
            thread = running_on_loop_thread()
            if thread is None:
                raise FlightArgumentError(
                    "to='reader' blocks on each batch, which would deadlock the event loop "
                    "this client runs on; use 'await client.open_flight(...)' instead"
                )
            reader = await self.open_flight(
                descriptor,
                ticket=ticket,
                path=path,
                command=command,
                sql=sql,
                parameters=parameters,
                max_concurrency=max_concurrency,
                progress=progress,
                timeout=timeout,
            )
            return reader.to_reader()
        target = check_target(to)
        backend, pandas_options = check_pandas_options(dtype_backend, to_pandas_options)
        check_rechunk(rechunk)
        request = read_request(ticket, path, command, descriptor, sql, parameters)
        planner = self._planner_for(request)
        observer = observer_for(progress, timeout=timeout)
        table = await bounded(
            self._read_table(request, planner, observer, max_concurrency), timeout
        )
        return convert_table(
            table,
            target,
            dtype_backend=backend,
            to_pandas_options=pandas_options,
            rechunk=rechunk,
        )

    async def _read_table(
        self,
        request: Request,
        planner: SqlPlanner | None,
        observer: TransferObserver | None,
        max_concurrency: int | None,
    ) -> pa.Table:
        calls = self._flight_calls()
        if isinstance(request, SqlQuery):
            assert planner is not None
            concurrency = {} if max_concurrency is None else {"max_concurrency": max_concurrency}
            try:
                return await planner.query(
                    request.query, request.parameters, observer=observer, **concurrency
                )
            finally:
                await planner.close()
        # The same stream open_flight returns, drained: arrival order, reassembled in
        # endpoint order.
        if isinstance(request, FlightDescriptor):
            return await read_descriptor(
                calls, request, max_concurrency=max_concurrency, observer=observer
            )
        return await read_ticket(calls, request, observer=observer)

    async def open_flight(
        self,
        descriptor: DescriptorLike | None = None,
        *,
        ticket: TicketLike | None = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        sql: str | None = None,
        parameters: Any = None,
        max_concurrency: int | None = None,
        preserve_order: bool | None = None,
        max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
        stall_timeout: float | None = None,
        progress: bool | TransferObserver | None = None,
        timeout: float | None = None,
    ) -> AsyncFlightBatchReader:
        """Open a flight as a stream of record batches, without materializing it.

        Every endpoint is read concurrently and at most ``max_buffer_bytes`` of received,
        unconsumed data is held; beyond that the client stops reading and gRPC flow control
        slows the servers down.

        Parameters
        ----------
        descriptor, ticket, path, command, sql, parameters
            What to read, exactly as for :meth:`read_flight`.
        max_concurrency : int, optional
            Endpoints read at once. Default: one stream per endpoint, at most 16, and at
            most one per 32 MiB of ``max_buffer_bytes`` (what a stream may hold in gRPC:
            about twice its 16 MiB window).
        preserve_order : bool, optional
            True: batches come in endpoint order (a reorder buffer, within the memory
            bound); False: in arrival order. None follows ``FlightInfo.ordered`` (a ticket
            is ordered).
        max_buffer_bytes : int
            Received bytes held before the client stops reading (default 256 MiB).
        stall_timeout : float, optional
            Raise FlightTimedOutError when an endpoint sends no message for this many
            seconds (time spent waiting for the consumer does not count).
        progress : bool, TransferObserver or None
            As for :meth:`read_flight`.
        timeout : float, optional
            The deadline of each call (GetFlightInfo, each DoGet), in seconds.

        Returns
        -------
        AsyncFlightBatchReader
            ``async for`` over ``pyarrow.RecordBatch``, ``await read_all()``,
            ``read_pandas()``, ``read_polars()``, ``async with``; the blocking client's
            twin returns a :class:`~flightnb.client.batch_reader.FlightBatchReader`.

        Examples
        --------
        >>> import flightnb
        >>> with flightnb.FlightClient(URI) as client:
        ...     with client.open_flight(path="trips") as reader:
        ...         rows = sum(batch.num_rows for batch in reader)
        >>> rows == reader.info.total_records
        True
        """
        request = read_request(ticket, path, command, descriptor, sql, parameters)
        options = stream_options(
            max_concurrency, preserve_order, max_buffer_bytes, stall_timeout, timeout, progress
        )
        stream = await start_stream(
            self._flight_calls(), request, planner=self._planner_for(request), **options
        )
        # On flightnb's loop thread (a blocking client's calls) the blocking views work from
        # any other thread; on the caller's own loop they would deadlock it.
        return AsyncFlightBatchReader(stream, running_on_loop_thread())

    # --- uploads and exchanges -----------------------------------------------------------

    async def write_flight(
        self,
        data: Any,
        *,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: DescriptorLike | None = None,
        progress: bool | TransferObserver | None = None,
        timeout: float | None = None,
        max_chunksize: int = DEFAULT_CHUNK_ROWS,
        keep_large_types: bool = False,
    ) -> PutSummary:
        """Upload ``data`` with DoPut; returns what was sent and what the server stored.

        ``data`` is a pyarrow Table or RecordBatch, a pandas or polars DataFrame, or
        anything with ``__arrow_c_stream__``. Whether an upload to an existing flight
        appends, replaces or is refused is the server's choice; the embedded server refuses
        unless the path asks (``path="trips?mode=append"``, ``?mode=replace``; see
        :mod:`flightnb.server`).

        Large string, binary and list columns (64-bit offsets: what polars exports) are sent
        in their 32-bit forms when the data fits, since many servers refuse the large ones;
        ``keep_large_types=True`` sends them as they are. The summary names the columns
        narrowed, and those too large to narrow (:mod:`flightnb.narrowing`).

        Examples
        --------
        >>> import flightnb
        >>> with flightnb.FlightClient(URI) as client:
        ...     summary = client.write_flight(pa.table({"n": [1, 2]}), path="numbers_upload")
        >>> summary.rows
        2
        """
        table = as_table(data, what="data to upload")
        narrowing = Narrowing(table) if keep_large_types else narrow_large_types(table)
        table = narrowing.table
        target = descriptor_from(path, command, descriptor)
        # The display names the target ("upload to uploads/trips"), not just "upload".
        observer = observer_for(
            progress, timeout=timeout, label=f"upload to {describe_descriptor(target)}"
        )
        calls = self._flight_calls()

        async def upload() -> PutSummary:
            async with observed_transfer(observer, info=None, parts=1, kind="upload"):
                writer = await calls.do_put(target, table.schema)
                if observer is not None:
                    writer.on_progress = lambda stats: notify(observer, "progressed", 0, stats)
                async with writer:
                    await writer.write_table(table, max_chunksize=max_chunksize)
                return _summary(writer, narrowing)

        return await bounded(upload(), timeout)

    @overload
    async def exchange_flight(
        self,
        data: Any,
        *,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: DescriptorLike | None = None,
        to: Literal["arrow"] = "arrow",
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        timeout: float | None = None,
        max_chunksize: int = DEFAULT_CHUNK_ROWS,
    ) -> pa.Table: ...

    @overload
    async def exchange_flight(
        self,
        data: Any,
        *,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: DescriptorLike | None = None,
        to: Literal["pandas"],
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        timeout: float | None = None,
        max_chunksize: int = DEFAULT_CHUNK_ROWS,
    ) -> pd.DataFrame: ...

    @overload
    async def exchange_flight(
        self,
        data: Any,
        *,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: DescriptorLike | None = None,
        to: Literal["polars"],
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        timeout: float | None = None,
        max_chunksize: int = DEFAULT_CHUNK_ROWS,
    ) -> pl.DataFrame: ...

    @overload
    async def exchange_flight(
        self,
        data: Any,
        *,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: DescriptorLike | None = None,
        to: str = "arrow",
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        timeout: float | None = None,
        max_chunksize: int = DEFAULT_CHUNK_ROWS,
    ) -> ExchangeResult: ...

    async def exchange_flight(
        self,
        data: Any,
        *,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: DescriptorLike | None = None,
        to: str = "arrow",
        dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
        timeout: float | None = None,
        max_chunksize: int = DEFAULT_CHUNK_ROWS,
    ) -> ExchangeResult:
        """Send ``data`` over DoExchange and return what the server sends back.

        ``to`` and ``dtype_backend`` are those of :meth:`read_flight` (no ``"reader"``).
        """
        target_type = check_target(to)
        backend, _ = check_pandas_options(dtype_backend, None)
        table = as_table(data, what="data to upload")
        target = descriptor_from(path, command, descriptor)
        calls = self._flight_calls()

        async def exchange_table() -> pa.Table:
            async with await calls.do_exchange(target) as exchange:
                await exchange.begin(table.schema)

                async def send() -> None:
                    await exchange.write_table(table, max_chunksize=max_chunksize)
                    await exchange.done_writing()

                # Read while writing: a server that answers batch by batch would otherwise
                # fill its send window and stall both sides.
                sender = asyncio.ensure_future(send())
                try:
                    result = await exchange.read_all()
                finally:
                    if not sender.done():
                        sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
                if not sender.cancelled() and (error := sender.exception()) is not None:
                    raise error
                return result

        table_back = await bounded(exchange_table(), timeout)
        return convert_table(table_back, target_type, dtype_backend=backend)

    # --- sinks ---------------------------------------------------------------------------

    async def write_parquet(
        self,
        where: str | os.PathLike[str],
        *,
        ticket: TicketLike | None = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: DescriptorLike | None = None,
        sql: str | None = None,
        parameters: Any = None,
        max_concurrency: int | None = None,
        preserve_order: bool | None = None,
        stall_timeout: float | None = None,
        timeout: float | None = None,
        row_group_size: int = 1 << 20,
        compression: str | None = "zstd",
        compression_level: int | None = None,
        max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
        progress: bool | TransferObserver | None = None,
    ) -> WriteSummary:
        """Stream a flight into one Parquet file, with bounded memory.

        The file is written on a worker thread while the client keeps receiving, so
        encoding and the network overlap.

        Parameters
        ----------
        where : str or path-like
            The file to write. It appears only once complete (written as a hidden temporary
            file next to it, then renamed); an existing file is replaced.
        ticket, path, command, descriptor, sql, parameters
            What to read, as for :meth:`read_flight`.
        max_concurrency, preserve_order, stall_timeout, timeout, max_buffer_bytes, progress
            As for :meth:`open_flight`.
        row_group_size : int
            Rows per row group (the last one may be smaller). The rows gathered for a row
            group count against ``max_buffer_bytes``: the receive buffer shrinks by as much,
            to no less than a quarter of the budget.
        compression : str or None
            ``"zstd"`` (default), ``"lz4"``, ``"snappy"``, ``"gzip"``, ``"brotli"`` or None.
        compression_level : int, optional

        Returns
        -------
        WriteSummary

        Raises
        ------
        FlightSinkError
            The file could not be created, written (disk full) or renamed.
        FlightError
            The read failed (the server died, a stall, a cancel); nothing is left behind.

        Examples
        --------
        >>> import flightnb
        >>> import pyarrow.parquet as pq
        >>> with flightnb.FlightClient(URI) as client:
        ...     summary = client.write_parquet("trips.parquet", path="trips")
        >>> summary.rows == pq.read_metadata("trips.parquet").num_rows
        True
        """
        options = sink_files.parquet_options(row_group_size, compression, compression_level)
        return await self._sink(
            lambda open_reader: sink_files.write_file(open_reader, where, options),
            read_request(ticket, path, command, descriptor, sql, parameters),
            (max_concurrency, preserve_order, max_buffer_bytes, stall_timeout, timeout),
            progress,
        )

    async def write_ipc(
        self,
        where: str | os.PathLike[str],
        *,
        ticket: TicketLike | None = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: DescriptorLike | None = None,
        sql: str | None = None,
        parameters: Any = None,
        max_concurrency: int | None = None,
        preserve_order: bool | None = None,
        stall_timeout: float | None = None,
        timeout: float | None = None,
        format: str = "file",
        compression: str | None = None,
        max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
        progress: bool | TransferObserver | None = None,
    ) -> WriteSummary:
        """Stream a flight into an Arrow IPC file (``.arrow``/``.feather``) or stream (``.arrows``).

        Parameters are those of :meth:`write_parquet`, except:

        format : {"file", "stream"}
            The IPC file format (random access, what ``pyarrow.ipc.open_file`` and Feather v2
            read) or the streaming format. The file format cannot hold a dictionary that
            changes between batches; use ``"stream"`` for such flights.
        compression : {None, "lz4", "zstd"}
            Buffer compression of the IPC body.
        """
        options = sink_files.ipc_options(format, compression)
        return await self._sink(
            lambda open_reader: sink_files.write_file(open_reader, where, options),
            read_request(ticket, path, command, descriptor, sql, parameters),
            (max_concurrency, preserve_order, max_buffer_bytes, stall_timeout, timeout),
            progress,
        )

    async def write_dataset(
        self,
        base_dir: str | os.PathLike[str],
        *,
        ticket: TicketLike | None = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: DescriptorLike | None = None,
        sql: str | None = None,
        parameters: Any = None,
        max_concurrency: int | None = None,
        stall_timeout: float | None = None,
        timeout: float | None = None,
        format: str = "parquet",
        max_rows_per_file: int | None = None,
        existing_data_behavior: str = "error",
        resume: bool = False,
        row_group_size: int = 1 << 20,
        compression: str | None = None,
        max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
        progress: bool | TransferObserver | None = None,
    ) -> WriteSummary:
        """Stream a flight into a directory: one file per endpoint, all endpoints at once.

        Endpoint ``i`` becomes ``part-0000i.parquet`` (``.arrow`` for ``format="ipc"``), or
        ``part-0000i-0000k.*`` files of at most ``max_rows_per_file`` rows. Each endpoint's
        files are written under temporary names and renamed together when the endpoint is
        complete; ``_flightnb_manifest.json`` records the plan (tickets, expiration times)
        and the finished endpoints. ``pyarrow.dataset.dataset(base_dir)`` reads the result
        (it skips the manifest and temporary files).

        Parameters
        ----------
        format : {"parquet", "ipc"}
        max_rows_per_file : int, optional
            Split an endpoint into files of at most this many rows.
        existing_data_behavior : {"error", "overwrite_or_ignore", "delete_matching"}
            What to do when ``base_dir`` is not empty: refuse; write, replacing files of the
            same name; or first delete the files an earlier write_dataset made.
        resume : bool
            Finish an interrupted write: re-plan the flight, refuse if its tickets differ
            from the manifest's or have expired, and read only the endpoints not yet
            finished.
        compression : str, optional
            Parquet: default ``"zstd"``; IPC: default none (``"lz4"``, ``"zstd"``).
        row_group_size, max_buffer_bytes, ...
            As for :meth:`write_parquet`. Row groups are cut smaller when the rows gathered
            for all open files exceed half of ``max_buffer_bytes``.

        Returns
        -------
        WriteSummary
            ``skipped`` lists the endpoints a resumed write found finished.
        """
        options = sink_files.dataset_options(
            format, max_rows_per_file, existing_data_behavior, resume, row_group_size, compression
        )
        return await self._sink(
            lambda open_reader: sink_files.write_dataset_files(
                open_reader, base_dir, options, max_buffer_bytes
            ),
            read_request(ticket, path, command, descriptor, sql, parameters),
            (max_concurrency, False, max_buffer_bytes, stall_timeout, timeout),
            progress,
        )

    async def _sink(
        self,
        write: Callable[[sink_files.OpenReader], WriteSummary],
        request: Request,
        stream_args: tuple[int | None, bool | None, int, float | None, float | None],
        progress: bool | TransferObserver | None,
    ) -> WriteSummary:
        """Run ``write`` on a worker thread, reading through a blocking reader of this loop."""
        stream_options(*stream_args, progress=False)  # checked without creating a display
        planner = self._planner_for(request)
        calls = self._flight_calls()
        portal = current_portal()
        opened: list[FlightBatchReader] = []
        cancelled = False

        def open_reader(choose: Chooser | None) -> FlightBatchReader:
            # On the worker thread, once the target is known to be writable.
            if cancelled:
                raise FlightCancelledError("the write was cancelled", code="CANCELLED")
            options = stream_options(*stream_args, progress=progress)
            stream = portal.run(
                start_stream(calls, request, planner=planner, choose=choose, **options)
            )
            reader = FlightBatchReader(stream, portal)
            opened.append(reader)
            if cancelled:  # cancelled while it opened: the loop did not see it in ``opened``
                reader.cancel()
            return reader

        try:
            work = asyncio.get_running_loop().run_in_executor(None, write, open_reader)
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                # Stop the read, then let the writer drop its temporary files before
                # the cancellation goes on: nothing is left behind when this returns.
                cancelled = True
                for reader in opened:
                    reader.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.shield(work)
                raise
        finally:
            if planner is not None and not opened:
                await planner.close()  # never handed to a stream

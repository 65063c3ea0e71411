"""The blocking Flight client: twins of the async client and its streams (see ``blocking``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, overload

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.batch_reader import AsyncFlightBatchReader, FlightBatchReader
from flightnb.client.batch_stream import DEFAULT_MAX_BUFFER_BYTES
from flightnb.client.blocking import (
    BlockingContext,
    blocking,
    blocking_as,
    blocking_close,
    blocking_iter,
    blocking_property,
    blocking_to,
    direct,
    mirror,
    on_loop,
    same_parameters,
)
from flightnb.client.operations import DEFAULT_CHUNK_ROWS, AsyncFlightOperations
from flightnb.client.streams import (
    FlightExchange,
    FlightPutWriter,
    FlightStreamChunk,
    FlightStreamReader,
)
from flightnb.convert import DEFAULT_DTYPE_BACKEND, DtypeBackend

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Literal

    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from flightnb.client.observer import TransferObserver
    from flightnb.client.operations import ExchangeResult, ReadResult
    from flightnb.types import DescriptorLike, TicketLike

__all__ = [
    "FlightClient",
    "FlightExchangeSync",
    "FlightOperations",
    "FlightPutWriterSync",
    "FlightStreamReaderSync",
]


class FlightStreamReaderSync(BlockingContext[FlightStreamReader]):
    """Blocking twin of :class:`FlightStreamReader`: iterate, or ``read_all()``.

    ``schema`` waits for the schema message (as pyarrow.flight's reader does).
    """

    schema = blocking_property(FlightStreamReader.get_schema, "The stream's schema (waits).")
    stats = mirror("stats", doc="Rows, batches and bytes received so far.")
    on_progress = mirror("on_progress", settable=True, doc="Called with ``stats`` per message.")
    get_schema = blocking(FlightStreamReader.get_schema)
    read_chunk = blocking(FlightStreamReader.read_chunk)
    read_all = blocking(FlightStreamReader.read_all)
    read_pandas = blocking(FlightStreamReader.read_pandas)  # type: ignore[arg-type]
    read_polars = blocking(FlightStreamReader.read_polars)
    cancel = on_loop(FlightStreamReader.cancel)

    def __iter__(self) -> Iterator[FlightStreamChunk]:
        while (chunk := self.read_chunk()) is not None:
            yield chunk


class FlightPutWriterSync(BlockingContext[FlightPutWriter]):
    """Blocking twin of :class:`FlightPutWriter`: ``with client.do_put(...) as writer:``."""

    stats = mirror("stats", doc="Rows, batches and bytes sent so far.")
    on_progress = mirror("on_progress", settable=True, doc="Called with ``stats`` per batch.")
    results = mirror("results", doc="The ``app_metadata`` of every PutResult read so far.")
    begin = blocking(FlightPutWriter.begin)
    write_batch = blocking(FlightPutWriter.write_batch)
    write_table = blocking(FlightPutWriter.write_table)
    write_metadata = blocking(FlightPutWriter.write_metadata)
    done_writing = blocking(FlightPutWriter.done_writing)
    read_result = blocking(FlightPutWriter.read_result)
    close = blocking(FlightPutWriter.close)
    cancel = on_loop(FlightPutWriter.cancel)


class FlightExchangeSync(BlockingContext[FlightExchange]):
    """Blocking twin of :class:`FlightExchange`: write with ``write_*``, read as a stream."""

    stats = mirror("stats", doc="Rows, batches and bytes sent so far.")
    on_progress = mirror("on_progress", settable=True, doc="Called with ``stats`` per batch.")
    begin = blocking(FlightExchange.begin)
    write_batch = blocking(FlightExchange.write_batch)
    write_table = blocking(FlightExchange.write_table)
    write_metadata = blocking(FlightExchange.write_metadata)
    done_writing = blocking(FlightExchange.done_writing)
    read_chunk = blocking(FlightExchange.read_chunk)
    read_all = blocking(FlightExchange.read_all)
    cancel = on_loop(FlightExchange.cancel)

    @property
    def reader(self) -> FlightStreamReaderSync:
        """The reading half, as a blocking reader."""
        return FlightStreamReaderSync.wrap(self._async.reader, self._portal)

    def __iter__(self) -> Iterator[FlightStreamChunk]:
        return iter(self.reader)


class FlightOperations:
    """The blocking twins of the one-call operations (:class:`AsyncFlightOperations`).

    A mixin of :class:`FlightClient` and :class:`~flightnb.sql.FlightSqlClient`: each method
    runs its async original on flightnb's loop thread, with the same parameters and
    docstring; ``open_flight`` returns a blocking
    :class:`~flightnb.client.batch_reader.FlightBatchReader`.
    """

    if TYPE_CHECKING:
        # What type checkers see: the async overloads on ``to=``, as blocking calls.
        @overload
        def read_flight(
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
        def read_flight(
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
        def read_flight(
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
        def read_flight(
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
        def read_flight(
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

        def read_flight(
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
            """Blocking :meth:`AsyncFlightClient.read_flight`, with the same parameters."""
            raise NotImplementedError

        @overload
        def exchange_flight(
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
        def exchange_flight(
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
        def exchange_flight(
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
        def exchange_flight(
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

        def exchange_flight(
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
            """Blocking :meth:`AsyncFlightClient.exchange_flight`, with the same parameters."""
            raise NotImplementedError

        def open_flight(
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
        ) -> FlightBatchReader:
            """Blocking :meth:`AsyncFlightClient.open_flight`; returns a FlightBatchReader."""
            raise NotImplementedError

    else:
        read_flight = blocking(AsyncFlightOperations.read_flight)
        exchange_flight = blocking(AsyncFlightOperations.exchange_flight)
        open_flight = blocking_as(AsyncFlightBatchReader.blocking, "FlightBatchReader")(
            AsyncFlightOperations.open_flight
        )
    write_flight = blocking(AsyncFlightOperations.write_flight)
    write_parquet = blocking(AsyncFlightOperations.write_parquet)
    write_ipc = blocking(AsyncFlightOperations.write_ipc)
    write_dataset = blocking(AsyncFlightOperations.write_dataset)


class FlightClient(FlightOperations, BlockingContext[AsyncFlightClient]):
    """A blocking Arrow Flight client with the same methods as :class:`AsyncFlightClient`.

    Calls run on flightnb's private event-loop thread, so this works in scripts, IPython and
    running Jupyter kernels alike. Ctrl-C (or a kernel interrupt) cancels the call in flight.
    Takes the same arguments as :class:`AsyncFlightClient`; streams stay streams
    (``list_flights`` and ``do_action`` return iterators, ``do_get`` a blocking reader).

    Examples
    --------
    >>> with FlightClient("grpc://127.0.0.1:8815") as client:
    ...     table = client.do_get(b"trips").read_all()
    >>> table.column_names[:2]
    ['trip_id', 'started_at']
    """

    @same_parameters(AsyncFlightClient.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(AsyncFlightClient(*args, **kwargs))

    @property
    def async_client(self) -> AsyncFlightClient:
        """The underlying async client (its coroutines run on flightnb's loop thread)."""
        return self._async

    location = mirror("location", doc="Where the server is.")
    closed = mirror("closed", doc="True once the client was closed; it never reopens.")
    state = mirror("state", doc="Unopened, opened or closed.")
    timeout = mirror("timeout", settable=True, doc="Default per-call timeout in seconds.")
    issued_credential = mirror(
        "issued_credential", doc="Whether the server issued the credential calls carry now."
    )

    adopt_credentials = direct(AsyncFlightClient.adopt_credentials)
    close = blocking_close(AsyncFlightClient.close)
    handshake = blocking(AsyncFlightClient.handshake)
    list_flights = blocking_iter(AsyncFlightClient.list_flights)
    get_flight_info = blocking(AsyncFlightClient.get_flight_info)
    poll_flight_info = blocking(AsyncFlightClient.poll_flight_info)
    get_schema = blocking(AsyncFlightClient.get_schema)
    do_get = blocking_to(FlightStreamReaderSync)(AsyncFlightClient.do_get)
    do_put = blocking_to(FlightPutWriterSync)(AsyncFlightClient.do_put)
    do_exchange = blocking_to(FlightExchangeSync)(AsyncFlightClient.do_exchange)
    do_action = blocking_iter(AsyncFlightClient.do_action)
    list_actions = blocking(AsyncFlightClient.list_actions)
    cancel_flight_info = blocking(AsyncFlightClient.cancel_flight_info)
    renew_flight_endpoint = blocking(AsyncFlightClient.renew_flight_endpoint)
    set_session_options = blocking(AsyncFlightClient.set_session_options)
    get_session_options = blocking(AsyncFlightClient.get_session_options)
    close_session = blocking(AsyncFlightClient.close_session)

    def __exit__(self, *exc_info: Any) -> None:
        self.close()  # a no-op at interpreter exit, once flightnb's loop has shut down

"""The blocking Flight client: the async client driven on flightnb's loop thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import pyarrow as pa

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.flights import read_descriptor
from flightnb.client.loop_thread import LoopThread, shared_loop_thread
from flightnb.client.streams import (
    FlightExchange,
    FlightPutWriter,
    FlightStreamChunk,
    FlightStreamReader,
    _Uploader,
)
from flightnb.types import (
    ActionType,
    CancelStatus,
    FlightEndpoint,
    FlightInfo,
    PollInfo,
    Result,
    SessionOptionValue,
    as_descriptor,
)

__all__ = ["FlightClient", "FlightStreamReaderSync"]

T = TypeVar("T")


async def _collect(iterator: AsyncIterator[T]) -> list[T]:
    return [item async for item in iterator]


class FlightStreamReaderSync:
    """Blocking view of a :class:`FlightStreamReader`: iterate, or ``read_all()``."""

    def __init__(self, reader: FlightStreamReader, portal: LoopThread) -> None:
        self._reader = reader
        self._portal = portal

    @property
    def stats(self) -> Any:
        return self._reader.stats

    @property
    def schema(self) -> pa.Schema:
        """The stream's schema (waits for the schema message)."""
        return self.get_schema()

    def get_schema(self) -> pa.Schema:
        """Wait for the schema message and return the schema."""
        return self._portal.run(self._reader.get_schema())

    def read_chunk(self) -> FlightStreamChunk | None:
        return self._portal.run(self._reader.read_chunk())

    def __iter__(self) -> Iterator[FlightStreamChunk]:
        while (chunk := self.read_chunk()) is not None:
            yield chunk

    def read_all(self) -> pa.Table:
        return self._portal.run(self._reader.read_all())

    def read_pandas(self, **options: Any) -> Any:
        return self.read_all().to_pandas(**options)

    def cancel(self) -> None:
        self._portal.loop.call_soon_threadsafe(self._reader.cancel)

    def __enter__(self) -> FlightStreamReaderSync:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()


class _UploaderSync:
    def __init__(self, uploader: _Uploader, portal: LoopThread) -> None:
        self._uploader = uploader
        self._portal = portal

    def begin(self, schema: pa.Schema, **options: Any) -> None:
        self._portal.run(self._uploader.begin(schema, **options))

    def write_batch(self, batch: pa.RecordBatch, app_metadata: bytes | None = None) -> None:
        self._portal.run(self._uploader.write_batch(batch, app_metadata))

    def write_table(self, table: pa.Table, *, max_chunksize: int | None = None) -> None:
        self._portal.run(self._uploader.write_table(table, max_chunksize=max_chunksize))

    def write_metadata(self, app_metadata: bytes) -> None:
        self._portal.run(self._uploader.write_metadata(app_metadata))

    def done_writing(self) -> None:
        self._portal.run(self._uploader.done_writing())


class FlightPutWriterSync(_UploaderSync):
    """Blocking view of a :class:`FlightPutWriter`."""

    _uploader: FlightPutWriter

    def read_result(self) -> bytes | None:
        return self._portal.run(self._uploader.read_result())

    def close(self) -> list[bytes]:
        return self._portal.run(self._uploader.close())

    def __enter__(self) -> FlightPutWriterSync:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._portal.loop.call_soon_threadsafe(self._uploader._call.cancel)


class FlightExchangeSync(_UploaderSync):
    """Blocking view of a :class:`FlightExchange`."""

    _uploader: FlightExchange

    @property
    def reader(self) -> FlightStreamReaderSync:
        return FlightStreamReaderSync(self._uploader.reader, self._portal)

    def read_chunk(self) -> FlightStreamChunk | None:
        return self._portal.run(self._uploader.read_chunk())

    def read_all(self) -> pa.Table:
        return self._portal.run(self._uploader.read_all())

    def __iter__(self) -> Iterator[FlightStreamChunk]:
        return iter(self.reader)

    def __enter__(self) -> FlightExchangeSync:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._portal.loop.call_soon_threadsafe(self._uploader.cancel)


class FlightClient:
    """A blocking Arrow Flight client with the same methods as :class:`AsyncFlightClient`.

    Calls run on flightnb's private event-loop thread, so this works in scripts, IPython and
    running Jupyter kernels alike. Ctrl-C (or a kernel interrupt) cancels the call in flight.
    Takes the same arguments as :class:`AsyncFlightClient`.

    Examples
    --------
    >>> with FlightClient("grpc://127.0.0.1:8815") as client:  # doctest: +SKIP
    ...     table = client.do_get(b"trips").read_all()
    """

    def __init__(self, location: Any, **options: Any) -> None:
        self._portal = shared_loop_thread()
        self._async = AsyncFlightClient(location, **options)

    @property
    def async_client(self) -> AsyncFlightClient:
        """The underlying async client (its coroutines run on flightnb's loop thread)."""
        return self._async

    @property
    def location(self) -> Any:
        return self._async.location

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncFlightClient", "FlightClient", 1)

    def __enter__(self) -> FlightClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the channels; a no-op once flightnb's loop has shut down (at exit)."""
        if self._portal.loop.is_closed():
            return
        self._portal.run(self._async.close())

    def handshake(self, username: str, password: str, **call: Any) -> None:
        self._portal.run(self._async.handshake(username, password, **call))

    def list_flights(self, criteria: bytes = b"", **call: Any) -> list[FlightInfo]:
        return self._portal.run(_collect(self._async.list_flights(criteria, **call)))

    def get_flight_info(self, descriptor: Any, **call: Any) -> FlightInfo:
        return self._portal.run(self._async.get_flight_info(descriptor, **call))

    def poll_flight_info(self, descriptor: Any, **call: Any) -> PollInfo:
        return self._portal.run(self._async.poll_flight_info(descriptor, **call))

    def get_schema(self, descriptor: Any, **call: Any) -> pa.Schema:
        return self._portal.run(self._async.get_schema(descriptor, **call))

    def do_get(self, ticket: Any, **call: Any) -> FlightStreamReaderSync:
        return FlightStreamReaderSync(self._async.do_get(ticket, **call), self._portal)

    def do_put(
        self, descriptor: Any, schema: pa.Schema | None = None, **call: Any
    ) -> FlightPutWriterSync:
        writer = self._portal.run(self._async.do_put(descriptor, schema, **call))
        return FlightPutWriterSync(writer, self._portal)

    def do_exchange(self, descriptor: Any, **call: Any) -> FlightExchangeSync:
        exchange = self._portal.run(self._async.do_exchange(descriptor, **call))
        return FlightExchangeSync(exchange, self._portal)

    def do_action(self, action: Any, body: bytes | str | None = None, **call: Any) -> list[Result]:
        return self._portal.run(_collect(self._async.do_action(action, body, **call)))

    def list_actions(self, **call: Any) -> list[ActionType]:
        return self._portal.run(self._async.list_actions(**call))

    def cancel_flight_info(self, info: FlightInfo, **call: Any) -> CancelStatus:
        return self._portal.run(self._async.cancel_flight_info(info, **call))

    def renew_flight_endpoint(self, endpoint: Any, **call: Any) -> FlightEndpoint:
        return self._portal.run(self._async.renew_flight_endpoint(endpoint, **call))

    def set_session_options(
        self, options: Mapping[str, SessionOptionValue], **call: Any
    ) -> dict[str, str]:
        return self._portal.run(self._async.set_session_options(options, **call))

    def get_session_options(self, **call: Any) -> dict[str, SessionOptionValue]:
        return self._portal.run(self._async.get_session_options(**call))

    def close_session(self, **call: Any) -> str:
        return self._portal.run(self._async.close_session(**call))

    def read_flight(self, descriptor: Any, **options: Any) -> pa.Table:
        """GetFlightInfo, then every endpoint concurrently, as one Table."""
        return self._portal.run(read_descriptor(self._async, as_descriptor(descriptor), **options))

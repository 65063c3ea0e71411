"""Async readers and writers over one streaming Flight call (DoGet, DoPut, DoExchange)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from flightnb._deprecated import renamed_names
from flightnb._proto import Flight_pb2 as pb
from flightnb.client.observer import TransferStats
from flightnb.codec import (
    BatchReceived,
    FlightDataDecoder,
    FlightDataEncoder,
    MetadataReceived,
    encode_flight_data,
)
from flightnb.convert import to_pandas
from flightnb.errors import FlightArgumentError, FlightDecodeError, FlightError
from flightnb.transport.calls import BidiStream
from flightnb.transport.errors import parse_response


class MessageSource(Protocol):
    """Where a reader's FlightData messages come from (a call of the call seam)."""

    async def read(self) -> bytes | None: ...

    def cancel(self) -> None: ...


@dataclass(frozen=True)
class FlightStreamChunk:
    """One message of a stream: a record batch, its ``app_metadata``, or both.

    ``data`` is None for messages that carried only ``app_metadata``.
    """

    data: pa.RecordBatch | None
    app_metadata: bytes | None


class AsyncFlightStreamReader:
    """Reads a stream of FlightData: ``async for chunk in reader`` or ``await reader.read_all()``.

    The call starts on the first read. Leaving ``async with`` or calling :meth:`cancel`
    cancels an unfinished call on the wire.

    Parameters
    ----------
    source : MessageSource
        The call the messages come from (it starts on the first read).
    schema : pyarrow.Schema, optional
        Used when the server ends the stream without sending a schema message.

    Notes
    -----
    Named like :class:`~flightnb.AsyncFlightClient`: the async reader has the ``Async``
    prefix and its blocking twin, :class:`~flightnb.FlightStreamReader`, the plain name.
    Until this release ``FlightStreamReader`` named this async class.
    """

    __slots__ = (
        "_decoder",
        "_done",
        "_fallback_schema",
        "_opened",
        "_pending",
        "_source",
        "on_progress",
        "stats",
    )

    def __init__(
        self,
        source: MessageSource,
        *,
        schema: pa.Schema | None = None,
        validate: bool = False,
        align_buffers: bool = True,
        on_progress: Callable[[TransferStats], None] | None = None,
    ) -> None:
        self._source = source
        self._opened = False
        self._decoder = FlightDataDecoder(validate=validate, align_buffers=align_buffers)
        self._fallback_schema = schema
        self._pending: deque[FlightStreamChunk] = deque()
        self._done = False
        #: Called with ``stats`` after every message (progress displays hook in here).
        self.on_progress = on_progress
        self.stats = TransferStats()

    @property
    def schema(self) -> pa.Schema | None:
        """The schema, once the server sent it (or the fallback given at creation)."""
        # Not ``a or b``: a schema without fields is falsy.
        decoded = self._decoder.schema
        return decoded if decoded is not None else self._fallback_schema

    async def get_schema(self) -> pa.Schema:
        """Wait for the schema message and return the schema."""
        while self._decoder.schema is None and not self._done:
            await self._read_message()
        if self.schema is None:
            raise FlightDecodeError("the stream ended without a schema message")
        return self.schema

    async def _read_message(self) -> None:
        if not self._opened:
            self._opened = True
            self.stats.started = time.monotonic()
        try:
            message = await self._source.read()
        except BaseException:
            self._finish()
            raise
        if message is None:
            self._finish()
            return
        self.stats.messages += 1
        self.stats.bytes += len(message)
        try:
            events = self._decoder.receive(message)
        except FlightError:
            self._source.cancel()
            self._finish()
            raise
        for event in events:
            if isinstance(event, BatchReceived):
                self.stats.rows += event.batch.num_rows
                self.stats.batches += 1
                self._pending.append(FlightStreamChunk(event.batch, event.app_metadata))
            elif isinstance(event, MetadataReceived):
                self._pending.append(FlightStreamChunk(None, event.app_metadata))
        if self.on_progress is not None:
            self.on_progress(self.stats)

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self.stats.finished = time.monotonic()

    async def read_chunk(self) -> FlightStreamChunk | None:
        """The next chunk, or None at the end of the stream."""
        while not self._pending and not self._done:
            await self._read_message()
        return self._pending.popleft() if self._pending else None

    def __aiter__(self) -> AsyncIterator[FlightStreamChunk]:
        return self

    async def __anext__(self) -> FlightStreamChunk:
        chunk = await self.read_chunk()
        if chunk is None:
            raise StopAsyncIteration
        return chunk

    async def read_all(self) -> pa.Table:
        """Every record batch of the stream as one Table (metadata-only messages skipped)."""
        batches = []
        while (chunk := await self.read_chunk()) is not None:
            if chunk.data is not None:
                batches.append(chunk.data)
        schema = self.schema
        if schema is None:
            raise FlightDecodeError("the stream ended without a schema message")
        return pa.Table.from_batches(batches, schema=schema)

    async def read_pandas(self, **to_pandas_options: Any) -> Any:
        """The whole stream as a pandas DataFrame (``to_pandas_options`` go to pyarrow)."""
        return to_pandas(await self.read_all(), to_pandas_options=to_pandas_options)

    def cancel(self) -> None:
        """Cancel the call if it is still running."""
        if not self._done:
            self._source.cancel()
        self._finish()

    async def __aenter__(self) -> AsyncFlightStreamReader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()


class _Uploader:
    """The writing half shared by DoPut and DoExchange."""

    def __init__(self, call: BidiStream) -> None:
        self._call = call
        self._encoder: FlightDataEncoder | None = None
        self._descriptor: bytes | None = None
        self._writing_done = False
        #: What was sent so far (rows, batches, bytes).
        self.stats = TransferStats()
        #: Called with ``stats`` after every batch sent.
        self.on_progress: Callable[[TransferStats], None] | None = None

    async def _write(self, message: bytes) -> None:
        if self._writing_done:
            raise FlightArgumentError("this stream was already closed for writing")
        await self._call.write(message)
        self.stats.bytes += len(message)
        self.stats.messages += 1

    async def begin(
        self,
        schema: pa.Schema,
        *,
        compression: str | None = None,
        options: pa.ipc.IpcWriteOptions | None = None,
    ) -> None:
        """Send the schema message; batches follow with :meth:`write_batch`."""
        if self._encoder is not None:
            raise FlightArgumentError("the stream has a schema already")
        self._encoder = FlightDataEncoder(schema, compression=compression, options=options)
        await self._write(self._encoder.schema_message(descriptor=self._take_descriptor()))

    async def write_batch(self, batch: pa.RecordBatch, app_metadata: bytes | None = None) -> None:
        """Send one record batch, with optional ``app_metadata``."""
        if self._encoder is None:
            await self.begin(batch.schema)
        assert self._encoder is not None
        for message in self._encoder.encode_batch(batch, app_metadata):
            await self._write(message)
        self.stats.rows += batch.num_rows
        self.stats.batches += 1
        if self.on_progress is not None:
            self.on_progress(self.stats)

    async def write_table(self, table: pa.Table, *, max_chunksize: int | None = None) -> None:
        """Send every batch of a table."""
        if self._encoder is None:
            await self.begin(table.schema)
        for batch in table.to_batches(max_chunksize=max_chunksize):
            await self.write_batch(batch)

    async def write_metadata(self, app_metadata: bytes) -> None:
        """Send a message with only ``app_metadata``."""
        await self._write(
            encode_flight_data(descriptor=self._take_descriptor(), app_metadata=app_metadata)
        )

    def cancel(self) -> None:
        """Abandon the call: the server sees it cancelled, nothing more is sent."""
        self._call.cancel()

    def _take_descriptor(self) -> bytes | None:
        """The descriptor, once: it travels on the first message, whatever that is."""
        descriptor, self._descriptor = self._descriptor, None
        return descriptor

    async def done_writing(self) -> None:
        """Tell the server no more data follows (sends the schema first if none was sent)."""
        if self._writing_done:
            return
        if self._descriptor is not None:
            # The server needs at least the descriptor, even for an empty upload.
            await self._write(encode_flight_data(descriptor=self._take_descriptor()))
        await self._call.done_writing()
        self._writing_done = True


class AsyncFlightPutWriter(_Uploader):
    """Upload half of DoPut; the server's PutResult metadata is read with :meth:`read_result`.

    Use as ``async with await client.do_put(descriptor, schema) as writer:``; leaving the
    block finishes the upload and waits for the server to accept it.
    """

    def __init__(self, call: BidiStream, descriptor: bytes) -> None:
        super().__init__(call)
        self._descriptor = descriptor
        self.results: list[bytes] = []

    async def read_result(self) -> bytes | None:
        """The next PutResult's ``app_metadata``, or None when the server has finished."""
        result = await self._call.read()
        if result is None:
            return None
        metadata = bytes(parse_response(pb.PutResult, result).app_metadata)
        self.results.append(metadata)
        return metadata

    async def close(self) -> list[bytes]:
        """Finish the upload, wait for the server, and return every PutResult's metadata."""
        await self.done_writing()
        while await self.read_result() is not None:
            pass
        self.stats.finished = time.monotonic()
        return self.results

    async def __aenter__(self) -> AsyncFlightPutWriter:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.close()
        else:
            self.cancel()


class AsyncFlightExchange(_Uploader):
    """Both halves of DoExchange: write with the ``write_*`` methods, read as a stream."""

    def __init__(
        self,
        call: BidiStream,
        descriptor: bytes,
        *,
        validate: bool = False,
        align_buffers: bool = True,
    ) -> None:
        super().__init__(call)
        self._descriptor = descriptor
        self.reader = AsyncFlightStreamReader(call, validate=validate, align_buffers=align_buffers)

    async def read_chunk(self) -> FlightStreamChunk | None:
        """The server's next chunk, or None once it has finished."""
        return await self.reader.read_chunk()

    async def read_all(self) -> pa.Table:
        """Everything the server sends back, as one Table."""
        return await self.reader.read_all()

    def __aiter__(self) -> AsyncIterator[FlightStreamChunk]:
        return self.reader

    async def __aenter__(self) -> AsyncFlightExchange:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._call.finished:
            self.cancel()


# The blocking twins took the plain names (flightnb.client.sync); here the old names serve
# the async classes for one more release.
if TYPE_CHECKING:
    FlightExchange = AsyncFlightExchange
    FlightPutWriter = AsyncFlightPutWriter
    FlightStreamReader = AsyncFlightStreamReader
else:
    __getattr__ = renamed_names(
        __name__,
        globals(),
        {
            f"Flight{kind}": (
                f"AsyncFlight{kind}",
                f"the async class is now flightnb.AsyncFlight{kind}; "
                f"flightnb.Flight{kind} names its blocking twin",
            )
            for kind in ("Exchange", "PutWriter", "StreamReader")
        },
    )

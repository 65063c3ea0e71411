"""Sans-IO decoder: FlightData messages in, Arrow events out.

The decoder owns no socket and no event loop. Feed it each FlightData message (raw bytes as
they came off the wire, or any generated protobuf ``FlightData`` object) with
:meth:`FlightDataDecoder.receive` and it returns the events that message completes.

How a message becomes Arrow data:

1. ``data_header``, ``app_metadata`` and ``data_body`` are taken as views of the received bytes
   (:mod:`flightnb.codec.wire`), so nothing is copied on the way in.
2. The flatbuffer header is read for the message kind and the body buffer table
   (:mod:`flightnb.codec.ipc_header`), and the body is copied once, buffer by buffer, into a
   fresh allocation where every buffer starts at a 64-byte boundary. This is the only copy of
   the data; it is what lets polars, numpy and SIMD kernels use the result without copying.
   With ``align_buffers=False`` the body is used where it is, in the received message: no
   copy, but the buffers are as unaligned as the message puts them (as pyarrow.flight's are).
3. pyarrow's own IPC stream reader assembles the arrays from that memory, zero-copy, so every
   Arrow type, dictionary deltas and replacements, compression and byte order are handled by
   the reference implementation.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import AsyncIterable, Iterable
from typing import Any, Protocol

import pyarrow as pa

from flightnb.codec.events import (
    BatchReceived,
    DictionaryReceived,
    Event,
    MetadataReceived,
    SchemaReceived,
    StreamEnded,
)
from flightnb.codec.ipc_header import (
    MessageKind,
    check_body_buffers,
    plan_aligned_body,
    read_ipc_header,
)
from flightnb.codec.wire import parse_flight_data
from flightnb.errors import FlightArgumentTypeError, FlightDecodeError

__all__ = [
    "FlightDataDecoder",
    "FlightDataLike",
    "aiter_batches",
    "iter_batches",
    "read_table",
    "read_table_async",
]

_CONTINUATION = 0xFFFFFFFF
_EMPTY = memoryview(b"")


class FlightDataLike(Protocol):
    """Any object with FlightData's fields, e.g. a message from user-generated stubs."""

    data_header: bytes
    app_metadata: bytes
    data_body: bytes


class _MessageFeed:
    """A read-only file that hands pyarrow's stream reader the messages we queue.

    pyarrow wraps it in a ``PythonFile``; reads return views of the queued buffers, which
    pyarrow keeps without copying.
    """

    closed = False

    def __init__(self) -> None:
        self._chunks: deque[memoryview] = deque()

    def push(self, *chunks: memoryview) -> None:
        self._chunks.extend(c for c in chunks if len(c))

    def read(self, size: int = -1) -> memoryview | bytes:
        if not self._chunks:
            return b""
        first = self._chunks[0]
        if size < 0 or size == len(first):
            return self._chunks.popleft()
        if size < len(first):
            self._chunks[0] = first[size:]
            return first[:size]
        # A read spanning queued chunks does not happen with pyarrow's reader today; join
        # them so that a change in its read pattern costs a copy, not correctness.
        parts = bytearray()
        while self._chunks and len(parts) < size:
            parts += self.read(size - len(parts))
        return bytes(parts)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


def _optional_bytes(view: memoryview | bytes) -> bytes | None:
    return bytes(view) if len(view) else None


def _as_view(value: Any) -> memoryview:
    if value is None:
        return _EMPTY
    view = memoryview(value)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _check_field_names(schema: pa.Schema) -> None:
    """Refuse field names that are not UTF-8.

    Arrow requires UTF-8 names, but pyarrow's reader takes any bytes and the schema then
    raises ``UnicodeDecodeError`` later, wherever a name is read (``to_pylist``, pandas,
    printing). Checked once per stream, over the (small) schema tree.
    """
    fields: list[pa.Field] = list(schema)
    while fields:  # bounded: every field is visited once
        field = fields.pop()
        try:
            field.name  # noqa: B018 - decoding the name is the check
        except UnicodeDecodeError as exc:
            raise FlightDecodeError(
                f"a field name is not UTF-8: {exc}", where="data_header"
            ) from None
        kind = field.type
        while isinstance(kind, (pa.DictionaryType, pa.BaseExtensionType)):
            kind = kind.value_type if isinstance(kind, pa.DictionaryType) else kind.storage_type
        fields.extend(kind.field(i) for i in range(kind.num_fields))


def default_receive_pool() -> pa.MemoryPool:
    """The allocator for received data: the system one (64-byte aligned, like every pool).

    Received tables are usually kept, so every read needs fresh memory. Measured here, filling
    fresh mimalloc memory (pyarrow's default pool on Linux) costs about five times more than
    fresh system-allocator memory (~470 ms vs ~85 ms per 200 MB of 3.6 MB messages), which
    would dominate a read. Pass ``memory_pool=`` to choose another.
    """
    return pa.system_memory_pool()


class FlightDataDecoder:
    """Turns a stream of FlightData messages into Arrow events.

    Parameters
    ----------
    validate : bool, default False
        Fully validate every decoded batch (offsets, UTF-8, dictionary indices). A cheap
        structural check runs always; the full one costs a pass over the data.
    memory_pool : pyarrow.MemoryPool, optional
        Where the received bodies are copied to. Default: the system allocator, see
        :func:`default_receive_pool`.
    align_buffers : bool, default True
        Copy each body into memory where every buffer starts at a 64-byte boundary. False
        uses the body in place: no copy (faster when results are dropped soon), but buffers
        are unaligned, polars copies them before use, and each batch keeps its whole
        received message alive.

    Examples
    --------
    >>> decoder = FlightDataDecoder()
    >>> for message in stub.DoGet(ticket):  # doctest: +SKIP
    ...     for event in decoder.receive(message):
    ...         print(event)
    """

    def __init__(
        self,
        *,
        validate: bool = False,
        memory_pool: pa.MemoryPool | None = None,
        align_buffers: bool = True,
    ) -> None:
        self._validate = validate
        self._align = align_buffers
        self._pool = memory_pool if memory_pool is not None else default_receive_pool()
        self._feed = _MessageFeed()
        self._reader: pa.RecordBatchStreamReader | None = None
        self._schema: pa.Schema | None = None
        self._ended = False

    @property
    def schema(self) -> pa.Schema | None:
        """The stream's schema once it has arrived."""
        return self._schema

    def receive(self, message: bytes | bytearray | memoryview | FlightDataLike) -> list[Event]:
        """Decode one FlightData message; returns the events it completes (often one)."""
        if self._ended:
            raise FlightDecodeError("message after the end of the stream")
        if isinstance(message, (bytes, bytearray, memoryview)):
            raw = parse_flight_data(message)
            return self.receive_parts(raw.data_header, raw.data_body, raw.app_metadata)
        try:
            header = message.data_header
            body = message.data_body
            app_metadata = message.app_metadata
        except AttributeError as exc:
            raise FlightArgumentTypeError(
                "expected FlightData bytes or an object with data_header, data_body and "
                f"app_metadata, got {type(message).__name__}"
            ) from exc
        return self.receive_parts(header, body, app_metadata)

    def receive_parts(self, data_header: Any, data_body: Any, app_metadata: Any) -> list[Event]:
        """Decode one message given as its three fields (bytes-like, may be empty)."""
        header, body = _as_view(data_header), _as_view(data_body)
        metadata = _optional_bytes(_as_view(app_metadata))
        if not len(header):
            if len(body):
                raise FlightDecodeError(
                    f"{len(body)}-byte data_body without a data_header", where="FlightData"
                )
            return [] if metadata is None else [MetadataReceived(metadata)]
        info = read_ipc_header(header)
        if info.kind is MessageKind.SCHEMA:
            return [self._receive_schema(header, info.body_length, metadata)]
        if info.kind in (MessageKind.TENSOR, MessageKind.SPARSE_TENSOR, MessageKind.NONE):
            raise FlightDecodeError(
                f"{info.kind.name.lower()} message; Flight streams carry record batches",
                where="data_header",
            )
        if self._reader is None:
            raise FlightDecodeError(
                f"{info.kind.name.lower().replace('_', ' ')} before the schema message"
            )
        if len(body) < info.body_length:
            raise FlightDecodeError(
                f"header declares a {info.body_length}-byte body but {len(body)} bytes came",
                where="data_body",
            )
        if self._align:
            patched, copies, size = plan_aligned_body(header, info)
            aligned = pa.allocate_buffer(size, memory_pool=self._pool)
            target = memoryview(aligned).cast("B")
            for source_offset, target_offset, length in copies:
                target[target_offset : target_offset + length] = body[
                    source_offset : source_offset + length
                ]
            self._push_message(memoryview(patched), memoryview(aligned))
        else:
            check_body_buffers(header, info)
            self._push_message(header, body[: info.body_length])
        if info.kind is MessageKind.DICTIONARY_BATCH:
            # pyarrow applies it when it reads the next record batch.
            return [DictionaryReceived(info.dictionary_id, info.is_delta, metadata)]
        return [BatchReceived(self._read_batch(), metadata)]

    def end(self) -> StreamEnded:
        """Mark the end of the stream; returns the closing event."""
        self._ended = True
        return StreamEnded(self._schema)

    def _push_message(self, header: memoryview, body: memoryview) -> None:
        self._feed.push(memoryview(struct.pack("<Ii", _CONTINUATION, len(header))), header, body)

    def _receive_schema(
        self, header: memoryview, body_length: int, metadata: bytes | None
    ) -> SchemaReceived:
        if self._reader is not None:
            raise FlightDecodeError("a second schema message in the middle of the stream")
        if body_length:
            raise FlightDecodeError("schema message with a body", where="data_header")
        self._push_message(header, _EMPTY)
        try:
            self._reader = pa.ipc.open_stream(pa.PythonFile(self._feed, mode="r"))
        # pa.ArrowIOError is plain OSError, not an ArrowException: pyarrow reports an invalid
        # flatbuffer ("Invalid flatbuffers message") that way.
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise FlightDecodeError(f"invalid schema: {exc}", where="data_header") from exc
        _check_field_names(self._reader.schema)
        self._schema = self._reader.schema
        return SchemaReceived(self._schema, metadata)

    def _read_batch(self) -> pa.RecordBatch:
        assert self._reader is not None
        try:
            batch = self._reader.read_next_batch()
            batch.validate(full=self._validate)
        except StopIteration:
            raise FlightDecodeError("record batch message could not be read") from None
        except (pa.ArrowException, OSError, ValueError) as exc:  # OSError: see above
            raise FlightDecodeError(str(exc)) from exc
        return batch


def _batches_from_events(events: list[Event]) -> Iterable[pa.RecordBatch]:
    for event in events:
        if isinstance(event, BatchReceived):
            yield event.batch


def iter_batches(
    messages: Iterable[bytes | memoryview | FlightDataLike],
    *,
    validate: bool = False,
    align_buffers: bool = True,
) -> Iterable[pa.RecordBatch]:
    """Yield the record batches of an iterable of FlightData messages (e.g. ``stub.DoGet``).

    ``validate`` and ``align_buffers`` are :class:`FlightDataDecoder`'s.
    """
    decoder = FlightDataDecoder(validate=validate, align_buffers=align_buffers)
    for message in messages:
        yield from _batches_from_events(decoder.receive(message))


async def aiter_batches(
    messages: AsyncIterable[bytes | memoryview | FlightDataLike],
    *,
    validate: bool = False,
    align_buffers: bool = True,
) -> AsyncIterable[pa.RecordBatch]:
    """Async twin of :func:`iter_batches`, e.g. for a ``grpc.aio`` DoGet call."""
    decoder = FlightDataDecoder(validate=validate, align_buffers=align_buffers)
    async for message in messages:
        for batch in _batches_from_events(decoder.receive(message)):
            yield batch


def _table(
    decoder: FlightDataDecoder, batches: list[pa.RecordBatch], schema: pa.Schema | None
) -> pa.Table:
    # Not ``decoder.schema or schema``: a schema without fields is falsy (``len() == 0``).
    if decoder.schema is not None:
        schema = decoder.schema
    if schema is None:
        raise FlightDecodeError("the stream ended without a schema message")
    return pa.Table.from_batches(batches, schema=schema)


def read_table(
    messages: Iterable[bytes | memoryview | FlightDataLike],
    *,
    schema: pa.Schema | None = None,
    validate: bool = False,
    align_buffers: bool = True,
) -> pa.Table:
    """Read a whole FlightData stream into a Table.

    ``schema`` is used when the stream has no schema message (some servers send nothing for
    an empty result); the stream's own schema wins when it has one. ``validate`` and
    ``align_buffers`` are :class:`FlightDataDecoder`'s.
    """
    decoder = FlightDataDecoder(validate=validate, align_buffers=align_buffers)
    batches = [
        batch for message in messages for batch in _batches_from_events(decoder.receive(message))
    ]
    return _table(decoder, batches, schema)


async def read_table_async(
    messages: AsyncIterable[bytes | memoryview | FlightDataLike],
    *,
    schema: pa.Schema | None = None,
    validate: bool = False,
    align_buffers: bool = True,
) -> pa.Table:
    """Async twin of :func:`read_table`."""
    decoder = FlightDataDecoder(validate=validate, align_buffers=align_buffers)
    batches: list[pa.RecordBatch] = []
    async for message in messages:
        batches.extend(_batches_from_events(decoder.receive(message)))
    return _table(decoder, batches, schema)

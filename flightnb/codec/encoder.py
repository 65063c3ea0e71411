"""Sans-IO encoder: Arrow record batches in, serialized FlightData messages out (DoPut, DoExchange).

pyarrow's IPC stream writer produces the messages, so dictionaries (including deltas and
replacements when values change between batches) and body compression follow the reference
implementation; this module only cuts its output into FlightData frames.
"""

from __future__ import annotations

import collections
import struct
from typing import Any

import pyarrow as pa

from flightnb.codec.ipc_header import MessageKind, read_ipc_header
from flightnb.codec.wire import encode_flight_data
from flightnb.errors import FlightArgumentError

__all__ = ["FlightDataEncoder"]


class _CollectingSink:
    """A write-only file that keeps what pyarrow's writer writes, as written, until taken.

    pyarrow hands body buffers over as ``pyarrow.Buffer`` objects; keeping them as views
    (not appending them to one bytearray) saves a copy of every body.
    """

    closed = False

    def __init__(self) -> None:
        self._pieces: collections.deque[memoryview] = collections.deque()

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if len(view):
            self._pieces.append(view)
        return len(view)

    def take(self) -> _Pieces:
        pieces, self._pieces = self._pieces, collections.deque()
        return _Pieces(pieces)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True


class _Pieces:
    """A byte stream held as the pieces it was written in, read front to back without copies."""

    def __init__(self, pieces: collections.deque[memoryview]) -> None:
        self._pieces = pieces

    def __bool__(self) -> bool:
        return bool(self._pieces)

    def read(self, size: int) -> list[memoryview]:
        """The next ``size`` bytes as views of the pieces; fewer at the end of the stream."""
        out: list[memoryview] = []
        while size > 0 and self._pieces:
            first = self._pieces[0]
            if len(first) <= size:
                out.append(self._pieces.popleft())
                size -= len(first)
            else:
                out.append(first[:size])
                self._pieces[0] = first[size:]
                size = 0
        return out


def _split_messages(stream: _Pieces) -> list[tuple[MessageKind, bytes, list[memoryview]]]:
    """Cut IPC stream bytes into (kind, header, body pieces) triples."""
    messages = []
    while stream:
        prefix = b"".join(stream.read(8))
        if len(prefix) < 8:
            break
        marker, length = struct.unpack("<Ii", prefix)
        if marker != 0xFFFFFFFF or length == 0:
            break  # end-of-stream marker
        header = b"".join(stream.read(length))
        info = read_ipc_header(memoryview(header))
        messages.append((info.kind, header, stream.read(info.body_length)))
    return messages


class FlightDataEncoder:
    """Encodes one stream of record batches of a fixed schema into FlightData messages.

    Parameters
    ----------
    schema : pyarrow.Schema
        The schema every batch has.
    compression : {"lz4", "zstd", None}
        IPC body compression for the batches.
    options : pyarrow.ipc.IpcWriteOptions, optional
        Full control over the IPC writer; overrides ``compression``.

    Examples
    --------
    >>> import pyarrow as pa
    >>> table = pa.table({"n": [1, 2, 3]})
    >>> encoder = FlightDataEncoder(table.schema)
    >>> messages = [encoder.schema_message(), *encoder.encode_table(table)]
    >>> len(messages)  # the schema, then one record batch
    2
    """

    def __init__(
        self,
        schema: pa.Schema,
        *,
        compression: str | None = None,
        options: pa.ipc.IpcWriteOptions | None = None,
    ) -> None:
        self.schema = schema
        self._sink = _CollectingSink()
        if options is None:
            options = pa.ipc.IpcWriteOptions(compression=compression)
        self._writer = pa.ipc.new_stream(self._sink, schema, options=options)

    def schema_message(
        self, *, descriptor: bytes | None = None, app_metadata: bytes | None = None
    ) -> bytes:
        """The first message of the stream; ``descriptor`` is a serialized FlightDescriptor."""
        serialized = memoryview(self.schema.serialize()).cast("B")
        ((_, header, _),) = _split_messages(_Pieces(collections.deque([serialized])))
        return encode_flight_data(
            descriptor=descriptor, data_header=header, app_metadata=app_metadata
        )

    def encode_batch(self, batch: pa.RecordBatch, app_metadata: bytes | None = None) -> list[bytes]:
        """The messages for one batch: any dictionary batches it needs, then the batch."""
        if not batch.schema.equals(self.schema):
            raise FlightArgumentError(
                f"batch schema differs from the stream's:\n{batch.schema}\nvs\n{self.schema}"
            )
        self._writer.write_batch(batch)
        # The schema was sent by schema_message() already; the batch comes last.
        messages = [m for m in _split_messages(self._sink.take()) if m[0] is not MessageKind.SCHEMA]
        last = len(messages) - 1
        return [
            encode_flight_data(
                data_header=header,
                data_body=body,
                app_metadata=app_metadata if i == last else None,
            )
            for i, (_, header, body) in enumerate(messages)
        ]

    def encode_table(self, table: pa.Table, *, max_chunksize: int | None = None) -> list[bytes]:
        """The messages for every batch of a table."""
        return [
            message
            for batch in table.to_batches(max_chunksize=max_chunksize)
            for message in self.encode_batch(batch)
        ]

    @staticmethod
    def metadata_message(app_metadata: bytes) -> bytes:
        """A message with only ``app_metadata`` and no Arrow data."""
        return encode_flight_data(app_metadata=app_metadata)

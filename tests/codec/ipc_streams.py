"""Helpers for the codec tests: FlightData streams built without flightnb's encoder."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

import pyarrow as pa

from flightnb.codec import FlightDataEncoder, encode_flight_data

ALIGNMENT = 64


def pyarrow_messages(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    options: pa.ipc.IpcWriteOptions | None = None,
) -> list[bytes]:
    """The FlightData messages of a stream written by pyarrow's own IPC stream writer.

    pyarrow's writer output is split with pyarrow's own ``MessageReader``; each message's
    flatbuffer becomes ``data_header`` and its body ``data_body``, as Flight servers send them.
    """
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema, options=options) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return [
        encode_flight_data(
            data_header=message.metadata.to_pybytes(),
            data_body=message.body.to_pybytes() if message.body is not None else None,
        )
        for message in pa.ipc.MessageReader.open_stream(sink.getvalue())
    ]


def flightnb_messages(table: pa.Table, **encoder_options: object) -> list[bytes]:
    """The FlightData messages flightnb's encoder makes for ``table``."""
    encoder = FlightDataEncoder(table.schema, **encoder_options)  # type: ignore[arg-type]
    return [encoder.schema_message(), *encoder.encode_table(table)]


def ipc_framed(header: bytes, body: bytes = b"") -> bytes:
    """An encapsulated IPC message: continuation marker, length, flatbuffer, body."""
    return b"\xff\xff\xff\xff" + struct.pack("<i", len(header)) + header + body


def _children(array: pa.Array) -> Iterator[pa.Array]:
    kind = array.type
    if isinstance(array, pa.ExtensionArray):
        yield array.storage
    elif isinstance(array, pa.DictionaryArray):
        yield array.indices
        yield array.dictionary
    elif pa.types.is_run_end_encoded(kind):
        yield array.run_ends
        yield array.values
    elif pa.types.is_map(kind):
        yield array.keys
        yield array.items
    elif (
        pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_fixed_size_list(kind)
        or pa.types.is_list_view(kind)
        or pa.types.is_large_list_view(kind)
    ):
        yield array.values
    elif pa.types.is_struct(kind) or pa.types.is_union(kind):
        for i in range(kind.num_fields):
            yield array.field(i)


def all_buffers(array: pa.Array) -> Iterator[tuple[str, pa.Buffer]]:
    """Every buffer reachable from ``array``: its own, its children's, its dictionaries'."""
    stack: list[tuple[str, pa.Array]] = [(str(array.type), array)]
    while stack:
        path, current = stack.pop()
        for i, buffer in enumerate(current.buffers()):
            if buffer is not None:
                yield f"{path} buffer {i}", buffer
        for j, child in enumerate(_children(current)):
            stack.append((f"{path} > {j}:{child.type}", child))


def misaligned_buffers(table: pa.Table | pa.RecordBatch) -> list[str]:
    """Descriptions of every buffer in ``table`` whose address is not a multiple of 64."""
    columns = table.columns
    bad = []
    for name, column in zip(table.column_names, columns, strict=True):
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        for chunk in chunks:
            for where, buffer in all_buffers(chunk):
                if buffer.address % ALIGNMENT:
                    bad.append(f"{name}: {where} at {buffer.address:#x} ({buffer.size} bytes)")
    return bad

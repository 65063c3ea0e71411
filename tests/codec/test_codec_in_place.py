"""``align_buffers=False``: bodies used where they arrived, every corpus table unchanged."""

from __future__ import annotations

import struct

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from corpus import CASES, multi_batch
from ipc_streams import all_buffers, flightnb_messages

import flightnb
from flightnb.codec import FlightDataDecoder, read_table
from flightnb.codec.ipc_header import read_ipc_header
from flightnb.codec.wire import encode_flight_data, parse_flight_data
from flightnb.errors import FlightDecodeError

CASE_IDS = [name for name, _ in CASES]


def _decode(messages: list[bytes], **options: bool) -> pa.Table:
    return read_table(messages, validate=True, **options)


def _inside(buffer: pa.Buffer, messages: list[bytes]) -> bool:
    for message in messages:
        start = pa.py_buffer(message).address
        if start <= buffer.address and buffer.address + buffer.size <= start + len(message):
            return True
    return False


@pytest.mark.parametrize(("name", "table"), CASES, ids=CASE_IDS)
def test_corpus_decodes_the_same_in_place(name: str, table: pa.Table) -> None:
    source = multi_batch(table)
    messages = flightnb_messages(source)
    result = _decode(messages, align_buffers=False)
    assert result.equals(source, check_metadata=True)
    assert result.equals(_decode(messages), check_metadata=True)


def test_buffers_point_into_the_received_messages() -> None:
    table = pa.table({"x": pa.array(range(1000), pa.int64()), "s": [str(i) for i in range(1000)]})
    messages = flightnb_messages(table)
    in_place = _decode(messages, align_buffers=False)
    copied = _decode(messages)
    kept = [buffer for column in in_place.columns for _, buffer in _buffers(column) if buffer.size]
    assert kept and all(_inside(buffer, messages) for buffer in kept)
    copies = [buffer for column in copied.columns for _, buffer in _buffers(column) if buffer.size]
    assert not any(_inside(buffer, messages) for buffer in copies)


def _buffers(column: pa.ChunkedArray) -> list[tuple[str, pa.Buffer]]:
    return [named for chunk in column.chunks for named in all_buffers(chunk)]


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_compressed_bodies_in_place(compression: str) -> None:
    table = multi_batch(pa.table({"x": pa.array(range(5000)), "s": ["ab"] * 5000}))
    result = _decode(flightnb_messages(table, compression=compression), align_buffers=False)
    assert result.equals(table)


def test_a_buffer_outside_the_body_is_refused_in_place() -> None:
    table = pa.table({"x": pa.array(range(16), pa.int64())})
    schema_message, batch_message = flightnb_messages(table)
    parts = parse_flight_data(batch_message)
    header = bytearray(parts.data_header)
    info = read_ipc_header(memoryview(header))
    offset, _ = struct.unpack_from("<qq", header, info.buffers_position + 16)
    struct.pack_into("<q", header, info.buffers_position + 16, offset + 8)  # past the end
    bad = encode_flight_data(data_header=bytes(header), data_body=bytes(parts.data_body))
    decoder = FlightDataDecoder(align_buffers=False)
    decoder.receive(schema_message)
    with pytest.raises(FlightDecodeError, match="outside the"):
        decoder.receive(bad)


def test_a_client_reads_in_place_from_a_pyarrow_server() -> None:
    table = pa.table(
        {
            "x": pa.array(range(200_000), pa.int64()),
            "city": pa.array(["Oslo", "Lima"] * 100_000).dictionary_encode(),
        }
    )

    class Server(flight.FlightServerBase):  # type: ignore[misc]
        def do_get(self, context: object, ticket: flight.Ticket) -> flight.RecordBatchStream:
            return flight.RecordBatchStream(table)

    server = Server("grpc://127.0.0.1:0")
    try:
        uri = f"grpc://127.0.0.1:{server.port}"
        with flightnb.FlightClient(uri, align_buffers=False) as client:
            result = client.do_get(b"t").read_all()
        assert result.equals(table)
        frame = flightnb.read_flight(uri, ticket=b"t", to="polars", align_buffers=False)
        assert frame["x"].sum() == sum(range(200_000))
        assert frame["city"].cast(str).to_list()[:2] == ["Oslo", "Lima"]
    finally:
        server.shutdown()

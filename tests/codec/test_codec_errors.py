"""Malformed streams give FlightDecodeError that says what was wrong, never a crash."""

from __future__ import annotations

import random
import struct

import numpy as np
import pyarrow as pa
import pytest
from corpus import case, dictionary_replacement_batches
from ipc_streams import flightnb_messages, ipc_framed

from flightnb.codec import (
    FlightDataDecoder,
    MetadataReceived,
    encode_flight_data,
    parse_flight_data,
    read_table,
)
from flightnb.codec.ipc_header import read_ipc_header
from flightnb.errors import FlightDecodeError, FlightError


def _parts(message: bytes) -> tuple[bytes, bytes, bytes]:
    raw = parse_flight_data(message)
    return bytes(raw.data_header), bytes(raw.data_body), bytes(raw.app_metadata)


@pytest.fixture(scope="module")
def messages() -> list[bytes]:
    """schema, dictionary, batch, dictionary, batch, dictionary, batch."""
    return flightnb_messages(pa.Table.from_batches(dictionary_replacement_batches()))


def test_decode_error_is_a_flight_error() -> None:
    assert issubclass(FlightDecodeError, FlightError)


def test_empty_stream_keeps_schema() -> None:
    source = case("dictionaries")
    table = read_table(flightnb_messages(source.slice(0, 0)))
    assert table.num_rows == 0
    assert table.schema.equals(source.schema, check_metadata=True)


def test_schema_only_stream_keeps_schema() -> None:
    source = case("extensions")
    encoder_messages = flightnb_messages(pa.Table.from_batches([], schema=source.schema))
    assert len(encoder_messages) == 1
    table = read_table(encoder_messages)
    assert (table.num_rows, table.schema) == (0, source.schema)
    assert table.schema.equals(source.schema, check_metadata=True)


def test_stream_without_schema() -> None:
    with pytest.raises(FlightDecodeError, match="without a schema"):
        read_table([])
    metadata_only = encode_flight_data(app_metadata=b"just metadata")
    with pytest.raises(FlightDecodeError, match="without a schema"):
        read_table([metadata_only])


def test_schema_argument_used_when_stream_has_none() -> None:
    schema = pa.schema([("a", pa.int64())])
    assert read_table([], schema=schema).schema == schema


def test_batch_before_schema(messages: list[bytes]) -> None:
    decoder = FlightDataDecoder()
    with pytest.raises(FlightDecodeError, match="dictionary batch before the schema"):
        decoder.receive(messages[1])
    decoder = FlightDataDecoder()
    with pytest.raises(FlightDecodeError, match="record batch before the schema"):
        decoder.receive(messages[2])


def test_second_schema(messages: list[bytes]) -> None:
    decoder = FlightDataDecoder()
    for message in messages[:3]:
        decoder.receive(message)
    with pytest.raises(FlightDecodeError, match="second schema"):
        decoder.receive(messages[0])


@pytest.mark.parametrize("index", [0, 1, 2])
def test_truncated_header(messages: list[bytes], index: int) -> None:
    header, body, _ = _parts(messages[index])
    for cut in range(4, len(header), 4):
        decoder = FlightDataDecoder()
        for earlier in messages[:index]:
            decoder.receive(earlier)
        with pytest.raises(FlightDecodeError, match=r"header|flatbuffer") as info:
            decoder.receive_parts(header[:cut], body, b"")
            # pyarrow reads a dictionary batch only with the record batch that needs it, so
            # a dictionary header cut inside its trailing part is caught one message later.
            decoder.receive(messages[index + 1])
        if cut <= len(header) // 2:
            assert info.value.where == "data_header", (cut, str(info.value))


@pytest.mark.parametrize("index", [1, 2])
def test_body_shorter_than_declared(messages: list[bytes], index: int) -> None:
    header, body, _ = _parts(messages[index])
    decoder = FlightDataDecoder()
    decoder.receive(messages[0])
    if index == 2:
        decoder.receive(messages[1])
    with pytest.raises(
        FlightDecodeError,
        match=rf"declares a {len(body)}-byte body but "
        rf"{len(body) - 8} bytes came",
    ) as info:
        decoder.receive_parts(header, body[:-8], b"")
    assert info.value.where == "data_body"


def test_huge_declared_body_allocates_nothing(messages: list[bytes]) -> None:
    header, body, _ = _parts(messages[2])
    info = read_ipc_header(memoryview(header))
    assert info.body_length_position > 0
    patched = bytearray(header)
    struct.pack_into("<q", patched, info.body_length_position, 2**40)
    decoder = FlightDataDecoder()
    decoder.receive(messages[0])
    decoder.receive(messages[1])
    before = pa.total_allocated_bytes()
    with pytest.raises(FlightDecodeError, match=r"declares a 1099511627776-byte body"):
        decoder.receive_parts(bytes(patched), body, b"")
    assert pa.total_allocated_bytes() - before < 1024 * 1024


def test_huge_buffer_in_buffer_table(messages: list[bytes]) -> None:
    header, body, _ = _parts(messages[2])
    info = read_ipc_header(memoryview(header))
    patched = bytearray(header)
    # The last buffer claims to be 2**40 bytes long, past the end of the declared body.
    struct.pack_into("<q", patched, info.buffers_position + 16 * (info.buffer_count - 1) + 8, 2**40)
    decoder = FlightDataDecoder()
    decoder.receive(messages[0])
    decoder.receive(messages[1])
    before = pa.total_allocated_bytes()
    with pytest.raises(FlightDecodeError, match=r"lies outside the \d+-byte body"):
        decoder.receive_parts(bytes(patched), body, b"")
    assert pa.total_allocated_bytes() - before < 1024 * 1024


def test_tensor_message() -> None:
    sink = pa.BufferOutputStream()
    pa.ipc.write_tensor(pa.Tensor.from_numpy(np.arange(6, dtype=np.int64).reshape(2, 3)), sink)
    framed = sink.getvalue().to_pybytes()
    marker, length = struct.unpack_from("<Ii", framed)
    assert marker == 0xFFFFFFFF
    header, body = framed[8 : 8 + length], framed[8 + length :]
    decoder = FlightDataDecoder()
    with pytest.raises(FlightDecodeError, match="tensor message; Flight streams carry"):
        decoder.receive(encode_flight_data(data_header=header, data_body=body))


def test_framed_header_is_refused(messages: list[bytes]) -> None:
    header, _, _ = _parts(messages[0])
    with pytest.raises(FlightDecodeError, match="continuation marker"):
        FlightDataDecoder().receive_parts(ipc_framed(header), b"", b"")


def test_body_without_header() -> None:
    with pytest.raises(FlightDecodeError, match="data_body without a data_header"):
        FlightDataDecoder().receive(encode_flight_data(data_body=b"12345678"))


@pytest.mark.parametrize("seed", range(20))
def test_garbage_header(seed: int) -> None:
    rng = random.Random(seed)
    garbage = rng.randbytes(rng.choice([8, 16, 64, 200]))
    decoder = FlightDataDecoder()
    with pytest.raises(FlightDecodeError):
        decoder.receive_parts(garbage, b"", b"")
    with pytest.raises(FlightDecodeError):
        decoder.receive_parts(b"\x00" * 8 + garbage, b"\x00" * 64, b"")


def test_mutated_headers_fail_cleanly(messages: list[bytes]) -> None:
    """Flipped header bytes either decode or raise FlightDecodeError, nothing else."""
    rng = random.Random(1234)
    for index in (0, 1, 2):
        header, body, _ = _parts(messages[index])
        for _ in range(150):
            mutated = bytearray(header)
            for _ in range(rng.randint(1, 3)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            decoder = FlightDataDecoder(validate=True)
            try:
                for earlier in messages[:index]:
                    decoder.receive(earlier)
                decoder.receive_parts(bytes(mutated), body, b"")
            except FlightDecodeError:
                pass


def test_unsupported_metadata_version(messages: list[bytes]) -> None:
    header, _, _ = _parts(messages[0])
    patched = bytearray(header)
    root = struct.unpack_from("<I", patched, 0)[0]
    vtable = root - struct.unpack_from("<i", patched, root)[0]
    version_at = root + struct.unpack_from("<H", patched, vtable + 4)[0]
    struct.pack_into("<h", patched, version_at, 0)  # V1
    with pytest.raises(FlightDecodeError, match="metadata version V1 is not supported"):
        FlightDataDecoder().receive_parts(bytes(patched), b"", b"")


def test_message_after_end(messages: list[bytes]) -> None:
    decoder = FlightDataDecoder()
    decoder.receive(messages[0])
    decoder.end()
    with pytest.raises(FlightDecodeError, match="after the end"):
        decoder.receive(messages[1])


def test_not_flight_data() -> None:
    with pytest.raises(TypeError, match="expected FlightData bytes"):
        FlightDataDecoder().receive(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x12\x05abc", "declares 5 bytes but only 3 remain"),
        (b"\x12", "ends inside a varint"),
        (b"\x10\x01", "field 2 has wire type 0"),
        (b"\x02\x00", "field number 0"),
        (b"\x2b", "unsupported wire type 3"),
        (b"\x0b", "field 1 has wire type 3, expected bytes"),
        (b"\x31\x00\x00", "ends inside a fixed-size field"),
        (b"\x12" + b"\xff" * 11, "varint longer than 10 bytes"),
    ],
)
def test_bad_protobuf(data: bytes, message: str) -> None:
    with pytest.raises(FlightDecodeError, match=message) as info:
        FlightDataDecoder().receive(data)
    assert info.value.where == "FlightData"


def test_metadata_only_message_is_fine_anywhere() -> None:
    assert FlightDataDecoder().receive(encode_flight_data(app_metadata=b"m")) == [
        MetadataReceived(b"m")
    ]

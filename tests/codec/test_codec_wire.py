"""The FlightData wire format, app_metadata handling, and the naive-decoding regression."""

from __future__ import annotations

import struct

import pyarrow as pa
import pytest
from corpus import case, dictionary_replacement_batches, multi_batch
from ipc_streams import flightnb_messages, ipc_framed, pyarrow_messages

from flightnb._proto import Flight_pb2 as pb
from flightnb.codec import (
    BatchReceived,
    DictionaryReceived,
    FlightDataDecoder,
    FlightDataEncoder,
    MetadataReceived,
    SchemaReceived,
    encode_flight_data,
    iter_batches,
    parse_flight_data,
    read_table,
)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _with_unknown_fields(message: bytes) -> bytes:
    """``message`` with unknown fields of every wire type before and after its own."""
    extra_before = (
        _varint(5 << 3 | 0)
        + _varint(2**63)  # varint
        + _varint(6 << 3 | 1)
        + struct.pack("<d", 1.5)  # fixed64
        + _varint(7 << 3 | 5)
        + struct.pack("<f", 2.5)  # fixed32
    )
    blob = b"unknown bytes"
    extra_after = _varint(999 << 3 | 2) + _varint(len(blob)) + blob
    return extra_before + message + extra_after


def test_wire_parser_matches_protobuf() -> None:
    descriptor = pb.FlightDescriptor(type=pb.FlightDescriptor.PATH, path=["a", "b"])
    message = encode_flight_data(
        descriptor=descriptor.SerializeToString(),
        data_header=b"header",
        app_metadata=b"meta",
        data_body=b"body" * 100,
    )
    parsed = pb.FlightData.FromString(message)
    raw = parse_flight_data(message)
    assert bytes(raw.data_header) == parsed.data_header == b"header"
    assert bytes(raw.app_metadata) == parsed.app_metadata == b"meta"
    assert bytes(raw.data_body) == parsed.data_body == b"body" * 100
    assert pb.FlightDescriptor.FromString(bytes(raw.descriptor)) == descriptor
    generated = pb.FlightData(data_header=b"h", app_metadata=b"m", data_body=b"b")
    assert encode_flight_data(data_header=b"h", app_metadata=b"m", data_body=b"b") == (
        generated.SerializeToString()
    )


def test_wire_parser_views_do_not_copy() -> None:
    message = bytearray(encode_flight_data(data_header=b"h" * 10, data_body=b"b" * 1000))
    raw = parse_flight_data(message)
    message[-1:] = b"X"
    assert bytes(raw.data_body[-1:]) == b"X"


def test_unknown_fields_are_skipped() -> None:
    source = multi_batch(case("dictionaries"))
    messages = [_with_unknown_fields(m) for m in flightnb_messages(source)]
    pb.FlightData.FromString(messages[1])  # still valid protobuf
    assert read_table(messages).equals(source, check_metadata=True)


def test_repeated_field_keeps_last_value() -> None:
    message = encode_flight_data(app_metadata=b"first") + encode_flight_data(app_metadata=b"x")
    assert pb.FlightData.FromString(message).app_metadata == b"x"
    assert bytes(parse_flight_data(message).app_metadata) == b"x"


def test_protobuf_objects_are_accepted() -> None:
    source = multi_batch(case("dictionaries"))
    objects = [pb.FlightData.FromString(m) for m in flightnb_messages(source)]
    assert read_table(objects).equals(source, check_metadata=True)
    assert pa.Table.from_batches(list(iter_batches(objects))).equals(source, check_metadata=True)


def test_duck_typed_objects_and_buffers() -> None:
    class Message:
        def __init__(self, raw: bytes) -> None:
            fields = parse_flight_data(raw)
            self.data_header = pa.py_buffer(bytes(fields.data_header))
            self.data_body = bytearray(fields.data_body)
            self.app_metadata = None

    source = case("extensions")
    assert read_table([Message(m) for m in flightnb_messages(source)]).equals(
        source, check_metadata=True
    )
    views = [memoryview(m) for m in flightnb_messages(source)]
    assert read_table(views).equals(source, check_metadata=True)


def test_app_metadata_only_messages_everywhere() -> None:
    source = multi_batch(case("dictionaries"))
    encoder = FlightDataEncoder(source.schema)
    meta = FlightDataEncoder.metadata_message
    batches = source.to_batches()
    messages = [
        meta(b"before schema"),
        encoder.schema_message(app_metadata=b"on schema"),
        meta(b"after schema"),
        *encoder.encode_batch(batches[0], b"on batch 0"),
        meta(b"between"),
        meta(b"between again"),
        *encoder.encode_batch(batches[1]),
        *encoder.encode_batch(batches[2], b"on batch 2"),
        meta(b"after all"),
    ]
    decoder = FlightDataDecoder()
    events = [e for m in messages for e in decoder.receive(m)]
    summary = [
        (type(e).__name__, getattr(e, "app_metadata", None))
        for e in events
        if not isinstance(e, DictionaryReceived)
    ]
    assert summary == [
        ("MetadataReceived", b"before schema"),
        ("SchemaReceived", b"on schema"),
        ("MetadataReceived", b"after schema"),
        ("BatchReceived", b"on batch 0"),
        ("MetadataReceived", b"between"),
        ("MetadataReceived", b"between again"),
        ("BatchReceived", None),
        ("BatchReceived", b"on batch 2"),
        ("MetadataReceived", b"after all"),
    ]
    # The dictionary batch before a record batch does not carry the batch's metadata.
    assert all(e.app_metadata is None for e in events if isinstance(e, DictionaryReceived))
    assert read_table(messages).equals(source, check_metadata=True)
    received = [e.batch for e in events if isinstance(e, BatchReceived)]
    assert sum(b.num_rows for b in received) == source.num_rows


def test_empty_message_is_ignored() -> None:
    assert FlightDataDecoder().receive(b"") == []


def test_metadata_received_holds_bytes() -> None:
    (event,) = FlightDataDecoder().receive(encode_flight_data(app_metadata=b"\x00\xff"))
    assert event == MetadataReceived(b"\x00\xff")
    assert type(event.app_metadata) is bytes


def _naive_read(messages: list[bytes]) -> list[pa.RecordBatch]:
    """What people write over plain gRPC: frame each message and read it as a record batch."""
    parsed = [pb.FlightData.FromString(m) for m in messages]
    schema = pa.ipc.read_schema(pa.py_buffer(ipc_framed(parsed[0].data_header)))
    batches = []
    for data in parsed[1:]:
        message = pa.ipc.read_message(ipc_framed(data.data_header, data.data_body))
        batches.append(pa.ipc.read_record_batch(message, schema))
    return batches


@pytest.mark.parametrize("writer", ["flightnb", "pyarrow"])
def test_naive_decoding_fails_on_dictionaries_and_ours_does_not(writer: str) -> None:
    """Regression: the common hand-written decoder cannot read a dictionary column."""
    batches = dictionary_replacement_batches()
    source = pa.Table.from_batches(batches)
    if writer == "flightnb":
        messages = flightnb_messages(source)
    else:
        messages = pyarrow_messages(batches, source.schema)

    with pytest.raises((pa.ArrowInvalid, OSError), match=r"(?i)record ?batch.*got dictionary"):
        _naive_read(messages)

    decoder = FlightDataDecoder()
    events = [e for m in messages for e in decoder.receive(m)]
    assert isinstance(events[0], SchemaReceived)
    assert isinstance(events[1], DictionaryReceived)
    assert read_table(messages, validate=True).equals(source, check_metadata=True)


def test_naive_decoding_works_without_dictionaries() -> None:
    """The naive reader is fine on plain columns: the dictionary is what breaks it."""
    source = multi_batch(case("ints"))
    naive = pa.Table.from_batches(_naive_read(flightnb_messages(source)))
    assert naive.equals(source)
    assert read_table(flightnb_messages(source)).equals(source, check_metadata=True)

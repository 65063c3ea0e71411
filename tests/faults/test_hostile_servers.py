"""Hostile and unusual servers, through the public API: typed errors or the right data.

Every case runs through ``flightnb.read_flight``, ``AsyncFlightClient.do_get(...).read_all()``
and the blocking ``FlightClient`` against :class:`fault_server.FaultServer`, which sends
whatever bytes a test scripts. Nothing may crash, hang, return partial data as if complete,
or raise anything but a :class:`flightnb.FlightError`. See docs/reliability.md for the table.
"""

from __future__ import annotations

import asyncio
import random
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from fault_server import (
    BytesStatusServer,
    FaultServer,
    FaultServerProcess,
    Hang,
    InitialMetadata,
    Kill,
    Pause,
    Send,
    Status,
    Step,
)

import flightnb
from flightnb import AsyncFlightClient, FlightClient, read_flight
from flightnb._proto import Flight_pb2 as pb
from flightnb.codec import FlightDataEncoder, encode_flight_data, parse_flight_data
from flightnb.codec.ipc_header import _Table, read_ipc_header

pytestmark = pytest.mark.timeout(120)

# Generous against a slow CI machine, short enough that a hang fails fast.
CALL_TIMEOUT = 15.0
EOS_MARKER = b"\xff\xff\xff\xff\x00\x00\x00\x00"

TABLE = pa.table(
    {"n": pa.array(range(300), pa.int64()), "s": pa.array([f"row {i}" for i in range(300)])}
)
ENCODER = FlightDataEncoder(TABLE.schema)
SCHEMA_MESSAGE = ENCODER.schema_message()
BATCHES = ENCODER.encode_table(TABLE, max_chunksize=100)
MESSAGES = [SCHEMA_MESSAGE, *BATCHES]

DICT_TABLE = pa.table({"d": pa.array(["a", "b", "a", None]).dictionary_encode()})
_dict_encoder = FlightDataEncoder(DICT_TABLE.schema)
DICT_MESSAGES = [_dict_encoder.schema_message(), *_dict_encoder.encode_table(DICT_TABLE)]

OTHER_TABLE = pa.table({"x": pa.array([0.5, 1.5])})
_other_encoder = FlightDataEncoder(OTHER_TABLE.schema)
OTHER_MESSAGES = [_other_encoder.schema_message(), *_other_encoder.encode_table(OTHER_TABLE)]

METADATA_ONLY = FlightDataEncoder.metadata_message(b"progress: 50%")


def _non_utf8_names() -> list[bytes]:
    """A stream whose nested field name is not UTF-8 (found by the atheris target)."""
    table = pa.table({"outer": pa.array([{"naïve": 1}])})
    encoder = FlightDataEncoder(table.schema)
    header, _ = parts(encoder.schema_message())
    broken = header.replace("naïve".encode(), b"na\xff\xfeve")
    assert broken != header
    return [message(broken), *encoder.encode_table(table)]


# --- building broken messages ----------------------------------------------------------------


def parts(message: bytes) -> tuple[bytes, bytes]:
    raw = parse_flight_data(message)
    return bytes(raw.data_header), bytes(raw.data_body)


def message(header: bytes, body: bytes = b"") -> bytes:
    return encode_flight_data(data_header=header, data_body=body)


def patch_message_field(header: bytes, slot: int, fmt: str, value: int) -> bytes:
    """``header`` with scalar field ``slot`` of its root Message table set to ``value``."""
    view = memoryview(header)
    root = _Table(view, struct.unpack_from("<I", view, 0)[0])
    at = root.scalar_position(slot)
    assert at >= 0, f"field {slot} is not stored in this header"
    patched = bytearray(header)
    struct.pack_into(fmt, patched, at, value)
    return bytes(patched)


def with_version(encoded: bytes, version: int) -> bytes:
    header, body = parts(encoded)
    return message(patch_message_field(header, 0, "<h", version), body)


def with_header_type(encoded: bytes, kind: int) -> bytes:
    header, body = parts(encoded)
    return message(patch_message_field(header, 1, "<B", kind), body)


def with_body_length(encoded: bytes, length: int) -> bytes:
    header, body = parts(encoded)
    return message(patch_message_field(header, 3, "<q", length), body)


def with_last_buffer_length(encoded: bytes, length: int) -> bytes:
    header, body = parts(encoded)
    info = read_ipc_header(memoryview(header))
    patched = bytearray(header)
    struct.pack_into(
        "<q", patched, info.buffers_position + 16 * (info.buffer_count - 1) + 8, length
    )
    return message(bytes(patched), body)


def tensor_message() -> bytes:
    sink = pa.BufferOutputStream()
    pa.ipc.write_tensor(pa.Tensor.from_numpy(np.arange(6, dtype=np.int64).reshape(2, 3)), sink)
    framed = sink.getvalue().to_pybytes()
    (length,) = struct.unpack_from("<i", framed, 4)
    return message(framed[8 : 8 + length], framed[8 + length :])


def protobuf_claiming(length: int) -> bytes:
    """FlightData whose data_body field declares ``length`` bytes but carries 16."""
    key = bytes([0xC2, 0x3E])  # field 1000, wire type 2
    varint = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    return key + bytes(varint) + b"\x00" * 16


def big_endian_schema_header(header: bytes) -> bytes:
    """The schema flatbuffer ``header`` again, with ``Schema.endianness`` = Big.

    pyarrow cannot write big-endian IPC, and the field is left out of pyarrow's flatbuffer
    (Little is the default), so it cannot be patched in place. Flatbuffer offsets point only
    forward, so new Message and Schema tables go in front of the old flatbuffer (64 bytes,
    keeping its 8-byte alignment) and point at the old schema's fields, metadata and
    features vectors.
    """
    view = memoryview(header)
    old_schema = _Table(view, struct.unpack_from("<I", view, 0)[0]).table(2)
    assert old_schema is not None
    vectors = [old_schema._indirect(i) for i in (1, 2, 3)]  # fields, custom_metadata, features
    prefix = bytearray(64)
    struct.pack_into("<I", prefix, 0, 20)  # root offset: the Message table at 20
    # Message vtable at 8: 10 bytes, table of 12; version at +8, header_type at +10, header at +4
    struct.pack_into("<5H", prefix, 8, 10, 12, 8, 10, 4)
    struct.pack_into("<i", prefix, 20, 20 - 8)
    struct.pack_into("<I", prefix, 24, 44 - 24)  # header: the Schema table at 44
    struct.pack_into("<hB", prefix, 28, 4, 1)  # MetadataVersion.V5, MessageHeader.Schema
    # Schema vtable at 32: 12 bytes, table of 20; endianness +4, vectors at +8, +12, +16
    slots = [4] + [8 + 4 * i if at >= 0 else 0 for i, at in enumerate(vectors)]
    struct.pack_into("<6H", prefix, 32, 12, 20, *slots)
    struct.pack_into("<i", prefix, 44, 44 - 32)
    struct.pack_into("<h", prefix, 48, 1)  # Endianness.Big
    for i, at in enumerate(vectors):
        if at >= 0:
            struct.pack_into("<I", prefix, 52 + 4 * i, len(prefix) + at - (52 + 4 * i))
    return bytes(prefix) + header


BIG_ENDIAN_TABLE = pa.table(
    {
        "i32": pa.array([1, None, -3, 2**31 - 1], pa.int32()),
        "i64": pa.array([1, 2**40, -5, 7], pa.int64()),
        "f64": pa.array([0.5, -1.25, 1e300, float("-inf")]),
        "s": pa.array(["a", None, "ccc", ""]),
    }
)
# Bytes per value of each body buffer (validity bitmaps and string data are byte order free).
_BIG_ENDIAN_WIDTHS = [0, 4, 0, 8, 0, 8, 0, 4, 0]


def big_endian_messages(swap_numbers: bool = True) -> list[bytes]:
    """A big-endian stream of BIG_ENDIAN_TABLE (string offsets are swapped always)."""
    encoder = FlightDataEncoder(BIG_ENDIAN_TABLE.schema)
    schema_header, _ = parts(encoder.schema_message())
    (batch,) = encoder.encode_table(BIG_ENDIAN_TABLE)
    header, body = parts(batch)
    info = read_ipc_header(memoryview(header))
    swapped = bytearray(body)
    for i, width in enumerate(_BIG_ENDIAN_WIDTHS):
        offset, length = struct.unpack_from("<qq", header, info.buffers_position + 16 * i)
        if width and length and (swap_numbers or i == 7):
            values = np.frombuffer(body, f"<u{width}", length // width, offset)
            swapped[offset : offset + length] = values.byteswap().tobytes()
    return [message(big_endian_schema_header(schema_header)), message(header, bytes(swapped))]


# --- the three ways to read ------------------------------------------------------------------

APIS = ["read_flight", "async_client", "sync_client"]


def read_with(
    api: str, location: str, ticket: bytes, *, schema: pa.Schema | None = None
) -> pa.Table:
    if api == "read_flight":
        assert schema is None
        return read_flight(location, ticket=ticket, progress=False, timeout=CALL_TIMEOUT)
    if api == "async_client":

        async def main() -> pa.Table:
            async with AsyncFlightClient(location, timeout=CALL_TIMEOUT) as client:
                return await client.do_get(ticket, schema=schema).read_all()

        return asyncio.run(main())
    with FlightClient(location, timeout=CALL_TIMEOUT) as client:
        return client.do_get(ticket, schema=schema).read_all()


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    # A short path: unix socket paths are limited to ~100 bytes.
    with tempfile.TemporaryDirectory(prefix="fnb") as directory:
        with FaultServer(unix_path=Path(directory) / "s") as running:
            yield running


@pytest.fixture
def play(server: FaultServer, request: pytest.FixtureRequest) -> Callable[[list[Step]], bytes]:
    """Register a script under a ticket unique to the test; returns the ticket."""
    counter = iter(range(1000))

    def register(steps: list[Step]) -> bytes:
        ticket = f"{request.node.nodeid}#{next(counter)}".encode()
        server.script(ticket, steps)
        return ticket

    return register


def sends(*messages: bytes) -> list[Step]:
    return [Send(m) for m in messages]


# --- malformed streams: FlightDecodeError ------------------------------------------------------

_rng = random.Random(20240611)
_batch_header, _batch_body = parts(BATCHES[0])

DECODE_ERROR_CASES: dict[str, list[bytes]] = {
    "truncated_header_half": [SCHEMA_MESSAGE, message(_batch_header[: len(_batch_header) // 2])],
    "truncated_header_6_bytes": [SCHEMA_MESSAGE, message(_batch_header[:6], _batch_body)],
    "truncated_schema_header": [message(parts(SCHEMA_MESSAGE)[0][:40])],
    "garbage_header": [SCHEMA_MESSAGE, message(_rng.randbytes(64), _batch_body)],
    "garbage_schema_header": [message(_rng.randbytes(200))],
    "garbage_flight_data": [_rng.randbytes(300)],
    "eos_marker_as_header": [message(EOS_MARKER)],
    "eos_marker_after_data": [SCHEMA_MESSAGE, BATCHES[0], message(EOS_MARKER)],
    "body_shorter_than_declared": [SCHEMA_MESSAGE, message(_batch_header, _batch_body[:-8])],
    "body_missing": [SCHEMA_MESSAGE, message(_batch_header)],
    "body_length_2_40": [SCHEMA_MESSAGE, with_body_length(BATCHES[0], 2**40)],
    "buffer_length_2_40": [SCHEMA_MESSAGE, with_last_buffer_length(BATCHES[0], 2**40)],
    "negative_body_length": [SCHEMA_MESSAGE, with_body_length(BATCHES[0], -1)],
    "protobuf_field_claims_2_40": [SCHEMA_MESSAGE, protobuf_claiming(2**40)],
    "unknown_header_type_9": [SCHEMA_MESSAGE, with_header_type(BATCHES[0], 9)],
    "unknown_header_type_255": [with_header_type(SCHEMA_MESSAGE, 255)],
    "header_type_none": [SCHEMA_MESSAGE, with_header_type(BATCHES[0], 0)],
    "sparse_tensor_header_type": [SCHEMA_MESSAGE, with_header_type(BATCHES[0], 5)],
    "tensor_message": [SCHEMA_MESSAGE, tensor_message()],
    **{
        f"metadata_version_V{v + 1}": [with_version(SCHEMA_MESSAGE, v), *BATCHES]
        for v in (0, 1, 2, 5, 6, 127)
    },
    "batch_version_V6": [SCHEMA_MESSAGE, with_version(BATCHES[0], 5)],
    "batch_before_schema": [BATCHES[0], SCHEMA_MESSAGE],
    "dictionary_before_schema": [DICT_MESSAGES[1], DICT_MESSAGES[0], DICT_MESSAGES[2]],
    "dictionary_schema_without_dictionary": [DICT_MESSAGES[0], DICT_MESSAGES[2]],
    "second_schema": [SCHEMA_MESSAGE, BATCHES[0], SCHEMA_MESSAGE, BATCHES[1]],
    "changed_schema": [SCHEMA_MESSAGE, BATCHES[0], OTHER_MESSAGES[0], OTHER_MESSAGES[1]],
    "batch_of_another_schema": [SCHEMA_MESSAGE, OTHER_MESSAGES[1]],
    "body_without_header": [SCHEMA_MESSAGE, encode_flight_data(data_body=b"\x00" * 64)],
    "field_name_not_utf8": _non_utf8_names(),
    "no_messages": [],
    "only_metadata_no_schema": [METADATA_ONLY],
    "only_empty_messages": [b"", b""],
}


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("case", sorted(DECODE_ERROR_CASES))
def test_malformed_stream_is_a_decode_error(
    server: FaultServer, play: Callable[[list[Step]], bytes], case: str, api: str
) -> None:
    ticket = play(sends(*DECODE_ERROR_CASES[case]))
    with pytest.raises(flightnb.FlightDecodeError):
        read_with(api, server.location, ticket)


def _rss_bytes() -> int:
    statm = Path("/proc/self/statm")
    if not statm.exists():
        pytest.skip("needs /proc/self/statm")
    return int(statm.read_text().split()[1]) * 4096


@pytest.mark.parametrize("api", APIS)
def test_giant_length_claims_allocate_nothing(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    claims = [
        with_body_length(BATCHES[0], 2**40),
        with_last_buffer_length(BATCHES[0], 2**40),
        protobuf_claiming(2**40),
        protobuf_claiming(2**62),
    ]
    before_rss, before_arrow = _rss_bytes(), pa.total_allocated_bytes()
    for claim in claims:
        with pytest.raises(flightnb.FlightDecodeError):
            read_with(api, server.location, play(sends(SCHEMA_MESSAGE, claim)))
    assert pa.total_allocated_bytes() - before_arrow < 1 << 20
    assert _rss_bytes() - before_rss < 64 << 20


def test_fallback_schema_for_a_stream_without_messages(
    server: FaultServer, play: Callable[[list[Step]], bytes]
) -> None:
    ticket = play([])
    for api in ("async_client", "sync_client"):
        table = read_with(api, server.location, ticket, schema=TABLE.schema)
        assert table.num_rows == 0
        assert table.schema == TABLE.schema
    # read_flight(path=...) falls back to the schema of FlightInfo.
    info = pb.FlightInfo(
        schema=TABLE.schema.serialize().to_pybytes(),
        endpoint=[pb.FlightEndpoint(ticket=pb.Ticket(ticket=ticket))],
    )
    server.info_script(b"empty-endpoint", [Send(info.SerializeToString())])
    table = read_flight(server.location, path="empty-endpoint", progress=False, timeout=10)
    assert (table.num_rows, table.schema) == (0, TABLE.schema)


@pytest.mark.parametrize(
    "response",
    [b"\xff\xff\xff garbage", pb.FlightInfo(schema=b"\x01\x02\x03\x04junk").SerializeToString()],
    ids=["garbage_protobuf", "garbage_schema"],
)
def test_garbage_flight_info_is_a_decode_error(server: FaultServer, response: bytes) -> None:
    key = f"bad-info-{len(response)}".encode()
    server.info_script(key, [Send(response)])
    with pytest.raises(flightnb.FlightDecodeError):
        read_flight(server.location, path=key.decode(), progress=False, timeout=10)
    with FlightClient(server.location, timeout=10) as client:
        with pytest.raises(flightnb.FlightDecodeError):
            client.get_flight_info(flightnb.FlightDescriptor.for_path(key.decode()))


# --- legal but unusual streams: every row ----------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_empty_flight_data_first_is_ignored(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    ticket = play(sends(b"", encode_flight_data(), SCHEMA_MESSAGE, b"", *BATCHES, b""))
    assert read_with(api, server.location, ticket).equals(TABLE)


@pytest.mark.parametrize("api", APIS)
def test_metadata_only_messages_keep_every_row(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    steps = sends(
        METADATA_ONLY, SCHEMA_MESSAGE, METADATA_ONLY, BATCHES[0], METADATA_ONLY, *BATCHES[1:]
    )
    assert read_with(api, server.location, play(steps)).equals(TABLE)


def test_pyarrow_read_all_stops_at_a_metadata_only_message(
    server: FaultServer, play: Callable[[list[Step]], bytes]
) -> None:
    """The comparison behind the test above: pyarrow.flight's read_all loses rows here.

    Its reader ends ``read_all`` at the first chunk without data (pyarrow 26 and earlier);
    flightnb skips such chunks and keeps reading.
    """
    ticket = play(sends(SCHEMA_MESSAGE, BATCHES[0], METADATA_ONLY, *BATCHES[1:]))
    client = paflight.connect(server.location)
    try:
        table = client.do_get(paflight.Ticket(ticket)).read_all()
    finally:
        client.close()
    assert table.num_rows < TABLE.num_rows, "pyarrow now reads past metadata-only messages"
    assert read_flight(server.location, ticket=ticket, progress=False).equals(TABLE)


@pytest.mark.parametrize("api", APIS)
def test_schema_only_stream(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    table = read_with(api, server.location, play(sends(SCHEMA_MESSAGE)))
    assert (table.num_rows, table.schema) == (0, TABLE.schema)


@pytest.mark.parametrize("api", APIS)
def test_dictionary_batch_without_record_batches(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    table = read_with(api, server.location, play(sends(*DICT_MESSAGES[:2])))
    assert (table.num_rows, table.schema) == (0, DICT_TABLE.schema)


@pytest.mark.parametrize("api", APIS)
def test_messages_over_4_mib(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    big = pa.table({"v": pa.array(np.arange(1_500_000, dtype=np.float64))})  # 12 MB batch
    encoder = FlightDataEncoder(big.schema)
    messages = [encoder.schema_message(), *encoder.encode_table(big)]
    assert max(len(m) for m in messages) > 4 << 20
    assert read_with(api, server.location, play(sends(*messages))).equals(big)


@pytest.mark.parametrize("api", APIS)
def test_big_endian_stream_is_swapped_to_native(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    table = read_with(api, server.location, play(sends(*big_endian_messages())))
    assert table.equals(BIG_ENDIAN_TABLE)
    for column in ("i32", "i64", "f64"):
        assert table[column].chunk(0).buffers()[1] is not None


def test_big_endian_schema_is_really_big_endian(
    server: FaultServer, play: Callable[[list[Step]], bytes]
) -> None:
    """Without the swapped body the values come out byte-swapped: the flag is honoured."""
    table = read_with("read_flight", server.location, play(sends(*big_endian_messages(False))))
    assert table["i64"].to_pylist()[0] == 1 << 56


@pytest.mark.parametrize("api", APIS)
def test_slow_server_within_the_deadline(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    steps: list[Step] = [Pause(0.2), Send(SCHEMA_MESSAGE)]
    for batch in BATCHES:
        steps += [Pause(0.1), Send(batch)]
    assert read_with(api, server.location, play(steps)).equals(TABLE)


@pytest.mark.parametrize("api", APIS)
def test_body_longer_than_declared_is_tolerated(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    """Bytes past the declared body length are ignored, as in an IPC file's padding."""
    schema_header, _ = parts(SCHEMA_MESSAGE)
    steps = sends(
        message(schema_header, b"\x00" * 8),
        *[message(h, b + b"\x00" * 24) for h, b in map(parts, BATCHES)],
    )
    assert read_with(api, server.location, play(steps)).equals(TABLE)


def test_unix_socket(server: FaultServer, play: Callable[[list[Step]], bytes]) -> None:
    good = play(sends(*MESSAGES))
    bad = play(sends(SCHEMA_MESSAGE, with_header_type(BATCHES[0], 9)))
    assert read_flight(server.unix_location, ticket=good, progress=False).equals(TABLE)
    with pytest.raises(flightnb.FlightDecodeError):
        read_flight(server.unix_location, ticket=bad, progress=False, timeout=10)


# --- error statuses -----------------------------------------------------------------------------

STATUS_CLASSES = {
    grpc.StatusCode.INTERNAL: flightnb.FlightInternalError,
    grpc.StatusCode.UNAVAILABLE: flightnb.FlightUnavailableError,
    grpc.StatusCode.CANCELLED: flightnb.FlightCancelledError,
    grpc.StatusCode.DATA_LOSS: flightnb.FlightInternalError,
    grpc.StatusCode.UNKNOWN: flightnb.FlightServerError,
    grpc.StatusCode.DEADLINE_EXCEEDED: flightnb.FlightTimedOutError,
}
POSITIONS = {
    "before_data": [],
    "after_schema": [SCHEMA_MESSAGE],
    "between_batches": [SCHEMA_MESSAGE, BATCHES[0]],
    "after_all_data": MESSAGES,
}


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("position", sorted(POSITIONS))
@pytest.mark.parametrize("code", sorted(STATUS_CLASSES, key=lambda c: c.name), ids=str)
def test_error_status_anywhere_raises(
    server: FaultServer,
    play: Callable[[list[Step]], bytes],
    code: grpc.StatusCode,
    position: str,
    api: str,
) -> None:
    """Data before an error is never returned as if the stream were complete."""
    ticket = play([*sends(*POSITIONS[position]), Status(code, f"{code.name} on purpose")])
    with pytest.raises(STATUS_CLASSES[code]) as info:
        read_with(api, server.location, ticket)
    assert info.value.code == code.name
    assert f"{code.name} on purpose" in info.value.message


def test_rows_before_an_error_are_delivered_then_it_raises(
    server: FaultServer, play: Callable[[list[Step]], bytes]
) -> None:
    ticket = play([*sends(SCHEMA_MESSAGE, *BATCHES[:2]), Status(grpc.StatusCode.INTERNAL, "x")])

    async def main() -> tuple[int, BaseException | None]:
        rows = 0
        async with AsyncFlightClient(server.location, timeout=CALL_TIMEOUT) as client:
            try:
                async for chunk in client.do_get(ticket):
                    rows += chunk.data.num_rows
            except flightnb.FlightError as exc:
                return rows, exc
        return rows, None

    rows, error = asyncio.run(main())
    assert rows == 200
    assert isinstance(error, flightnb.FlightInternalError)


@pytest.mark.parametrize("api", APIS)
def test_server_cancelled_is_flight_cancelled_error(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    ticket = play([*sends(SCHEMA_MESSAGE, BATCHES[0]), Status(grpc.StatusCode.CANCELLED, "bye")])
    try:
        read_with(api, server.location, ticket)
    except BaseException as exc:  # the point is what comes out, whatever it is
        assert type(exc) is flightnb.FlightCancelledError, repr(exc)
    else:
        pytest.fail("a CANCELLED stream was returned as complete")


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        # Mostly UTF-8 with bad bytes: the bad bytes become U+FFFD, the rest survives.
        (b"bad \xff\xfe bytes \xc3( end caf\xc3\xa9", "bad \ufffd\ufffd bytes \ufffd( end café"),
        # Latin-1 text from a server that does not speak UTF-8: read as Latin-1.
        (b"Tabelle f\xfcr Benutzer", "Tabelle für Benutzer"),
        ("naïve ☃ ok".encode(), "naïve ☃ ok"),
    ],
    ids=["mixed", "latin1", "utf8"],
)
def test_non_utf8_error_details_survive(details: bytes, expected: str) -> None:
    with BytesStatusServer([SCHEMA_MESSAGE], grpc.StatusCode.INTERNAL, details) as server:
        for api in APIS:
            with pytest.raises(flightnb.FlightInternalError) as info:
                read_with(api, server.location, b"t")
            assert info.value.message == expected, api


def test_arrow_status_trailers_are_surfaced(
    server: FaultServer, play: Callable[[list[Step]], bytes]
) -> None:
    trailers = (
        ("x-arrow-status", "4"),
        ("x-arrow-status-message-bin", b"no table \xff named t"),
        ("x-arrow-status-detail-bin", b"\x00detail\xff"),
        ("grpc-status-details-bin", b"extra\x00info"),
        ("x-custom", "kept"),
        ("authorization", "Bearer secret"),
    )
    ticket = play([Send(SCHEMA_MESSAGE), Status(grpc.StatusCode.NOT_FOUND, "no table", trailers)])
    with pytest.raises(flightnb.FlightNotFoundError) as info:
        read_with("sync_client", server.location, ticket)
    error = info.value
    assert error.arrow_code == 4
    assert error.arrow_message == "no table \ufffd named t"
    assert error.arrow_detail == b"\x00detail\xff"
    assert error.extra_info == b"extra\x00info"
    assert error.trailers["x-custom"] == "kept"
    assert error.trailers["x-arrow-status-message-bin"] == b"no table \xff named t"
    assert "authorization" not in error.trailers


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("where", ["initial", "trailing_after_data", "trailing_with_error"])
def test_64_kib_metadata_is_accepted(
    server: FaultServer, play: Callable[[list[Step]], bytes], where: str, api: str
) -> None:
    """64 KiB of headers or trailers (over grpc's 16 KiB default): data, or the real error."""
    big = (("x-big", "m" * 65536),)
    steps: list[Step] = {
        "initial": [InitialMetadata(big), *sends(*MESSAGES)],
        "trailing_after_data": [*sends(*MESSAGES), Status(grpc.StatusCode.OK, "", big)],
        "trailing_with_error": [Send(SCHEMA_MESSAGE), Status(grpc.StatusCode.INTERNAL, "x", big)],
    }[where]
    if where == "trailing_with_error":
        with pytest.raises(flightnb.FlightInternalError) as info:
            read_with(api, server.location, play(steps))
        assert info.value.trailers["x-big"] == "m" * 65536
    else:
        assert read_with(api, server.location, play(steps)).equals(TABLE)


@pytest.mark.parametrize("api", APIS)
def test_metadata_over_the_limit_is_a_typed_error(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    """Past flightnb's 1 MiB metadata limit: RESOURCE_EXHAUSTED, no partial data."""
    huge = (("x-huge", "m" * (2 << 20)),)
    with pytest.raises(flightnb.FlightResourceExhaustedError, match="metadata"):
        read_with(api, server.location, play([InitialMetadata(huge), *sends(*MESSAGES)]))


# --- dead and silent servers --------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_server_killed_mid_stream(tmp_path: Path, api: str) -> None:
    script = [*sends(SCHEMA_MESSAGE, BATCHES[0]), Pause(0.3), Kill()]
    with FaultServerProcess({b"t": script}, tmp_path) as process:
        # UNAVAILABLE, not a timeout (CALL_TIMEOUT): the read ended because the server died.
        with pytest.raises(flightnb.FlightUnavailableError):
            read_with(api, process.location, b"t")
        assert process.wait() == -9


def test_server_killed_while_the_client_reads(tmp_path: Path) -> None:
    with FaultServerProcess({b"t": [*sends(SCHEMA_MESSAGE, BATCHES[0]), Hang()]}, tmp_path) as p:

        async def main() -> None:
            async with AsyncFlightClient(p.location, timeout=CALL_TIMEOUT) as client:
                async with client.do_get(b"t") as reader:
                    chunk = await reader.read_chunk()
                    assert chunk is not None and chunk.data.num_rows == 100
                    p.kill()
                    # UNAVAILABLE, not a timeout: the kill ended the read.
                    with pytest.raises(flightnb.FlightUnavailableError):
                        await reader.read_all()

        asyncio.run(main())


@pytest.mark.parametrize("before", [[], [SCHEMA_MESSAGE], [SCHEMA_MESSAGE, BATCHES[0]]])
def test_silent_server_times_out_and_the_call_is_cancelled(
    server: FaultServer, play: Callable[[list[Step]], bytes], before: list[bytes]
) -> None:
    ticket = play([*sends(*before), Hang()])
    started = time.monotonic()
    with pytest.raises(flightnb.FlightTimedOutError):
        read_flight(server.location, ticket=ticket, progress=False, timeout=1)
    # Not before the deadline (load only lengthens this); the error says the deadline ended it.
    assert time.monotonic() - started > 0.9
    # The server's handler saw the cancellation: the RPC did not linger on the wire.
    assert server.record(ticket).cancelled.wait(5)


@pytest.mark.parametrize("api", ["async_client", "sync_client"])
def test_silent_server_hits_the_clients_grpc_deadline(
    server: FaultServer, play: Callable[[list[Step]], bytes], api: str
) -> None:
    ticket = play([Send(SCHEMA_MESSAGE), Hang()])
    started = time.monotonic()
    with pytest.raises(flightnb.FlightTimedOutError):
        if api == "async_client":

            async def main() -> Any:
                async with AsyncFlightClient(server.location, timeout=1) as client:
                    return await client.do_get(ticket).read_all()

            asyncio.run(main())
        else:
            with FlightClient(server.location, timeout=1) as client:
                client.do_get(ticket).read_all()
    assert time.monotonic() - started > 0.9  # the deadline, not an earlier failure
    assert server.record(ticket).cancelled.wait(5)


def test_silent_get_flight_info_times_out(server: FaultServer) -> None:
    server.info_script(b"silent-info", [Hang()])
    started = time.monotonic()
    with pytest.raises(flightnb.FlightTimedOutError):
        read_flight(server.location, path="silent-info", progress=False, timeout=1)
    assert time.monotonic() - started > 0.9  # the deadline, not an earlier failure
    assert server.info_record(b"silent-info").cancelled.wait(5)

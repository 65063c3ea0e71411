"""Property tests of the codec (hypothesis): round trips, and mutated streams fail cleanly.

Profiles: ``ci`` (the default) is derandomized and keeps no example database, so the suite
is reproducible and bounded; ``dev`` explores fresh examples and more of them. Pick one with
``FLIGHTNB_HYPOTHESIS_PROFILE=dev pytest tests/fuzz``.
"""

from __future__ import annotations

import contextlib
import os
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from atheris_decoder import check_one_input, split_input
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flightnb.codec import (
    BatchReceived,
    FlightDataDecoder,
    FlightDataEncoder,
    encode_flight_data,
    parse_flight_data,
    read_table,
)
from flightnb.codec.ipc_header import read_ipc_header
from flightnb.errors import FlightDecodeError, FlightError

pytestmark = pytest.mark.timeout(120)

# Arrow tables are big inputs by hypothesis' standards, and the first ones pay for pyarrow's
# lazy initialisation: timing health checks would fail at random on a busy machine.
_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **_COMMON)
settings.register_profile("dev", max_examples=2000, **_COMMON)
PROFILE = os.environ.get("FLIGHTNB_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
SCALE = 10 if PROFILE == "dev" else 1

REGRESSIONS = Path(__file__).parent / "regressions"

# --- Arrow types and values --------------------------------------------------------------------

_INTS = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32(), pa.uint64()]
_SCALAR_TYPES = st.sampled_from(
    [
        *_INTS,
        pa.float32(),
        pa.float64(),
        pa.bool_(),
        pa.string(),
        pa.large_string(),
        pa.binary(),
        pa.date32(),
        pa.timestamp("us", tz="UTC"),
        pa.timestamp("ns", tz="America/New_York"),
        pa.timestamp("s"),
        pa.decimal128(9, 2),
        pa.decimal128(38, 10),
        pa.dictionary(pa.int32(), pa.string()),
        pa.dictionary(pa.int8(), pa.int64()),
    ]
)


def _nested(children: st.SearchStrategy[pa.DataType]) -> st.SearchStrategy[pa.DataType]:
    return st.one_of(
        children.map(pa.list_),
        children.map(pa.large_list),
        st.lists(children, min_size=1, max_size=3).map(
            lambda types: pa.struct([pa.field(f"f{i}", t) for i, t in enumerate(types)])
        ),
    )


# Dictionaries nested inside lists/structs are legal Arrow but slow to build; keep them top-level.
_LEAF_TYPES = _SCALAR_TYPES.filter(lambda t: not pa.types.is_dictionary(t))
ARROW_TYPES = st.one_of(_SCALAR_TYPES, st.recursive(_LEAF_TYPES, _nested, max_leaves=4))


def _int_range(t: pa.DataType) -> tuple[int, int]:
    bits = t.bit_width
    if pa.types.is_signed_integer(t):
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def values_of(t: pa.DataType) -> st.SearchStrategy[Any]:
    """Python values of Arrow type ``t``, nulls included."""
    if pa.types.is_dictionary(t):
        inner: st.SearchStrategy[Any] = (
            st.sampled_from(["red", "green", "blue", ""])
            if pa.types.is_string(t.value_type)
            else st.integers(-3, 3)
        )
    elif pa.types.is_integer(t):
        low, high = _int_range(t)
        inner = st.integers(low, high)
    elif pa.types.is_floating(t):
        inner = st.floats(allow_nan=False, width=t.bit_width)
    elif pa.types.is_boolean(t):
        inner = st.booleans()
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        inner = st.text(max_size=12)
    elif pa.types.is_binary(t):
        inner = st.binary(max_size=12)
    elif pa.types.is_date32(t):
        # Within Python's date range (years 1..9999), so to_pylist can compare them.
        inner = st.integers(-719_162, 2_932_896).map(
            lambda days: pa.scalar(days, pa.int32()).cast(pa.date32()).as_py()
        )
    elif pa.types.is_timestamp(t):
        per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[t.unit]
        limit = 2**33 * per_second  # +-272 years: fits int64 nanoseconds and datetime
        inner = st.integers(-limit, limit).map(lambda v: pa.scalar(v, pa.int64()).cast(t))
    elif pa.types.is_decimal(t):
        limit = 10**t.precision - 1
        inner = st.integers(-limit, limit).map(lambda v: Decimal(f"{v}e-{t.scale}"))
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = st.lists(values_of(t.value_type), max_size=4)
    elif pa.types.is_struct(t):
        inner = st.fixed_dictionaries(
            {t.field(i).name: values_of(t.field(i).type) for i in range(t.num_fields)}
        )
    else:  # pragma: no cover - every type above is handled
        raise AssertionError(t)
    return st.none() | inner


def _array(t: pa.DataType, values: list[Any]) -> pa.Array:
    if pa.types.is_timestamp(t):
        return pa.array([None if v is None else v.value for v in values], pa.int64()).cast(t)
    return pa.array(values, type=t)


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    types = draw(st.lists(ARROW_TYPES, min_size=1, max_size=4))
    rows = draw(st.integers(0, 20))
    columns = {
        f"c{i}": _array(t, draw(st.lists(values_of(t), min_size=rows, max_size=rows)))
        for i, t in enumerate(types)
    }
    return pa.table(columns)


def encode(table: pa.Table, chunk: int | None, compression: str | None) -> list[bytes]:
    encoder = FlightDataEncoder(table.schema, compression=compression)
    return [encoder.schema_message(), *encoder.encode_table(table, max_chunksize=chunk)]


# --- round trips ----------------------------------------------------------------------------------


@settings(max_examples=120 * SCALE)
@given(
    table=tables(),
    chunk=st.none() | st.integers(1, 7),
    compression=st.sampled_from([None, "lz4", "zstd"]),
    validate=st.booleans(),
)
def test_round_trip(
    table: pa.Table, chunk: int | None, compression: str | None, validate: bool
) -> None:
    decoded = read_table(encode(table, chunk, compression), validate=validate)
    assert decoded.schema.equals(table.schema, check_metadata=True)
    assert decoded.equals(table)
    assert decoded.to_pylist() == table.to_pylist()


@settings(max_examples=40 * SCALE)
@given(
    batches=st.lists(
        st.lists(st.sampled_from(["a", "b", "c", "d", None]), max_size=6), min_size=1, max_size=5
    ),
    deltas=st.booleans(),
)
def test_dictionary_replacements_and_deltas(batches: list[list[str | None]], deltas: bool) -> None:
    schema = pa.schema([("d", pa.dictionary(pa.int32(), pa.string()))])
    encoder = FlightDataEncoder(
        schema, options=pa.ipc.IpcWriteOptions(emit_dictionary_deltas=deltas)
    )
    messages = [encoder.schema_message()]
    for values in batches:
        # A dictionary of only the values seen so far forces replacements or deltas.
        array = pa.array(values, pa.string()).dictionary_encode()
        messages += encoder.encode_batch(pa.record_batch([array], schema=schema))
    decoded = read_table(messages, validate=True)
    assert decoded.column("d").to_pylist() == [v for values in batches for v in values]


# --- mutations -----------------------------------------------------------------------------------

_SOURCE_TABLES = [
    pa.table({"n": pa.array([1, None, 3], pa.int64()), "s": ["x", None, "zzz"]}),
    pa.table(
        {"d": pa.array(["a", "b", "a", None]).dictionary_encode(), "f": [0.5, 1.0, None, 2.0]}
    ),
    pa.table({"l": pa.array([[1], None, [2, 3], []], pa.list_(pa.int32()))}),
    pa.table({"st": pa.array([{"a": 1, "b": "q"}, None, {"a": None, "b": ""}])}),
]
STREAMS = [encode(t, 2, c) for t in _SOURCE_TABLES for c in (None, "zstd")]
_INTERESTING = [
    0,
    1,
    7,
    8,
    63,
    64,
    2**31 - 1,
    2**31,
    2**32,
    2**40,
    2**62,
    2**63 - 1,
    -1,
    -8,
    -(2**63),
]


def _edit_length_field(message: bytes, draw: st.DrawFn) -> bytes:
    """Rewrite a length the decoder trusts: bodyLength, a buffer's offset/length, a varint."""
    try:  # an earlier mutation may have broken the message already
        raw = parse_flight_data(message)
        header, body = bytes(raw.data_header), bytes(raw.data_body)
        info = read_ipc_header(memoryview(header))
    except FlightDecodeError:
        return message
    value = draw(st.sampled_from(_INTERESTING) | st.integers(-(2**63), 2**63 - 1))
    targets = [info.body_length_position] if info.body_length_position >= 0 else []
    targets += [info.buffers_position + 8 * i for i in range(2 * info.buffer_count)]
    if not targets:
        return message
    patched = bytearray(header)
    struct.pack_into("<q", patched, draw(st.sampled_from(targets)), value)
    return encode_flight_data(
        data_header=bytes(patched), data_body=body, app_metadata=raw.app_metadata
    )


@st.composite
def mutated_streams(draw: st.DrawFn) -> list[bytes]:
    messages = list(draw(st.sampled_from(STREAMS)))
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(messages) - 1))
        target = bytearray(messages[index])
        kind = draw(
            st.sampled_from(
                [
                    "flip",
                    "byte",
                    "truncate",
                    "insert",
                    "delete",
                    "length",
                    "drop",
                    "duplicate",
                    "swap",
                ]
            )
        )
        if kind == "flip" and target:
            pos = draw(st.integers(0, len(target) - 1))
            target[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and target:
            target[draw(st.integers(0, len(target) - 1))] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del target[draw(st.integers(0, len(target))) :]
        elif kind == "insert":
            pos = draw(st.integers(0, len(target)))
            target[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete" and target:
            pos = draw(st.integers(0, len(target) - 1))
            del target[pos : pos + draw(st.integers(1, 16))]
        elif kind == "length":
            target = bytearray(_edit_length_field(bytes(target), draw))
        elif kind == "drop" and len(messages) > 1:
            del messages[index]
            continue
        elif kind == "duplicate":
            messages.insert(index, bytes(target))
        elif kind == "swap" and len(messages) > 1:
            other = draw(st.integers(0, len(messages) - 1))
            messages[index], messages[other] = messages[other], messages[index]
            continue
        messages[index] = bytes(target)
    return messages


def _decode_all(messages: list[bytes], validate: bool) -> None:
    decoder = FlightDataDecoder(validate=validate)
    for message in messages:
        for event in decoder.receive(message):
            if isinstance(event, BatchReceived) and validate:
                # Fully validated batches must be safe to read.
                event.batch.to_pylist()
    decoder.end()


@settings(max_examples=400 * SCALE)
@given(messages=mutated_streams(), validate=st.booleans())
def test_mutated_streams_fail_cleanly(messages: list[bytes], validate: bool) -> None:
    with contextlib.suppress(FlightError):
        _decode_all(messages, validate)


@settings(max_examples=150 * SCALE)
@given(data=st.binary(max_size=600))
def test_random_bytes_fail_cleanly(data: bytes) -> None:
    check_one_input(data)


# --- full validation catches what the cheap check lets through ------------------------------


def _string_batch(offsets: list[int], data: bytes) -> pa.RecordBatch:
    array = pa.StringArray.from_buffers(
        len(offsets) - 1,
        pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets)),
        pa.py_buffer(data),
    )
    return pa.record_batch([array], names=["s"])


@pytest.mark.parametrize(
    "batch",
    [
        _string_batch([0, 1, 3], b"a\xff\xfe"),  # invalid UTF-8
        _string_batch([0, 3, 1, 4], b"abcd"),  # offsets going backwards, ends in bounds
        pa.record_batch(
            [
                pa.DictionaryArray.from_arrays(
                    pa.array([0, 5], pa.int32()), pa.array(["a", "b"]), safe=False
                )
            ],
            names=["d"],
        ),  # a dictionary index past the dictionary
    ],
    ids=["invalid_utf8", "decreasing_offsets", "dictionary_index_out_of_range"],
)
def test_full_validation_catches_what_cheap_validation_misses(batch: pa.RecordBatch) -> None:
    encoder = FlightDataEncoder(batch.schema)
    messages = [encoder.schema_message(), *encoder.encode_batch(batch)]
    assert read_table(messages).num_rows == batch.num_rows  # cheap check: accepted
    with pytest.raises(FlightDecodeError):
        read_table(messages, validate=True)


# --- regressions ----------------------------------------------------------------------------------


def _regression_files() -> list[Path]:
    return sorted(p for p in REGRESSIONS.iterdir() if p.is_file() and not p.name.endswith(".md"))


@pytest.mark.parametrize("path", _regression_files(), ids=lambda p: p.name)
def test_regression_inputs(path: Path) -> None:
    """Inputs that once broke the decoder (atheris framing), replayed with and without
    full validation."""
    data = path.read_bytes()
    assert split_input(data)[1], "a regression input holds at least one message"
    check_one_input(data)
    check_one_input(bytes([data[0] ^ 1]) + data[1:])  # the other validation mode

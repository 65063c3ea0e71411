"""Every corpus table survives FlightDataEncoder -> FlightDataDecoder unchanged and aligned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import pyarrow as pa
import pytest
from corpus import (
    CASES,
    RangeType,
    case,
    dictionary_delta_batches,
    dictionary_replacement_batches,
    multi_batch,
)
from ipc_streams import flightnb_messages, misaligned_buffers, pyarrow_messages

from flightnb.codec import (
    BatchReceived,
    DictionaryReceived,
    FlightDataDecoder,
    FlightDataEncoder,
    SchemaReceived,
    aiter_batches,
    iter_batches,
    read_table,
    read_table_async,
)

CASE_IDS = [name for name, _ in CASES]


def assert_same(result: pa.Table, expected: pa.Table) -> None:
    assert result.num_rows == expected.num_rows
    assert result.schema.equals(expected.schema, check_metadata=True), (
        f"{result.schema}\n!=\n{expected.schema}"
    )
    assert result.equals(expected, check_metadata=True)
    assert misaligned_buffers(result) == []


@pytest.mark.parametrize(("name", "table"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("batches", [1, 3])
def test_corpus_roundtrip(name: str, table: pa.Table, batches: int) -> None:
    source = multi_batch(table, batches) if batches > 1 else table
    result = read_table(flightnb_messages(source), validate=True)
    assert_same(result, source)
    if batches > 1 and table.num_rows >= batches and table.num_columns:
        assert result.column(0).num_chunks == batches


def test_alignment_check_sees_misaligned_buffers() -> None:
    # The check must reach a dictionary nested in a list: only that one buffer is off.
    data = pa.py_buffer(bytes(range(80)))
    odd = pa.Array.from_buffers(pa.int8(), 3, [None, data.slice(1)])
    dictionary = pa.DictionaryArray.from_arrays(pa.array([0, 2], pa.int8()), odd)
    nested = pa.ListArray.from_arrays(pa.array([0, 2], pa.int32()), dictionary)
    if data.address % 64 == 63:  # pragma: no cover - the slice would be aligned by chance
        pytest.skip("unlucky allocation")
    assert len(misaligned_buffers(pa.table({"l": nested}))) == 1


@pytest.mark.parametrize(("name", "table"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_corpus_roundtrip_compressed(name: str, table: pa.Table, compression: str) -> None:
    source = multi_batch(table)
    result = read_table(flightnb_messages(source, compression=compression), validate=True)
    assert_same(result, source)


@pytest.mark.parametrize(("name", "table"), CASES, ids=CASE_IDS)
def test_corpus_from_pyarrow_writer(name: str, table: pa.Table) -> None:
    source = multi_batch(table)
    messages = pyarrow_messages(source.to_batches(), source.schema)
    assert_same(read_table(messages, validate=True), source)


@pytest.mark.parametrize("codec", ["lz4", "zstd"])
@pytest.mark.parametrize(
    "name",
    ["dictionaries", "binary_like", "lists", "extensions", "sliced/structs_and_maps", "unions"],
)
def test_pyarrow_compressed_streams(name: str, codec: str) -> None:
    source = multi_batch(case(name))
    options = pa.ipc.IpcWriteOptions(compression=codec)
    messages = pyarrow_messages(source.to_batches(), source.schema, options)
    assert_same(read_table(messages, validate=True), source)


def test_extension_parameters_survive() -> None:
    table = read_table(flightnb_messages(case("extensions")))
    own = table.schema.field("custom_range").type
    other = table.schema.field("custom_range_other_params").type
    assert isinstance(own, RangeType)
    assert (own.unit, own.closed) == ("ms", "both")
    assert isinstance(other, RangeType)
    assert (other.unit, other.closed) == ("ns", "neither")
    assert table.schema.field("uuid").metadata == {b"note": b"about uuid"}


def test_zero_columns_keep_their_rows() -> None:
    source = case("zero_columns")
    assert source.num_columns == 0
    assert source.num_rows > 0
    result = read_table(flightnb_messages(source))
    assert (result.num_rows, result.num_columns) == (source.num_rows, 0)


def test_zero_row_batch_is_a_batch() -> None:
    source = case("zero_rows")
    encoder = FlightDataEncoder(source.schema)
    # Table.to_batches() drops empty chunks, so the batch is built from the columns.
    empty = pa.RecordBatch.from_arrays(
        [c.combine_chunks() for c in source.columns], schema=source.schema
    )
    messages = [
        encoder.schema_message(),
        *encoder.encode_batch(empty),
        *encoder.encode_batch(empty),
    ]
    batches = list(iter_batches(messages))
    assert [b.num_rows for b in batches] == [0, 0]
    assert all(b.schema.equals(source.schema, check_metadata=True) for b in batches)


def test_large_batch_over_16_mib() -> None:
    rows = 2_500_000
    source = pa.table(
        {
            "n": pa.array(range(rows), pa.int64()),
            "b": pa.array([b"x" * (i % 7) for i in range(rows)], pa.binary()),
        }
    )
    assert source.nbytes > 16 * 1024 * 1024
    messages = flightnb_messages(source)
    assert max(len(m) for m in messages) > 16 * 1024 * 1024
    assert_same(read_table(messages), source)


def _event_kinds(messages: Iterable[bytes]) -> list[tuple[str, bool]]:
    decoder = FlightDataDecoder()
    kinds = []
    for message in messages:
        for event in decoder.receive(message):
            is_delta = isinstance(event, DictionaryReceived) and event.is_delta
            kinds.append((type(event).__name__, is_delta))
    return kinds


@pytest.mark.parametrize("writer", ["flightnb", "pyarrow"])
def test_replacement_dictionaries(writer: str) -> None:
    batches = dictionary_replacement_batches()
    source = pa.Table.from_batches(batches)
    if writer == "flightnb":
        messages = flightnb_messages(source)
    else:
        messages = pyarrow_messages(batches, source.schema)
    assert (
        _event_kinds(messages)
        == [("SchemaReceived", False)]
        + [("DictionaryReceived", False), ("BatchReceived", False)] * 3
    )
    result = read_table(messages, validate=True)
    assert_same(result, source)
    dictionaries = [chunk.dictionary.to_pylist() for chunk in result.column("color").chunks]
    assert dictionaries == [b.column(0).dictionary.to_pylist() for b in batches]


@pytest.mark.parametrize("writer", ["flightnb", "pyarrow"])
def test_delta_dictionaries(writer: str) -> None:
    batches = dictionary_delta_batches()
    source = pa.Table.from_batches(batches)
    options = pa.ipc.IpcWriteOptions(emit_dictionary_deltas=True)
    if writer == "flightnb":
        messages = flightnb_messages(source, options=options)
    else:
        messages = pyarrow_messages(batches, source.schema, options)
    assert _event_kinds(messages) == [
        ("SchemaReceived", False),
        ("DictionaryReceived", False),
        ("BatchReceived", False),
        ("DictionaryReceived", True),
        ("BatchReceived", False),
        ("DictionaryReceived", True),
        ("BatchReceived", False),
    ]
    result = read_table(messages, validate=True)
    assert_same(result, source)
    assert result.column("color").to_pylist() == source.column("color").to_pylist()


def test_events_carry_schema_and_dictionary_ids() -> None:
    source = pa.Table.from_batches(dictionary_replacement_batches())
    decoder = FlightDataDecoder()
    events = [e for m in flightnb_messages(source) for e in decoder.receive(m)]
    assert isinstance(events[0], SchemaReceived)
    assert events[0].schema.equals(source.schema)
    assert decoder.schema is not None and decoder.schema.equals(source.schema)
    dictionary_events = [e for e in events if isinstance(e, DictionaryReceived)]
    assert {e.dictionary_id for e in dictionary_events} == {0}
    assert sum(isinstance(e, BatchReceived) for e in events) == 3
    end = decoder.end()
    assert end.schema is not None and end.schema.equals(source.schema)


async def _aiter(messages: list[bytes]) -> AsyncIterator[bytes]:
    for message in messages:
        await asyncio.sleep(0)
        yield message


@pytest.mark.parametrize("name", ["dictionaries", "extensions", "unions"])
def test_async_readers(name: str) -> None:
    source = multi_batch(case(name))
    messages = flightnb_messages(source)

    async def main() -> tuple[pa.Table, list[pa.RecordBatch]]:
        table = await read_table_async(_aiter(messages))
        batches = [b async for b in aiter_batches(_aiter(messages))]
        return table, batches

    table, batches = asyncio.run(main())
    assert_same(table, source)
    assert_same(pa.Table.from_batches(batches, schema=source.schema), source)


def _types(data_type: pa.DataType) -> list[pa.DataType]:
    found = [data_type]
    if isinstance(data_type, pa.ExtensionType):
        found += _types(data_type.storage_type)
    elif pa.types.is_dictionary(data_type):
        found += _types(data_type.index_type) + _types(data_type.value_type)
    elif pa.types.is_run_end_encoded(data_type):
        found += _types(data_type.run_end_type) + _types(data_type.value_type)
    else:
        for i in range(data_type.num_fields):
            found += _types(data_type.field(i).type)
    return found


def test_corpus_covers_every_type_family() -> None:
    seen = [t for _, table in CASES for field in table.schema for t in _types(field.type)]
    ids = {t.id for t in seen}
    expected = [
        *(getattr(pa, f"{s}int{b}")() for s in ("", "u") for b in (8, 16, 32, 64)),
        pa.float16(),
        pa.float32(),
        pa.float64(),
        pa.bool_(),
        pa.null(),
        pa.decimal32(7, 2),
        pa.decimal64(15, 3),
        pa.decimal128(38, 10),
        pa.decimal256(76, 20),
        pa.date32(),
        pa.date64(),
        pa.time32("s"),
        pa.time64("ns"),
        pa.timestamp("s"),
        pa.duration("s"),
        pa.month_day_nano_interval(),
        pa.binary(),
        pa.string(),
        pa.large_binary(),
        pa.large_string(),
        pa.binary_view(),
        pa.string_view(),
        pa.binary(5),
        pa.list_(pa.int8()),
        pa.large_list(pa.int8()),
        pa.list_(pa.int8(), 2),
        pa.list_view(pa.int8()),
        pa.large_list_view(pa.int8()),
        pa.struct([]),
        pa.map_(pa.int8(), pa.int8()),
        pa.dense_union([]),
        pa.sparse_union([]),
        pa.dictionary(pa.int8(), pa.string()),
        pa.run_end_encoded(pa.int32(), pa.int8()),
    ]
    missing = [str(t) for t in expected if t.id not in ids]
    assert missing == []
    units = {(t.unit, t.tz) for t in seen if pa.types.is_timestamp(t)}
    assert {u for u, _ in units} == {"s", "ms", "us", "ns"}
    assert {tz for _, tz in units} >= {None, "UTC", "Europe/Paris", "+05:30"}
    assert {t.unit for t in seen if pa.types.is_duration(t)} == {"s", "ms", "us", "ns"}
    extensions = {t.extension_name for t in seen if isinstance(t, pa.BaseExtensionType)}
    assert extensions >= {
        "flightnb.tests.range",
        "arrow.uuid",
        "arrow.json",
        "arrow.bool8",
        "arrow.opaque",
        "arrow.fixed_shape_tensor",
    }


def test_sliced_cases_have_offsets() -> None:
    sliced = [(name, table) for name, table in CASES if name.startswith("sliced/")]
    assert len(sliced) >= 10
    for name, table in sliced:
        for column in table.columns:
            assert all(chunk.offset > 0 for chunk in column.chunks), name

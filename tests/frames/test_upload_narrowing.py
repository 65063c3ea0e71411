"""Uploads narrow large Arrow types (64-bit offsets) to their 32-bit forms where the data fits.

The server here refuses large types in an upload's schema, as Deephaven does ("Schema did
not include deephaven:type metadata for field of type LargeUtf8"): polars frames reach it
only if the upload narrows them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from flight_servers import FlightTestServer

import flightnb
from flightnb.functions.write import PutSummary, write_flight
from flightnb.narrowing import narrow_large_types, narrowed_type

_LARGE = (pa.types.is_large_string, pa.types.is_large_binary, pa.types.is_large_list)


def _has_large(type_: pa.DataType) -> bool:
    if any(test(type_) for test in _LARGE):
        return True
    if pa.types.is_dictionary(type_):
        return _has_large(type_.value_type)
    return any(_has_large(type_.field(i).type) for i in range(type_.num_fields))


class _NoLargeOffsets(FlightTestServer):
    """Refuses an upload whose schema has a large type anywhere."""

    def do_put(self, context: Any, descriptor: Any, reader: Any, writer: Any) -> None:
        for field in reader.schema:
            if _has_large(field.type):
                raise paflight.FlightServerError(f"field {field.name}: large types refused")
        super().do_put(context, descriptor, reader, writer)


@pytest.fixture(scope="module")
def strict_server() -> Iterator[_NoLargeOffsets]:
    with _NoLargeOffsets() as server:
        yield server


def _frame() -> Any:
    return pl.DataFrame(
        {
            "n": [1, 2, 3],
            "s": ["a", None, "ccc"],
            "b": [b"x", b"", None],
            "l": [[1, 2], [], None],
            "ls": [["a"], ["b", "c"], []],
            "st": [{"a": "x"}, {"a": "y"}, None],
            "c": pl.Series(["u", "v", "u"], dtype=pl.Categorical),
        }
    )


def test_a_polars_frame_reaches_a_server_that_refuses_large_types(
    strict_server: _NoLargeOffsets,
) -> None:
    import flightnb.polars  # noqa: F401  (registers df.flight)

    frame = _frame()
    sent = frame.to_arrow()
    assert _has_large(sent.schema.field("s").type)  # what polars exports
    summary = frame.flight.put(strict_server.location, path="narrowed", progress=False)
    assert isinstance(summary, PutSummary) and summary.rows == 3
    assert summary.narrowed == ("s", "b", "l", "ls", "st", "c") and summary.kept_large == ()
    assert "large types sent as 32-bit: s, b, l, ls, st, c" in str(summary)
    stored = strict_server.table("narrowed")
    assert not any(_has_large(field.type) for field in stored.schema)
    assert stored.schema.field("s").type == pa.string()
    assert stored.schema.field("ls").type == pa.list_(pa.string())
    assert stored.to_pylist() == sent.to_pylist()


def test_keep_large_types_sends_them_as_they_are(
    strict_server: _NoLargeOffsets, flight_server: Any
) -> None:
    frame = _frame()
    with pytest.raises(flightnb.FlightServerError, match="large types refused"):
        write_flight(
            strict_server.location, frame, path="kept", progress=False, keep_large_types=True
        )
    summary = write_flight(
        flight_server.location, frame, path="narrow/kept", progress=False, keep_large_types=True
    )
    assert summary.narrowed == () and "32-bit" not in str(summary)
    assert flight_server.uploads["narrow/kept"].equals(frame.to_arrow())


def test_pandas_and_arrow_data_with_32_bit_types_are_sent_unchanged(
    flight_server: Any,
) -> None:
    table = pa.table({"s": ["a", "b"], "l": [[1], [2, 3]]})
    summary = write_flight(flight_server.location, table, path="narrow/plain", progress=False)
    assert summary.narrowed == () and flight_server.uploads["narrow/plain"].equals(table)
    frame = pd.DataFrame({"s": pd.Series(["x", "y"], dtype=pd.ArrowDtype(pa.large_string()))})
    summary = write_flight(flight_server.location, frame, path="narrow/pandas", progress=False)
    assert summary.narrowed == ("s",)
    assert flight_server.uploads["narrow/pandas"].schema.field("s").type == pa.string()


@pytest.mark.parametrize(
    ("large", "narrow"),
    [
        (pa.large_string(), pa.string()),
        (pa.large_binary(), pa.binary()),
        (pa.large_list(pa.int32()), pa.list_(pa.int32())),
        (pa.large_list(pa.large_list(pa.large_string())), pa.list_(pa.list_(pa.string()))),
        (pa.list_(pa.large_binary(), 2), pa.list_(pa.binary(), 2)),
        (pa.map_(pa.large_string(), pa.large_binary()), pa.map_(pa.string(), pa.binary())),
        (pa.struct([("a", pa.large_string())]), pa.struct([("a", pa.string())])),
        (pa.dictionary(pa.int8(), pa.large_string()), pa.dictionary(pa.int8(), pa.string())),
        (pa.int64(), pa.int64()),
        (pa.timestamp("us", "UTC"), pa.timestamp("us", "UTC")),
    ],
)
def test_narrowed_type(large: pa.DataType, narrow: pa.DataType) -> None:
    assert narrowed_type(large) == narrow


def test_field_metadata_and_nullability_survive() -> None:
    field = pa.field("s", pa.large_string(), nullable=False, metadata={b"k": b"v"})
    schema = pa.schema([field], metadata={b"table": b"meta"})
    table = pa.table({"s": pa.array(["a"], pa.large_string())}, schema=schema)
    result = narrow_large_types(table).table
    assert result.schema.field("s").nullable is False
    assert result.schema.field("s").metadata == {b"k": b"v"}
    assert result.schema.metadata == {b"table": b"meta"}


def test_data_too_large_for_32_bit_offsets_stays_large(tmp_path: Path) -> None:
    """A chunk with more than 2 GiB of data cannot be narrowed: it is kept, and said so.

    The 2 GiB buffer is a sparse file mapped into memory: nothing reads it, so it costs
    neither disk nor memory.
    """
    size = (1 << 31) + 10
    path = tmp_path / "sparse.bin"
    with path.open("wb") as handle:
        handle.truncate(size)
    with pa.memory_map(str(path)) as mapped:
        data = mapped.read_buffer(size)
        offsets = pa.array(np.array([0, size - 5, size], dtype=np.int64)).buffers()[1]
        big = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 2, [None, offsets, data])
        table = pa.table({"big": big, "s": pa.array(["a", "b"], pa.large_string())})
        result = narrow_large_types(table)
        assert (result.narrowed, result.kept) == (("s",), ("big",))
        assert result.table.schema.field("big").type == pa.large_binary()
        assert result.table.column("big").chunk(0).buffers()[2].address == data.address
    summary = PutSummary(2, 1, size, 1.0, None, (), narrowed=("s",), kept_large=("big",))
    assert "too large for 32-bit offsets, sent as is: big" in str(summary)

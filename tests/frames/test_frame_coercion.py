"""Data the user passes (uploads, exchanges, parameters, ingest) becomes Arrow in one place."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from frame_tables import buffer_addresses, mixed_table

import flightnb.functions.write as write
import flightnb.sql.parameters as parameters
from flightnb.convert import as_record_batch_reader, as_table, frame_library, preview
from flightnb.errors import FlightArgumentTypeError
from flightnb.narrowing import narrow_large_types

pytestmark = pytest.mark.frames


class _StreamOnly:
    """Something that is neither pyarrow nor a frame, speaking only the Arrow C stream."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.exported = 0

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        self.exported += 1
        return self.table.__arrow_c_stream__(requested_schema)


def test_one_coercion_for_uploads_parameters_and_ingest() -> None:
    assert parameters.as_table is as_table
    assert parameters.as_record_batch_reader is as_record_batch_reader
    table = mixed_table()
    assert write.as_arrow_table(table) is table


def test_arrow_inputs() -> None:
    table = mixed_table()
    assert as_table(table) is table
    batch = table.to_batches()[0]
    assert as_table(batch).to_batches()[0].equals(batch)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    assert as_table(reader).equals(table)
    assert as_table(_StreamOnly(table)).equals(table)


def test_pandas_frames_drop_the_index() -> None:
    frame = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}, index=[10, 20])
    table = as_table(frame)
    assert table.column_names == ["x", "y"]
    assert table.column("x").to_pylist() == [1, 2]


def test_polars_frames_keep_chunks_and_buffers() -> None:
    frame = pl.from_arrow(mixed_table(), rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    table = as_table(frame)
    assert table.column("f").num_chunks == 10
    assert buffer_addresses(table.column("f")) == buffer_addresses(frame.to_arrow().column("f"))
    assert table.schema.field("s").type == pa.large_string()
    lazy = as_table(frame.lazy().filter(pl.col("f") < 10))
    assert lazy.num_rows == 20


def test_unsupported_data_names_its_use() -> None:
    with pytest.raises(FlightArgumentTypeError, match="cannot use a dict as data to upload"):
        write.as_arrow_table({"x": [1]})
    with pytest.raises(FlightArgumentTypeError, match="as statement parameters"):
        parameters.parameters_table({1, 2})
    with pytest.raises(FlightArgumentTypeError, match="cannot use a Series"):
        as_table(pl.Series("x", [1, 2]))


def test_readers_stream_without_reading_everything() -> None:
    table = mixed_table()
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    assert as_record_batch_reader(reader) is reader
    source = _StreamOnly(table)
    streamed = as_record_batch_reader(source)
    assert source.exported == 1
    assert streamed.read_all().equals(table)
    frame_reader = as_record_batch_reader(pl.from_arrow(table, rechunk=False))
    assert len(list(frame_reader)) == 10


def test_frame_library_never_imports() -> None:
    assert frame_library(pd.DataFrame()) == "pandas"
    assert frame_library(pl.DataFrame().lazy()) == "polars"
    assert frame_library(mixed_table()) is None


def test_preview_of_tables_and_frames() -> None:
    table = mixed_table()
    rows, head = preview(table, 3)  # type: ignore[misc]
    assert rows == 5000 and isinstance(head, pd.DataFrame) and len(head) == 3
    rows, head = preview(pl.from_arrow(table), 4)  # type: ignore[misc]
    assert rows == 5000 and isinstance(head, pl.DataFrame) and head.height == 4
    assert preview([1, 2, 3], 2) is None


def test_the_put_of_a_polars_frame_arrives_whole(flight_server: Any) -> None:
    frame = pl.from_arrow(mixed_table(), rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    frame.flight.put(flight_server.location, path=["frames", "upload"], progress=False)
    # The large_string column goes out as string (see flightnb.narrowing).
    sent = narrow_large_types(frame.to_arrow()).table
    assert sent.schema.field("s").type == pa.string()
    assert flight_server.uploads["frames/upload"].equals(sent)


_CONVERSIONS = """
import sys


class Uninstalled:  # makes a library look not installed: importing it raises ImportError
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in sys.argv[1:]:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, Uninstalled)
import pyarrow as pa
from flightnb.convert import as_record_batch_reader, as_table, convert_table
from flightnb.sql.parameters import parameters_table
import flightnb.functions.write
table = pa.Table.from_batches([pa.RecordBatch.from_arrays([pa.array(range(3))], ["n"])])
convert_table(table, "arrow"); as_table(table); as_record_batch_reader(table)
parameters_table({"n": 1}); parameters_table(table)
print("polars" in sys.modules)
if "pandas" not in sys.argv:
    print(type(convert_table(table, "pandas", dtype_backend="pyarrow")).__module__.split(".")[0])
if "polars" not in sys.argv:
    print(type(convert_table(table, "polars")).__module__.split(".")[0])
"""


@pytest.mark.parametrize(
    ("blocked", "expected"),
    [
        ("pandas", ["False", "polars"]),
        ("polars", ["False", "pandas"]),
    ],
)
def test_conversions_need_only_the_library_they_convert_to(
    blocked: str, expected: list[str]
) -> None:
    """With one library impossible to import, Arrow and the other library still convert.

    (pyarrow itself imports pandas when it is installed, so its absence from
    ``sys.modules`` proves nothing; blocking it does.)
    """
    out = subprocess.run(
        [sys.executable, "-c", _CONVERSIONS, blocked], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == expected

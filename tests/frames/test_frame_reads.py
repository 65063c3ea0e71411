"""Reads into polars and pandas keep the received chunks and share the buffers they can.

Every read is from a real server on 127.0.0.1 that sends 10 record batches. What polars and
pandas hold is compared with what flightnb received, buffer address by buffer address:
exporting a polars column back to Arrow hands out the buffers polars holds, so the same
address means polars adopted the received buffer instead of copying it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from frame_tables import BATCHES, buffer_addresses, mixed_table

import flightnb
import flightnb.pandas as fpd
import flightnb.polars as fpl
from flightnb.convert import convert_table, to_pandas, to_polars

pytestmark = pytest.mark.frames

# Types whose Arrow layout polars keeps as it is; strings become polars' own view layout.
ADOPTED = ("i", "f", "b", "t")


def _received(flight_server: Any, ticket: str) -> pa.Table:
    table = flightnb.read_flight(flight_server.location, ticket=ticket, progress=False)
    assert table.column(0).num_chunks == BATCHES
    return table


def test_read_flight_to_polars_keeps_every_batch_as_a_chunk(
    flight_server: Any, mixed_flight: str
) -> None:
    frame = flightnb.read_flight(
        flight_server.location, ticket=mixed_flight, to="polars", progress=False
    )
    assert isinstance(frame, pl.DataFrame)
    assert frame.n_chunks("all") == [BATCHES] * frame.width
    assert frame["i"].chunk_lengths() == [500] * BATCHES
    assert frame.to_arrow().equals(pl.from_arrow(mixed_table(), rechunk=False).to_arrow())


def test_numbers_flight_in_10_batches_is_10_polars_chunks(flight_server: Any) -> None:
    frame = flightnb.read_flight(
        flight_server.location, ticket="batches_of_1000", to="polars", progress=False
    )
    assert frame.n_chunks("all") == [10, 10]
    assert frame["n"].to_list() == list(range(10_000))


def test_polars_adopts_the_received_buffers(flight_server: Any, mixed_flight: str) -> None:
    table = _received(flight_server, mixed_flight)
    frame = convert_table(table, "polars")  # what read_flight(..., to="polars") does
    exported = frame.to_arrow()
    for name in ADOPTED:
        assert buffer_addresses(exported.column(name)) == buffer_addresses(table.column(name)), name
    # Strings are converted to polars' layout: a copy, documented in docs/dataframes.md.
    assert buffer_addresses(exported.column("s")) != buffer_addresses(table.column("s"))


def test_polars_1_buffer_info_points_into_the_received_buffers(
    flight_server: Any, mixed_flight: str
) -> None:
    table = _received(flight_server, mixed_flight)
    frame = to_polars(table)
    chunks = frame["f"].get_chunks()
    if not hasattr(chunks[0], "_get_buffer_info"):
        pytest.skip(f"polars {pl.__version__} has no Series._get_buffer_info")
    received = [chunk.buffers()[1].address for chunk in table.column("f").chunks]
    assert [chunk._get_buffer_info()[0] for chunk in chunks] == received


def test_rechunk_true_is_one_chunk_and_a_copy(flight_server: Any, mixed_flight: str) -> None:
    table = _received(flight_server, mixed_flight)
    frame = to_polars(table, rechunk=True)
    assert frame.n_chunks("all") == [1] * frame.width
    received = {a for chunk in buffer_addresses(table.column("f")) for a in chunk}
    assert frame.to_arrow().column("f").chunk(0).buffers()[1].address not in received
    via_reader = fpl.read_flight(
        flight_server.location, ticket=mixed_flight, rechunk=True, progress=False
    )
    assert via_reader.n_chunks("all") == [1] * frame.width
    assert via_reader.equals(frame)


def test_polars_reader_keeps_chunks_by_default(flight_server: Any, mixed_flight: str) -> None:
    frame = fpl.read_flight(flight_server.location, ticket=mixed_flight, progress=False)
    assert frame.n_chunks("all") == [BATCHES] * frame.width
    frame_async = asyncio.run(
        fpl.read_flight_async(flight_server.location, ticket=mixed_flight, progress=False)
    )
    assert frame_async.n_chunks("all") == [BATCHES] * frame.width


def test_pandas_pyarrow_backend_holds_the_received_chunks(
    flight_server: Any, mixed_flight: str
) -> None:
    table = _received(flight_server, mixed_flight)
    frame = to_pandas(table, dtype_backend="pyarrow")
    for name in table.column_names:
        assert isinstance(frame[name].dtype, pd.ArrowDtype), name
        held = frame[name].array.__arrow_array__()
        assert held.num_chunks == BATCHES, name
        assert buffer_addresses(held) == buffer_addresses(table.column(name)), name
    read = fpd.read_flight(
        flight_server.location, ticket=mixed_flight, dtype_backend="pyarrow", progress=False
    )
    assert read["i"].array.__arrow_array__().num_chunks == BATCHES
    assert read.equals(frame)


def test_pandas_numpy_nullable_backend(flight_server: Any, mixed_flight: str) -> None:
    frame = fpd.read_flight(
        flight_server.location, ticket=mixed_flight, dtype_backend="numpy_nullable", progress=False
    )
    dtypes = {name: str(dtype) for name, dtype in frame.dtypes.items()}
    assert dtypes["i"] == "Int64" and dtypes["f"] == "Float64" and dtypes["b"] == "boolean"
    assert dtypes["s"].startswith("string")
    assert dtypes["t"].startswith("datetime64")  # no nullable type: NumPy's
    assert frame["i"].isna().sum() == mixed_table().column("i").null_count
    assert frame["i"].iloc[0] is pd.NA


def test_pandas_numpy_backend_is_table_to_pandas(flight_server: Any, mixed_flight: str) -> None:
    frame = fpd.read_flight(flight_server.location, ticket=mixed_flight, progress=False)
    expected = mixed_table().to_pandas()
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["i"].dtype == "float64"  # NumPy has no integer null: as to_pandas() does
    default = flightnb.read_flight(
        flight_server.location, ticket=mixed_flight, to="pandas", progress=False
    )
    pd.testing.assert_frame_equal(default, expected)


def test_to_pandas_options_are_passed_on(flight_server: Any, mixed_flight: str) -> None:
    frame = fpd.read_flight(
        flight_server.location,
        ticket=mixed_flight,
        to_pandas_options={"types_mapper": {pa.int64(): pd.Int32Dtype()}.get},
        progress=False,
    )
    assert str(frame["i"].dtype) == "Int32"


def test_empty_flight_converts_to_empty_frames(flight_server: Any) -> None:
    location = flight_server.location
    polars_frame = flightnb.read_flight(location, ticket="empty", to="polars", progress=False)
    assert polars_frame.shape == (0, 2) and polars_frame.columns == ["n", "s"]
    pandas_frame = fpd.read_flight(
        location, ticket="empty", dtype_backend="pyarrow", progress=False
    )
    assert pandas_frame.shape == (0, 2)

"""flightnb.pandas / flightnb.polars helpers and the DataFrame.flight accessors."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa

import flightnb.pandas as fpd
import flightnb.polars as fpl
from flightnb.narrowing import narrow_large_types


def test_pandas_read_with_dtype_backends(flight_server: Any) -> None:
    location = flight_server.location
    numpy_frame = fpd.read_flight(location, ticket="numbers", progress=False)
    assert numpy_frame["n"].dtype == "int64"
    arrow_frame = fpd.read_flight(
        location, ticket="numbers", dtype_backend="pyarrow", progress=False
    )
    assert isinstance(arrow_frame["n"].dtype, pd.ArrowDtype)
    nullable = fpd.read_flight(
        location, ticket="numbers", dtype_backend="numpy_nullable", progress=False
    )
    assert str(nullable["n"].dtype) == "Int64" and str(nullable["s"].dtype).startswith("string")
    assert (
        numpy_frame.equals(nullable.astype({"n": "int64", "s": object})) or len(nullable) == 10_000
    )


def test_polars_read_is_zero_copy(flight_server: Any) -> None:
    table = flightnb_table = flight_server.table("numbers")
    frame = fpl.read_flight(flight_server.location, ticket="numbers", progress=False)
    assert isinstance(frame, pl.DataFrame)
    assert frame.to_arrow().column("n").to_pylist() == flightnb_table.column("n").to_pylist()
    assert frame.shape == (table.num_rows, table.num_columns)


def test_pandas_accessor_put_and_exchange(flight_server: Any) -> None:
    frame = pd.DataFrame({"a": range(1000), "b": [f"x{i}" for i in range(1000)]})
    frame.flight.put(flight_server.location, path=["accessor", "pandas"], progress=False)
    stored = flight_server.uploads["accessor/pandas"]
    # pandas' pyarrow strings are large_string: they go out as string (flightnb.narrowing).
    assert stored.equals(
        narrow_large_types(pa.Table.from_pandas(frame, preserve_index=False)).table
    )
    echoed = frame.flight.exchange(flight_server.location, path="echo")
    assert isinstance(echoed, pd.DataFrame) and echoed.equals(frame)


def test_polars_namespace_put_and_exchange(flight_server: Any) -> None:
    frame = pl.DataFrame({"a": list(range(500)), "b": [1.5] * 500})
    frame.flight.put(flight_server.location, path=["accessor", "polars"], progress=False)
    assert flight_server.uploads["accessor/polars"].equals(frame.to_arrow())
    echoed = frame.flight.exchange(flight_server.location, path="echo")
    assert isinstance(echoed, pl.DataFrame) and echoed.equals(frame)


def test_registration_is_lazy() -> None:
    code = (
        "import sys, flightnb; import pandas as pd; "
        "print(hasattr(pd.DataFrame, 'flight')); import flightnb.pandas; "
        "print(hasattr(pd.DataFrame, 'flight'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_returning_a_frame_registers_its_accessor(flight_server: Any) -> None:
    code = (
        "import sys, flightnb; import polars as pl; "
        f"df = flightnb.read_flight({flight_server.location!r}, ticket='ints', to='polars', "
        "progress=False); print(hasattr(df, 'flight'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"

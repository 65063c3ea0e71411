"""The SQL client's pure parts: parameter conversion, SqlInfo decoding, imports. No sockets."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from flightnb import FlightArgumentError, FlightArgumentTypeError
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.server.sql_info import Int32, sql_info_table
from flightnb.sql import SqlInfoValues, decode_sql_info, parameters_table, table_schemas
from flightnb.sql.parameters import as_record_batch_reader

NAMED = pa.schema([("city", pa.null()), ("n", pa.null())])
TYPED = pa.schema([("1", pa.int16()), ("2", pa.string())])


def test_parameters_positional() -> None:
    assert parameters_table(None) is None
    table = parameters_table([1, "a", None])
    assert table.column_names == ["1", "2", "3"]
    assert table.to_pylist() == [{"1": 1, "2": "a", "3": None}]
    assert parameters_table((Decimal("1.5"),)).schema.field(0).type == pa.decimal128(2, 1)
    with pytest.raises(FlightArgumentError, match="takes 2 parameter"):
        parameters_table([1], TYPED)


def test_parameters_use_declared_types_when_safe() -> None:
    table = parameters_table([7, "x"], TYPED)
    assert table.schema == TYPED
    # 100000 does not fit an int16: the value keeps its own type for the server to judge.
    assert parameters_table([100_000, "x"], TYPED).schema.field("1").type == pa.int64()


def test_parameters_named_follow_schema_order() -> None:
    table = parameters_table({"$n": 3, ":city": "Oslo"}, NAMED)
    assert table.column_names == ["city", "n"]
    assert table.to_pylist() == [{"city": "Oslo", "n": 3}]
    with pytest.raises(FlightArgumentError, match="missing n"):
        parameters_table({"city": "Oslo"}, NAMED)
    # Without a schema (or a positional one) the dict's order is the order.
    assert parameters_table({"b": 1, "a": 2}).column_names == ["b", "a"]
    assert parameters_table({"b": 1, "a": 2}, TYPED).column_names == ["b", "a"]
    assert parameters_table({"2": "x", "1": 5}, TYPED).schema == TYPED


def test_parameters_nested_and_temporal_values() -> None:
    when = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    table = parameters_table([when, [1, 2], {"a": 1}, pa.scalar(5, pa.int8())])
    assert table.schema.types == [
        pa.timestamp("us", tz="UTC"),
        pa.list_(pa.int64()),
        pa.struct([("a", pa.int64())]),
        pa.int8(),
    ]
    with pytest.raises(FlightArgumentTypeError, match="cannot convert object"):
        parameters_table([object()])


def test_parameters_tables_and_frames() -> None:
    batch = pa.record_batch({"x": [1, 2]})
    assert parameters_table(batch).num_rows == 2
    assert parameters_table(pa.Table.from_batches([batch])).num_rows == 2
    assert parameters_table(pd.DataFrame({"x": [1]}, index=[5])).column_names == ["x"]
    assert parameters_table(pl.DataFrame({"x": [1]}).lazy()).num_rows == 1


def test_ingest_readers_stream() -> None:
    batches = [pa.record_batch({"x": [i]}) for i in range(3)]
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, batches)
    assert as_record_batch_reader(reader) is reader
    assert as_record_batch_reader(batches[0]).read_all().num_rows == 1
    assert as_record_batch_reader(pa.Table.from_batches(batches)).read_all().num_rows == 3


def test_sql_info_values_decode_and_look_up() -> None:
    table = sql_info_table(
        {
            sql.FLIGHT_SQL_SERVER_NAME: "demo",
            sql.FLIGHT_SQL_SERVER_READ_ONLY: True,
            sql.SQL_MAX_STATEMENT_LENGTH: 42,
            sql.SQL_NULL_ORDERING: Int32(sql.SQL_NULLS_SORTED_AT_END),
            sql.SQL_KEYWORDS: ["a", "b"],
            sql.SQL_SUPPORTS_CONVERT: {1: [2, 3]},
            10_001: "vendor specific",
        }
    )
    info = decode_sql_info(table)
    assert isinstance(info, SqlInfoValues)
    assert dict(info) == {
        "FLIGHT_SQL_SERVER_NAME": "demo",
        "FLIGHT_SQL_SERVER_READ_ONLY": True,
        "SQL_MAX_STATEMENT_LENGTH": 42,
        "SQL_NULL_ORDERING": sql.SQL_NULLS_SORTED_AT_END,
        "SQL_KEYWORDS": ["a", "b"],
        "SQL_SUPPORTS_CONVERT": {1: [2, 3]},
        10_001: "vendor specific",
    }
    assert info[sql.FLIGHT_SQL_SERVER_NAME] == info["flight_sql_server_name"] == "demo"
    assert sql.SQL_KEYWORDS in info and "SQL_KEYWORDS" in info and 7 not in info
    with pytest.raises(KeyError):
        info["SQL_DDL_TABLE"]


def test_table_schemas_decodes_ipc() -> None:
    schema = pa.schema([("a", pa.int32())])
    tables = pa.table(
        {
            "catalog_name": ["c"],
            "db_schema_name": [None],
            "table_name": ["t"],
            "table_type": ["TABLE"],
            "table_schema": [schema.serialize().to_pybytes()],
        }
    )
    assert table_schemas(tables) == {("c", None, "t"): schema}


def test_sql_client_imports_neither_pyarrow_flight_nor_duckdb() -> None:
    code = (
        "import sys, flightnb, flightnb.sql; "
        "print(sorted(m for m in ('pyarrow.flight', 'duckdb', 'pandas', 'polars') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

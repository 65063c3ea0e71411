"""Socket-free tests of the server's building blocks: commands, SqlInfo, metadata, sample data."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from google.protobuf import any_pb2

from flightnb._proto import Flight_pb2
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.protocol import commands
from flightnb.server import metadata
from flightnb.server.errors import ServerError
from flightnb.server.sample_data import load_sample_data, trips_table
from flightnb.server.sql_info import SQL_INFO_SCHEMA, Int32, sql_info_table
from flightnb.server.state import parameter_names, parameter_rows


def test_public_names() -> None:
    import flightnb.server

    assert flightnb.server.__all__ == ["FlightSqlServer", "serve"]


def test_pack_unpack_round_trip() -> None:
    command = sql.CommandStatementQuery(query="SELECT 1", transaction_id=b"tx")
    data = commands.pack(command)
    wrapper = any_pb2.Any.FromString(data)
    assert wrapper.type_url == "type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery"
    assert commands.unpack(data) == command
    assert commands.unpack_as(data, sql.CommandStatementQuery).query == "SELECT 1"


def test_any_pack_agrees_with_helpers() -> None:
    # Classes from the private descriptor pool work with protobuf's own Any.Pack/Unpack.
    wrapper = any_pb2.Any()
    wrapper.Pack(sql.CommandGetTables(include_schema=True))
    assert commands.unpack(wrapper.SerializeToString()).include_schema
    out = sql.CommandGetTables()
    assert any_pb2.Any.FromString(commands.pack(sql.CommandGetTables(include_schema=True))).Unpack(
        out
    )
    assert out.include_schema


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"", commands.pack(Flight_pb2.Empty())])
def test_unpack_rejects_non_flight_sql(data: bytes) -> None:
    with pytest.raises(commands.CommandDecodeError):
        commands.unpack(data)


def test_unpack_as_checks_the_type() -> None:
    with pytest.raises(commands.CommandDecodeError, match="expected CommandStatementUpdate"):
        commands.unpack_as(commands.pack(sql.CommandGetCatalogs()), sql.CommandStatementUpdate)


def test_field_numbers_follow_the_spec() -> None:
    fields = {f.name: f.number for f in sql.CommandStatementIngest.DESCRIPTOR.fields}
    assert fields == {
        "table_definition_options": 1,
        "table": 2,
        "schema": 3,
        "catalog": 4,
        "temporary": 5,
        "transaction_id": 6,
        "options": 1000,
    }
    assert sql.SqlInfo.Value("SQL_STORED_FUNCTIONS_USING_CALL_SYNTAX_SUPPORTED") == 576
    assert sql.XdbcDataType.Value("XDBC_WVARCHAR") == -9
    assert sql.DoPutPreparedStatementResult.DESCRIPTOR.fields[0].has_presence


def test_sql_info_union_members() -> None:
    values = {0: "name", 3: True, 100: Int32(7), 541: 42, 508: ["a", "b"], 517: {1: [2, 3]}}
    table = sql_info_table(values)
    assert table.schema == SQL_INFO_SCHEMA
    table.validate(full=True)
    union = table.column("value").combine_chunks()
    assert union.type_codes.to_pylist() == [0, 1, 3, 4, 5, 2]  # codes 0, 3, 100, 508, 517, 541
    assert table.to_pylist()[-1] == {"info_name": 541, "value": 42}


def test_sql_info_filters_and_skips_unknown_codes() -> None:
    table = sql_info_table({0: "x", 1: "y"}, [1, 999])
    assert table.to_pylist() == [{"info_name": 1, "value": "y"}]


def test_parameter_names_and_rows() -> None:
    con = duckdb.connect()
    try:
        assert parameter_names(con, "SELECT ?, ?") == ["1", "2"]
        assert parameter_names(con, "SELECT $10, $2") == ["2", "10"]
        assert parameter_names(con, "SELECT $b, $a") == ["a", "b"]
    finally:
        con.close()
    bound = pa.table({"x": [1, 2], "y": ["a", None]})
    assert parameter_rows(["1", "2"], bound) == [[1, "a"], [2, None]]
    assert parameter_rows(["y"], bound) == [{"y": "a"}, {"y": None}]
    assert parameter_rows([], None) == [None]
    with pytest.raises(ServerError, match="none were bound"):
        parameter_rows(["1"], None)
    with pytest.raises(ServerError, match="3 column"):
        parameter_rows(["1"], pa.table({"a": [1], "b": [1], "c": [1]}))


def test_sample_data_is_deterministic() -> None:
    assert trips_table(300, seed=5).equals(trips_table(300, seed=5))
    assert not trips_table(300, seed=5).equals(trips_table(300, seed=6))


def test_sample_data_tables_and_keys() -> None:
    con = duckdb.connect()
    try:
        load_sample_data(con, 500, stations=20)
        assert con.execute("SELECT count(*) FROM trips").fetchall() == [(500,)]
        keys = metadata.imported_keys_table(con, sql.CommandGetImportedKeys(table="trips"))
        assert keys.schema == metadata.KEYS_SCHEMA
        assert sorted(keys.column("fk_column_name").to_pylist()) == [
            "end_station_id",
            "start_station_id",
        ]
        assert set(keys.column("pk_table_name").to_pylist()) == {"stations"}
        pk = metadata.primary_keys_table(con, sql.CommandGetPrimaryKeys(table="stations"))
        assert pk.to_pylist()[0]["column_name"] == "station_id"
        types = metadata.xdbc_type_info_table(sql.CommandGetXdbcTypeInfo())
        assert types.schema == metadata.XDBC_TYPE_INFO_SCHEMA
        assert types.column("data_type").to_pylist() == sorted(
            types.column("data_type").to_pylist()
        )
    finally:
        con.close()

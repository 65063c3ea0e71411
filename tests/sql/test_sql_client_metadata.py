"""Metadata calls: checked against ADBC where it has the call, else against pyarrow.flight.

ADBC exposes SqlInfo, catalogs, schemas, tables, table types and table schemas; for keys and
XDBC type info the independent client is pyarrow's own Flight client sending the same packed
command.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from bearer import pyarrow_client
from google.protobuf.message import Message

from flightnb import FlightSqlClient
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.protocol.commands import pack
from flightnb.server import FlightSqlServer
from flightnb.sql import table_schemas


@pytest.fixture
def raw(sql_server: FlightSqlServer) -> Iterator[flight.FlightClient]:
    client = pyarrow_client(sql_server)
    try:
        yield client
    finally:
        client.close()


def _raw_read(client: flight.FlightClient, command: Message) -> pa.Table:
    info = client.get_flight_info(flight.FlightDescriptor.for_command(pack(command)))
    return pa.concat_tables(client.do_get(e.ticket).read_all() for e in info.endpoints)


def test_sql_info_matches_adbc(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    info = sql_client.get_sql_info()
    adbc_info = adbc_conn.adbc_get_info()
    assert info["FLIGHT_SQL_SERVER_NAME"] == adbc_info["vendor_name"]
    assert info["FLIGHT_SQL_SERVER_VERSION"] == adbc_info["vendor_version"]
    assert info["FLIGHT_SQL_SERVER_ARROW_VERSION"] == adbc_info["vendor_arrow_version"]
    # Every union member decodes to its Python type; numeric keys work too.
    assert info[sql.FLIGHT_SQL_SERVER_READ_ONLY] is False
    assert info["FLIGHT_SQL_SERVER_TRANSACTION"] == sql.SQL_SUPPORTED_TRANSACTION_TRANSACTION
    assert info["SQL_MAX_COLUMN_NAME_LENGTH"] == 0
    assert "select" in info["SQL_KEYWORDS"]
    convert = info["SQL_SUPPORTS_CONVERT"]
    assert isinstance(convert, dict)
    assert sql.SQL_CONVERT_VARCHAR in convert[sql.SQL_CONVERT_BIGINT]
    assert info.get("NO_SUCH_NAME") is None and info.get(999_999) is None


def test_sql_info_subset(sql_client: FlightSqlClient, raw: flight.FlightClient) -> None:
    subset = sql_client.get_sql_info(["FLIGHT_SQL_SERVER_NAME", sql.SQL_IDENTIFIER_QUOTE_CHAR])
    assert dict(subset) == {
        "FLIGHT_SQL_SERVER_NAME": "flightnb DuckDB Flight SQL server",
        "SQL_IDENTIFIER_QUOTE_CHAR": '"',
    }
    assert list(sql_client.get_sql_info(0)) == ["FLIGHT_SQL_SERVER_NAME"]
    full = _raw_read(raw, sql.CommandGetSqlInfo())
    assert len(sql_client.get_sql_info()) == full.num_rows


def test_catalogs_and_schemas_match_adbc(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    objects = adbc_conn.adbc_get_objects(depth="db_schemas").read_all().to_pylist()
    catalogs = sql_client.get_catalogs()
    assert catalogs.column("catalog_name").to_pylist() == [o["catalog_name"] for o in objects]
    schemas = sql_client.get_db_schemas()
    expected = sorted(
        (o["catalog_name"], s["db_schema_name"])
        for o in objects
        for s in o["catalog_db_schemas"] or ()
    )
    assert (
        sorted(
            zip(
                schemas.column("catalog_name").to_pylist(),
                schemas.column("db_schema_name").to_pylist(),
                strict=True,
            )
        )
        == expected
    )
    main_only = sql_client.get_db_schemas(catalog="memory", db_schema_filter_pattern="ma%")
    assert main_only.to_pylist() == [{"catalog_name": "memory", "db_schema_name": "main"}]


def test_tables_match_adbc(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    tables = sql_client.get_tables(table_name_filter_pattern="%t%")
    objects = adbc_conn.adbc_get_objects(depth="tables", table_name_filter="%t%")
    expected = sorted(
        (c["catalog_name"], s["db_schema_name"], t["table_name"], t["table_type"])
        for c in objects.read_all().to_pylist()
        for s in c["catalog_db_schemas"] or ()
        for t in s["db_schema_tables"] or ()
    )
    got = sorted(tuple(row.values()) for row in tables.to_pylist())
    assert got == expected
    assert ("memory", "main", "trips", "TABLE") in got
    views = sql_client.get_tables(table_types=["VIEW"], table_name_filter_pattern="trips")
    assert views.num_rows == 0


def test_table_schemas_match_adbc(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    tables = sql_client.get_tables(
        catalog="memory",
        db_schema_filter_pattern="main",
        table_name_filter_pattern="st_tions",
        include_schema=True,
    )
    assert tables.column_names[-1] == "table_schema"
    schemas = table_schemas(tables)
    assert list(schemas) == [("memory", "main", "stations")]
    assert schemas["memory", "main", "stations"] == adbc_conn.adbc_get_table_schema("stations")
    with pytest.raises(Exception, match="include_schema=True"):
        table_schemas(sql_client.get_tables())


def test_table_types_match_adbc(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    types = sql_client.get_table_types()
    assert types.column("table_type").to_pylist() == adbc_conn.adbc_get_table_types()


def test_keys_match_raw_flight(sql_client: FlightSqlClient, raw: flight.FlightClient) -> None:
    primary = sql_client.get_primary_keys("trips", catalog="memory", db_schema="main")
    assert primary.equals(
        _raw_read(raw, sql.CommandGetPrimaryKeys(catalog="memory", db_schema="main", table="trips"))
    )
    assert primary.column("column_name").to_pylist() == ["trip_id"]

    exported = sql_client.get_exported_keys("stations")
    assert exported.equals(_raw_read(raw, sql.CommandGetExportedKeys(table="stations")))
    assert sorted(exported.column("fk_column_name").to_pylist()) == [
        "end_station_id",
        "start_station_id",
    ]

    imported = sql_client.get_imported_keys("trips", db_schema="main")
    assert imported.equals(
        _raw_read(raw, sql.CommandGetImportedKeys(db_schema="main", table="trips"))
    )
    assert set(imported.column("pk_table_name").to_pylist()) == {"stations"}

    cross = sql_client.get_cross_reference("stations", "trips")
    assert cross.equals(
        _raw_read(raw, sql.CommandGetCrossReference(pk_table="stations", fk_table="trips"))
    )
    assert cross.num_rows == 2
    assert sql_client.get_cross_reference("trips", "stations").num_rows == 0


def test_xdbc_type_info_matches_raw_flight(
    sql_client: FlightSqlClient, raw: flight.FlightClient
) -> None:
    everything = sql_client.get_xdbc_type_info()
    assert everything.equals(_raw_read(raw, sql.CommandGetXdbcTypeInfo()))
    assert "VARCHAR" in everything.column("type_name").to_pylist()
    integers = sql_client.get_xdbc_type_info(sql.XDBC_INTEGER)
    assert integers.num_rows >= 1
    assert set(integers.column("data_type").to_pylist()) == {sql.XDBC_INTEGER}

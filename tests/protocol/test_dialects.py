"""One identifier quoting per dialect, used by the scan, Dask and the embedded server."""

from __future__ import annotations

import secrets

import pyarrow as pa
import pytest

from flightnb import FlightSqlClient
from flightnb.protocol.dialects import DUCKDB, GENERIC, dialect_for, quote_identifier
from flightnb.server import FlightSqlServer


@pytest.mark.parametrize(
    ("server_name", "dialect", "quoted"),
    [
        ("flightnb DuckDB Flight SQL server", "duckdb", '"we""ird"'),
        ("PostgreSQL 16", "postgres", '"we""ird"'),
        ("MySQL 8.0", "mysql", '`we"ird`'),
        ("Apache Spark", "spark", '`we"ird`'),
        ("roapi", "datafusion", '"we""ird"'),
        ("deephaven-core", "deephaven", '"we""ird"'),
        (None, "generic", '"we""ird"'),
        ("some new server", "generic", '"we""ird"'),
    ],
)
def test_each_server_name_has_its_dialect_and_quoting(
    server_name: str | None, dialect: str, quoted: str
) -> None:
    found = dialect_for(server_name)
    assert found.name == dialect
    assert quote_identifier('we"ird', found) == quoted


def test_the_quote_character_is_doubled_inside_a_name() -> None:
    mysql = dialect_for("MySQL")
    assert quote_identifier("a`b``c", mysql) == "`a``b````c`"
    assert quote_identifier('a"b', GENERIC) == '"a""b"'


def test_the_embedded_server_names_itself_as_duckdb() -> None:
    # The server quotes for DUCKDB; clients must take it for the same dialect.
    token = secrets.token_urlsafe(16)
    server = FlightSqlServer(sample_size=None, token=token)
    try:
        with FlightSqlClient(server.location, token=token) as client:
            name = client.get_sql_info(["FLIGHT_SQL_SERVER_NAME"])["FLIGHT_SQL_SERVER_NAME"]
    finally:
        server.shutdown()
    assert isinstance(name, str)
    assert dialect_for(name) is DUCKDB


def test_the_server_quotes_names_it_reads_back_from_its_catalog() -> None:
    token = secrets.token_urlsafe(16)
    server = FlightSqlServer(sample_size=None, token=token)
    try:
        with FlightSqlClient(server.location, token=token) as client:
            client.ingest('we"ird.table', pa.table({"x": [1, 2]}))
            tables = client.get_tables(table_name_filter_pattern="we%", include_schema=True)
            read = client.query('SELECT sum(x) AS n FROM "we""ird.table"')
    finally:
        server.shutdown()
    assert tables.column("table_name").to_pylist() == ['we"ird.table']
    schema = pa.ipc.read_schema(pa.py_buffer(tables.column("table_schema")[0].as_py()))
    assert schema.names == ["x"]
    assert read.column("n").to_pylist() == [3]

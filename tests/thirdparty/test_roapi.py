"""Every feature roapi supports, used as its users would call flightnb, checked against ADBC.

roapi 0.12.7 speaks Flight SQL only (see :mod:`thirdparty_servers`): each query's result is
compared with what ADBC's Flight SQL driver reads from the same server, and metadata with
pyarrow.flight's reading of the same command. What roapi does not do (plain Flight reads,
uploads, parameter binding, some metadata) is checked to fail in one typed line, as
pyarrow.flight fails too, or to take flightnb's fallback: a lazy scan writes its filter
values as SQL literals, since roapi cannot bind them.

Rows come in the order of DataFusion's parallel scan, so queries say ``ORDER BY`` or results
are sorted before comparing.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
import pytest
from google.protobuf import any_pb2
from thirdparty_servers import statement_command

import flightnb
import flightnb.pandas
import flightnb.polars as fp
from flightnb._proto import FlightSql_pb2
from flightnb.errors import (
    FlightCapabilityError,
    FlightInvalidArgumentError,
    FlightNotImplementedError,
)
from flightnb.sql import FlightSqlClient
from flightnb.sql.capabilities import capabilities_of

TRIPS = "SELECT * FROM trips ORDER BY trip_id"


@pytest.fixture(autouse=True)
def narrowed_queries_are_answered(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """roapi answers every query a scan narrows: no scan falls back to the query as written."""
    yield
    assert not [r.getMessage() for r in caplog.get_records("call") if r.name == "flightnb.scan"]


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text, text
    return text


# --- reads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [TRIPS, "SELECT * FROM zones ORDER BY zone_id"])
def test_sql_reads_as_arrow_equal_adbc_and_the_data_served(roapi_server, query):
    got = flightnb.read_flight(roapi_server.location, sql=query, progress=False)
    expected = roapi_server.adbc_query(query)
    assert got.equals(expected)
    if "trips" in query:
        assert got.equals(roapi_server.tables["trips"])


def test_sql_reads_as_pandas_polars_and_reader(roapi_server):
    expected = roapi_server.adbc_query(TRIPS)
    frame = flightnb.read_flight(roapi_server.location, sql=TRIPS, to="pandas", progress=False)
    pd.testing.assert_frame_equal(frame, expected.to_pandas())
    polars_frame = flightnb.read_flight(
        roapi_server.location, sql=TRIPS, to="polars", progress=False
    )
    assert polars_frame.equals(pl.from_arrow(expected))
    reader = flightnb.read_flight(roapi_server.location, sql=TRIPS, to="reader")
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.read_all().equals(expected)


def test_open_flight_streams_the_query(roapi_server):
    expected = roapi_server.adbc_query(TRIPS)
    with flightnb.open_flight(roapi_server.location, sql=TRIPS) as reader:
        batches = list(reader)
    assert pa.Table.from_batches(batches, expected.schema).equals(expected)


def test_a_query_streams_into_parquet(roapi_server, tmp_path):
    summary = flightnb.write_parquet(
        roapi_server.location, tmp_path / "trips.parquet", sql=TRIPS, progress=False
    )
    assert summary.rows == roapi_server.tables["trips"].num_rows
    assert pq.read_table(tmp_path / "trips.parquet").equals(roapi_server.adbc_query(TRIPS))


def test_a_statement_ticket_reads_as_pyarrow_reads_one(roapi_server):
    # roapi's tickets name a result kept for one DoGet: each reader plans its own.
    with FlightSqlClient(roapi_server.location) as client:
        info = client.execute(TRIPS)
        (endpoint,) = info.endpoints
        got = flightnb.read_flight(client, ticket=endpoint.ticket, progress=False)
    descriptor = flight.FlightDescriptor.for_command(statement_command(TRIPS))
    with roapi_server.flight_client() as reference:
        (planned,) = reference.get_flight_info(descriptor).endpoints
        expected = reference.do_get(planned.ticket).read_all()
    assert got.equals(expected)
    assert got.equals(roapi_server.adbc_query(TRIPS))


def test_plain_flight_is_refused_in_one_typed_line_as_pyarrow_sees_it(roapi_server):
    with pytest.raises(FlightNotImplementedError) as by_path:
        flightnb.read_flight(roapi_server.location, path="trips", progress=False)
    with pytest.raises(FlightInvalidArgumentError) as by_ticket:
        flightnb.read_flight(roapi_server.location, ticket=b"trips", progress=False)
    one_line(by_path.value), one_line(by_ticket.value)
    with roapi_server.flight_client() as reference:
        with pytest.raises(pa.ArrowNotImplementedError):
            reference.get_flight_info(flight.FlightDescriptor.for_path("trips"))
        with pytest.raises(pa.ArrowInvalid):
            reference.do_get(flight.Ticket(b"trips")).read_all()


# --- Flight SQL: queries and metadata -----------------------------------------------------


def _reference_metadata(server: Any, command: Any) -> pa.Table:
    """pyarrow.flight's read of a Flight SQL metadata command."""
    packed = any_pb2.Any()
    packed.Pack(command)
    descriptor = flight.FlightDescriptor.for_command(packed.SerializeToString())
    with server.flight_client() as client:
        info = client.get_flight_info(descriptor)
        return pa.concat_tables(
            client.do_get(endpoint.ticket).read_all() for endpoint in info.endpoints
        )


def test_metadata_equals_pyarrow_flights_reading(roapi_server):
    with FlightSqlClient(roapi_server.location) as client:
        catalogs = client.get_catalogs()
        schemas = client.get_db_schemas()
        tables = client.get_tables(include_schema=True)
        info = client.get_sql_info()
    reference = _reference_metadata
    assert catalogs.equals(reference(roapi_server, FlightSql_pb2.CommandGetCatalogs()))
    assert schemas.equals(reference(roapi_server, FlightSql_pb2.CommandGetDbSchemas()))
    command = FlightSql_pb2.CommandGetTables(include_schema=True)
    assert tables.equals(reference(roapi_server, command))
    assert sorted(tables.column("table_name").to_pylist()) == ["trips", "zones"]
    assert info["FLIGHT_SQL_SERVER_NAME"] == "RoAPI Flight SQL Server"
    with roapi_server.adbc_connect() as conn:
        assert conn.adbc_get_info()["vendor_name"] == info["FLIGHT_SQL_SERVER_NAME"]
        trips_schema = conn.adbc_get_table_schema("trips")
    served = flightnb.sql.table_schemas(tables)
    assert served[("roapi", "public", "trips")].equals(trips_schema)


def test_prepared_statements_without_parameters(roapi_server):
    with FlightSqlClient(roapi_server.location) as client:
        with client.prepare(TRIPS) as statement:
            assert statement.dataset_schema.equals(roapi_server.tables["trips"].schema)
            got = statement.query()
    assert got.equals(roapi_server.adbc_query(TRIPS))


@pytest.mark.parametrize(
    "call",
    ["get_table_types", "get_primary_keys", "get_xdbc_type_info", "begin_transaction", "ingest"],
)
def test_what_roapi_lacks_fails_in_one_typed_line(roapi_server, call):
    arguments: dict[str, tuple[Any, ...]] = {
        "get_primary_keys": ("trips",),
        "ingest": ("uploaded", pa.table({"a": [1]})),
    }
    with FlightSqlClient(roapi_server.location) as client:
        with pytest.raises(FlightNotImplementedError) as raised:
            result = getattr(client, call)(*arguments.get(call, ()))
            if call == "begin_transaction":
                result.rollback()
    one_line(raised.value)


def test_parameters_fail_in_one_line_naming_the_capability(roapi_server):
    query = "SELECT * FROM trips WHERE trip_id < ?"
    with pytest.raises(FlightCapabilityError) as raised:
        flightnb.read_flight(roapi_server.location, sql=query, parameters=[3], progress=False)
    text = one_line(raised.value)
    assert text.startswith("this server does not support parameter binding")
    assert "do_put_prepared_statement_query not implemented" in text
    # ADBC fails on the same server for the same reason.
    with roapi_server.adbc_connect() as conn, conn.cursor() as cursor:
        with pytest.raises(Exception, match="do_put_prepared_statement_query"):
            cursor.execute(query, parameters=(3,))
            cursor.fetch_arrow_table()


# --- lazy scans ----------------------------------------------------------------------------

PREDICATES = {
    "int": pl.col("passengers") >= 3,
    "int_in": pl.col("trip_id").is_in([1, 2, 3, 4999, 7000]),
    "between": pl.col("trip_id").is_between(100, 250),
    "float_stays_local": pl.col("fare") > 30.5,
    "string_quote": pl.col("vendor") == "o'hare",
    "strings_in": pl.col("vendor").is_in(["zoë", "", "Acme"]),
    "string_wildcards": pl.col("vendor").str.starts_with("50%_"),
    "string_ne_local": pl.col("vendor") != "acme",
    "bool": pl.col("paid"),
    "not_bool": ~pl.col("paid"),
    "is_null": pl.col("pickup").is_null(),
    "timestamp": pl.col("pickup") < dt.datetime(2024, 1, 5, 12, 0, 0, 17),
    "date": pl.col("day") >= dt.date(2024, 11, 30),
    "or": (pl.col("passengers") == 1) | pl.col("vendor").is_null(),
    "and_local_part": (pl.col("trip_id") < 900) & (pl.col("vendor").str.len_chars() > 3),
}


@pytest.fixture(scope="module")
def trips_frame(roapi_server) -> pl.DataFrame:
    return pl.from_arrow(roapi_server.adbc_query(TRIPS))


@pytest.mark.parametrize("pushdown", [True, False])
@pytest.mark.parametrize("name", sorted(PREDICATES))
def test_scan_filters_equal_adbc_filtered_by_polars(roapi_server, trips_frame, name, pushdown):
    predicate = PREDICATES[name]
    scan = fp.scan_flight(roapi_server.location, sql="SELECT * FROM trips", pushdown=pushdown)
    got = scan.filter(predicate).select("trip_id", "vendor", "fare").collect().sort("trip_id")
    expected = trips_frame.filter(predicate).select("trip_id", "vendor", "fare")
    assert got.equals(expected)


JOINED = "SELECT t.trip_id, t.fare, z.name FROM trips t JOIN zones z ON t.passengers = z.zone_id"
GROUPED = "SELECT vendor, count(*) AS trips, max(day) AS last_day FROM trips GROUP BY vendor"


@pytest.mark.parametrize(
    ("query", "predicate", "key"),
    [
        (JOINED, pl.col("name").is_in(["Airport", "Harbor"]) & (pl.col("trip_id") > 9), "trip_id"),
        (GROUPED, (pl.col("trips") > 600) | (pl.col("vendor") == "o'hare"), "vendor"),
    ],
    ids=["join", "group_by"],
)
def test_scans_of_joins_and_aggregates_equal_adbc(roapi_server, query, predicate, key):
    got = fp.scan_flight(roapi_server.location, sql=query).filter(predicate).collect()
    expected = pl.from_arrow(roapi_server.adbc_query(query)).filter(predicate)
    assert got.height > 0
    assert got.sort(key, nulls_last=True).equals(expected.sort(key, nulls_last=True))


def test_scan_explains_its_literals_and_reads_columns_and_head(roapi_server, trips_frame):
    scan = fp.scan_flight(roapi_server.location, sql="SELECT * FROM trips")
    assert "filter values written as SQL literals" in scan.explain()
    assert "does not bind parameters" in scan.explain()
    assert scan.collect_schema().names() == roapi_server.tables["trips"].schema.names
    projected = scan.select("vendor", "trip_id").collect().sort("trip_id")
    assert projected.equals(trips_frame.select("vendor", "trip_id"))
    head = scan.filter(pl.col("vendor") == "o'hare").head(4).collect()
    assert head.height == 4
    assert set(head["trip_id"]) <= set(trips_frame.filter(pl.col("vendor") == "o'hare")["trip_id"])
    assert scan.head(0).collect().height == 0


def test_a_client_learns_once_that_roapi_does_not_bind(roapi_server, trips_frame):
    with flightnb.FlightClient(roapi_server.location) as client:
        first = fp.scan_flight(client, sql="SELECT * FROM trips")
        found = capabilities_of(client.async_client)
        assert found.parameter_binding is False
        assert "do_put_prepared_statement_query" in (found.binding_answer or "")
        second = fp.scan_flight(client, sql="SELECT * FROM trips")
        predicate = pl.col("day") == dt.date(2024, 2, 29)
        for scan in (first, second):
            got = scan.filter(predicate).collect().sort("trip_id")
            assert got.equals(trips_frame.filter(predicate))


# --- Dask ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
    )
    client = distributed.Client(cluster, timeout=60)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.mark.parametrize("column", [None, "trip_id", "pickup", "day"])
def test_dask_partitions_equal_adbc(roapi_server, dask_client, column):
    import flightnb.dask as fd

    options: dict[str, Any] = {}
    if column is not None:
        options = {"partition_on": column, "npartitions": 3}
    frame = fd.read_flight(
        roapi_server.location,
        sql="SELECT * FROM trips",
        columns=["trip_id", "vendor", "pickup", "day"],
        **options,
    )
    assert frame.npartitions == (3 if column else 1)
    got = frame.compute().sort_values("trip_id").reset_index(drop=True)
    expected = roapi_server.adbc_query("SELECT trip_id, vendor, pickup, day FROM trips")
    expected = expected.sort_by("trip_id").to_pandas(types_mapper=pd.ArrowDtype)
    pd.testing.assert_frame_equal(got, expected)


# --- uploads -------------------------------------------------------------------------------


def test_uploads_are_refused_in_one_typed_line_as_pyarrow_sees_it(roapi_server):
    with pytest.raises(FlightNotImplementedError) as from_polars:
        pl.DataFrame({"a": [1, 2]}).flight.put(roapi_server.location, path="uploaded")
    with pytest.raises(FlightNotImplementedError) as from_pandas:
        pd.DataFrame({"a": [1, 2]}).flight.put(roapi_server.location, path="uploaded")
    one_line(from_polars.value), one_line(from_pandas.value)
    with roapi_server.flight_client() as reference:
        with pytest.raises(pa.ArrowNotImplementedError):
            descriptor = flight.FlightDescriptor.for_path("uploaded")
            writer, _ = reference.do_put(descriptor, pa.schema([("a", pa.int64())]))
            writer.write_table(pa.table({"a": [1, 2]}))
            writer.close()


# --- the %flight magic in a real kernel ----------------------------------------------------


def _run(cells: list[str], cwd: Path) -> list[Any]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return list(notebook.cells)


def _errors(cell: Any) -> list[dict[str, Any]]:
    return [o for o in cell.outputs if o.get("output_type") == "error"]


@pytest.mark.timeout(240)
def test_the_magic_in_a_kernel(roapi_server, tmp_path, monkeypatch):
    monkeypatch.delenv("FLIGHTNB_URI", raising=False)
    monkeypatch.delenv("FLIGHTNB_TOKEN", raising=False)
    monkeypatch.setenv("FLIGHTNB_CONNECTIONS", str(tmp_path / "no-connections.toml"))
    cells = _run(
        [
            "%load_ext flightnb",
            f"%flight connect {roapi_server.location}",
            f"%flight sql --no-progress -o t {TRIPS}\n"
            "import pyarrow.parquet as pq\npq.write_table(t, 'magic.parquet')",
            "%flight tables -o tabs\nprint(sorted(tabs.column('table_name').to_pylist()))",
            "%flight sql --no-progress --to polars SELECT vendor FROM zones",
            "limit = 3\n%flight sql --no-progress SELECT * FROM trips WHERE trip_id < :limit",
            "%flight get trips --no-progress",
        ],
        tmp_path,
    )
    for cell in cells[:4]:
        assert not _errors(cell), cell
    expected = roapi_server.adbc_query(TRIPS)
    assert pq.read_table(tmp_path / "magic.parquet").equals(expected)
    assert "['trips', 'zones']" in "".join(o.get("text", "") for o in cells[3].outputs)
    for index, fragment in ((4, "vendor"), (5, "parameter binding"), (6, "UNIMPLEMENTED")):
        (error,) = _errors(cells[index])
        assert "\n" not in error["evalue"] and len(error["traceback"]) == 1, error
        assert fragment in f"{error['ename']}: {error['evalue']}", error
    assert os.path.exists(tmp_path / "magic.parquet")

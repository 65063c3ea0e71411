"""Every feature Deephaven Community Core supports, called as its users would call flightnb.

Deephaven (Java: grpc-java and Arrow Java) answers every call with a fresh session token and
keeps a Flight SQL query's state in the session that created it, refuses ``large_string``
uploads, binds no parameters and gives prepared statements a placeholder schema (see
:mod:`thirdparty_servers`). Each result here is compared with what pyarrow.flight (through
the fixture's session-following client) or ADBC reads from the same server.

Nothing here passes a Deephaven-specific option: only the ``token`` its docs give
(``Anonymous``) and the paths and tickets it serves.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.flight as paflight
import pyarrow.parquet as pq
import pytest
from google.protobuf import any_pb2
from thirdparty_servers import DeephavenServer

import flightnb
import flightnb.functions.write
import flightnb.pandas  # registers DataFrame.flight
import flightnb.polars
from flightnb import FlightClient, FlightDescriptor, FlightSqlClient
from flightnb._proto import FlightSql_pb2
from flightnb.convert import convert_table

TABLES = ["trips", "zones", "numbers"]
#: The environment variable Dask workers and the notebook kernel read the token from.
TOKEN_ENV = "FLIGHTNB_TEST_DEEPHAVEN_TOKEN"

# Queries Deephaven's SQL answers, each with a single, deterministic order.
QUERIES = [
    "SELECT * FROM trips",
    "SELECT trip_id, vendor, fare FROM trips WHERE fare > 20",
    "SELECT vendor, COUNT(*) AS n FROM trips GROUP BY vendor ORDER BY vendor",
    "SELECT * FROM numbers WHERE N IS NULL",
    "SELECT z.name, COUNT(*) AS n FROM trips t JOIN zones z ON t.passengers = z.zone_id "
    "GROUP BY z.name ORDER BY z.name",
    "SELECT * FROM trips LIMIT 10",
]


@pytest.fixture(scope="module")
def server(deephaven_server: DeephavenServer) -> DeephavenServer:
    return deephaven_server


@pytest.fixture(scope="module")
def pyarrow_client(server: DeephavenServer) -> Iterator[paflight.FlightClient]:
    client = server.flight_client()
    try:
        yield client
    finally:
        client.close()


def _pyarrow_read(client: paflight.FlightClient, ticket: bytes) -> pa.Table:
    return client.do_get(paflight.Ticket(ticket)).read_all()


def _pyarrow_path(client: paflight.FlightClient, path: list[str]) -> pa.Table:
    info = client.get_flight_info(paflight.FlightDescriptor.for_path(*path))
    return pa.concat_tables(_pyarrow_read(client, e.ticket.ticket) for e in info.endpoints)


def _pyarrow_command(client: paflight.FlightClient, message: Any) -> pa.Table:
    """A Flight SQL command as pyarrow.flight sends it: GetFlightInfo, then DoGet."""
    packed = any_pb2.Any()
    packed.Pack(message)
    descriptor = paflight.FlightDescriptor.for_command(packed.SerializeToString())
    info = client.get_flight_info(descriptor)
    return pa.concat_tables(_pyarrow_read(client, e.ticket.ticket) for e in info.endpoints)


# --- plain Flight: tickets, paths, targets ---------------------------------------------------


@pytest.mark.parametrize("name", TABLES)
def test_read_by_ticket_and_by_path(
    server: DeephavenServer, pyarrow_client: paflight.FlightClient, name: str
) -> None:
    expected = _pyarrow_read(pyarrow_client, server.ticket(name))
    assert expected.equals(server.tables[name])
    by_ticket = flightnb.read_flight(
        server.location, ticket=server.ticket(name), token=server.token, progress=False
    )
    assert by_ticket.equals(expected)
    by_path = flightnb.read_flight(
        server.location, path=server.path(name), token=server.token, progress=False
    )
    assert by_path.equals(_pyarrow_path(pyarrow_client, server.path(name)))


@pytest.mark.parametrize("to", ["pandas", "polars"])
def test_read_to_dataframes(
    server: DeephavenServer, pyarrow_client: paflight.FlightClient, to: str
) -> None:
    expected = convert_table(_pyarrow_read(pyarrow_client, server.ticket("trips")), to)
    got = flightnb.read_flight(
        server.location, path=server.path("trips"), to=to, token=server.token, progress=False
    )
    assert type(got) is type(expected) and got.equals(expected)


def test_read_to_a_reader_and_open_flight(
    server: DeephavenServer, pyarrow_client: paflight.FlightClient
) -> None:
    expected = _pyarrow_read(pyarrow_client, server.ticket("trips"))
    reader = flightnb.read_flight(
        server.location, path=server.path("trips"), to="reader", token=server.token
    )
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.read_all().equals(expected)
    with flightnb.open_flight(
        server.location, path=server.path("trips"), token=server.token
    ) as stream:
        batches = list(stream)
    assert pa.Table.from_batches(batches).equals(expected)


def test_client_calls_and_listings(
    server: DeephavenServer, pyarrow_client: paflight.FlightClient
) -> None:
    with FlightClient(server.location, token=server.token) as client:
        listed = {tuple(info.descriptor.path) for info in client.list_flights()}
        assert listed == {
            tuple(p.decode() for p in info.descriptor.path)
            for info in pyarrow_client.list_flights()
        }
        assert {tuple(server.path(name)) for name in TABLES} <= listed
        schema = client.get_schema(FlightDescriptor.for_path(*server.path("numbers")))
        assert schema.equals(server.tables["numbers"].schema)
        info = client.get_flight_info(FlightDescriptor.for_path(*server.path("numbers")))
        assert info.total_records == server.tables["numbers"].num_rows
        assert {a.type for a in client.list_actions()} == {
            a.type for a in pyarrow_client.list_actions()
        }


def test_parquet_sink(
    server: DeephavenServer, pyarrow_client: paflight.FlightClient, tmp_path: Path
) -> None:
    target = tmp_path / "trips.parquet"
    summary = flightnb.write_parquet(
        server.location, target, path=server.path("trips"), token=server.token, progress=False
    )
    expected = _pyarrow_read(pyarrow_client, server.ticket("trips"))
    assert summary.rows == expected.num_rows
    assert pq.read_table(target).equals(expected)


# --- sessions: tokens issued on every call, handshakes -----------------------------------


def test_every_client_follows_the_session(server: DeephavenServer) -> None:
    """A query's DoGet and a prepared statement's calls must come in the creating session."""
    query = "SELECT * FROM numbers WHERE N IS NULL"
    expected = server.adbc_query(query)
    with FlightSqlClient(server.location, token=server.token) as client:
        assert client.query(query).equals(expected)
        with client.prepare(query) as statement:
            assert statement.query().equals(expected)
    async_result = flightnb.read_flight(
        server.location, sql=query, token=server.token, progress=False
    )
    assert async_result.equals(expected)


def test_token_handshake_and_refused_basic(server: DeephavenServer) -> None:
    with FlightClient(server.location) as client:
        with pytest.raises(flightnb.FlightUnauthenticatedError):
            client.do_get(server.ticket("zones")).read_all()  # no credential yet
        client.handshake(token=server.token)
        query = "SELECT * FROM zones"
        sql_client = FlightSqlClient(client)
        assert sql_client.query(query).equals(server.adbc_query(query))
        assert "Anonymous" not in repr(client)
    with FlightClient(server.location) as client:
        with pytest.raises(flightnb.FlightUnauthenticatedError):
            client.handshake("user", "password")


def test_authorization_header_as_adbc_sends_it(server: DeephavenServer) -> None:
    """``headers={"authorization": ...}`` is ADBC's ``authorization_header``: sent as is."""
    query = "SELECT trip_id, vendor FROM trips WHERE trip_id < 100"
    got = flightnb.read_flight(
        server.location, sql=query, headers={"authorization": server.token}, progress=False
    )
    assert got.equals(server.adbc_query(query))


# --- Flight SQL -----------------------------------------------------------------------------


@pytest.mark.parametrize("query", QUERIES)
def test_sql_query_equals_adbc(server: DeephavenServer, query: str) -> None:
    expected = server.adbc_query(query)
    got = flightnb.read_flight(server.location, sql=query, token=server.token, progress=False)
    assert got.equals(expected)


def test_sql_query_to_polars_equals_adbc(server: DeephavenServer) -> None:
    query = QUERIES[1]
    got = flightnb.read_flight(
        server.location, sql=query, to="polars", token=server.token, progress=False
    )
    assert got.equals(pl.from_arrow(server.adbc_query(query)))


def test_sql_metadata_equals_pyarrow(
    server: DeephavenServer, pyarrow_client: paflight.FlightClient
) -> None:
    with FlightSqlClient(server.location, token=server.token) as client:
        tables = client.get_tables()
        expected = _pyarrow_command(pyarrow_client, FlightSql_pb2.CommandGetTables())
        assert tables.equals(expected)
        assert set(TABLES) <= set(tables.column("table_name").to_pylist())
        table_types = client.get_table_types()
        assert table_types.equals(
            _pyarrow_command(pyarrow_client, FlightSql_pb2.CommandGetTableTypes())
        )
        info = client.get_sql_info()
        assert info["FLIGHT_SQL_SERVER_NAME"] == "Deephaven"
        assert info["FLIGHT_SQL_SERVER_READ_ONLY"] is True
        with server.adbc_connect() as connection:
            adbc_info = connection.adbc_get_info()
        assert adbc_info["vendor_name"] == info["FLIGHT_SQL_SERVER_NAME"]
        assert client.get_catalogs().num_rows == 0 and client.get_db_schemas().num_rows == 0
        with pytest.raises(flightnb.FlightNotImplementedError, match="GetXdbcTypeInfo"):
            client.get_xdbc_type_info()


# --- uploads ----------------------------------------------------------------------------------


def _export_ticket(number: int) -> bytes:
    """Deephaven's export ticket ``e<int32 LE>``: what DoPut to ``["export", n]`` stores."""
    return b"e" + struct.pack("<i", number)


def _pyarrow_upload(server: DeephavenServer, table: pa.Table, number: int) -> pa.Table:
    """What pyarrow.flight's upload of ``table`` stores, as read back in its session."""
    with server.flight_client() as client:
        descriptor = paflight.FlightDescriptor.for_path("export", str(number))
        writer, _ = client.do_put(descriptor, table.schema)
        writer.write_table(table)
        writer.close()
        return _pyarrow_read(client, _export_ticket(number))


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_upload_a_dataframe(server: DeephavenServer, library: str) -> None:
    data = {"id": [1, 2, 3], "name": ["a", None, "zoë"], "x": [0.5, None, 2.0]}
    frame = pd.DataFrame(data) if library == "pandas" else pl.DataFrame(data)
    number = {"pandas": 101, "polars": 102}[library]
    with FlightClient(server.location, token=server.token) as client:
        summary = frame.flight.put(client, path=["export", str(number)], progress=False)
        stored = client.do_get(_export_ticket(number)).read_all()
    assert summary.rows == 3
    sent = flightnb.functions.write.as_arrow_table(frame)
    expected = _pyarrow_upload(server, flightnb.narrowing.narrow_large_types(sent).table, 200)
    assert stored.equals(expected)
    assert stored.column("name").to_pylist() == ["a", None, "zoë"]
    if library == "polars":
        assert summary.narrowed == ("name",)  # polars sends large_string; Deephaven refuses it


def test_large_types_kept_on_request_are_refused(server: DeephavenServer) -> None:
    frame = pl.DataFrame({"name": ["a", "b"]})
    with pytest.raises(flightnb.FlightInvalidArgumentError, match="LargeUtf8"):
        frame.flight.put(
            server.location,
            path=["export", "103"],
            token=server.token,
            keep_large_types=True,
            progress=False,
        )


# --- lazy scans -------------------------------------------------------------------------------


@pytest.mark.parametrize("pushdown", [True, False])
def test_scan_projection_filter_and_head(server: DeephavenServer, pushdown: bool) -> None:
    scan = flightnb.polars.scan_flight(
        server.location, sql="SELECT * FROM trips", pushdown=pushdown, token=server.token
    )
    expected = pl.from_arrow(server.adbc_query("SELECT * FROM trips"))
    assert isinstance(expected, pl.DataFrame)
    assert scan.collect_schema() == expected.schema
    query = (
        scan.filter((pl.col("fare") > 20) & (pl.col("vendor") == "o'hare"))
        .select("trip_id", "fare", "vendor")
        .sort("trip_id")
    )
    wanted = (
        expected.filter((pl.col("fare") > 20) & (pl.col("vendor") == "o'hare"))
        .select("trip_id", "fare", "vendor")
        .sort("trip_id")
    )
    assert query.collect().equals(wanted)
    assert scan.head(7).collect().height == 7
    assert scan.select("trip_id").collect().equals(expected.select("trip_id"))


def test_scan_of_a_path(server: DeephavenServer, pyarrow_client: paflight.FlightClient) -> None:
    scan = flightnb.polars.scan_flight(
        server.location, path=server.path("numbers"), token=server.token
    )
    expected = pl.from_arrow(_pyarrow_read(pyarrow_client, server.ticket("numbers")))
    assert isinstance(expected, pl.DataFrame)
    got = scan.filter(pl.col("N").is_null()).select("I", "S").collect()
    assert got.equals(expected.filter(pl.col("N").is_null()).select("I", "S"))
    assert scan.head(3).collect().equals(expected.head(3))


# --- Dask -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client(server: DeephavenServer) -> Iterator[Any]:
    """Two worker processes, each reading the token from its environment (never the graph)."""
    from distributed import Client, LocalCluster

    os.environ[TOKEN_ENV] = server.token  # the worker processes inherit it
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = Client(cluster, timeout=60)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        os.environ.pop(TOKEN_ENV, None)


def test_dask_reads_a_path(
    server: DeephavenServer, pyarrow_client: paflight.FlightClient, dask_client: Any
) -> None:
    import flightnb.dask

    frame = flightnb.dask.read_flight(
        server.location, path=server.path("trips"), token_env=TOKEN_ENV
    )
    expected = convert_table(
        _pyarrow_read(pyarrow_client, server.ticket("trips")), "pandas", dtype_backend="pyarrow"
    )
    got = frame.compute().sort_values("trip_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_dask_partitions_a_query(server: DeephavenServer, dask_client: Any) -> None:
    import flightnb.dask

    query = "SELECT trip_id, vendor, fare FROM trips"
    frame = flightnb.dask.read_flight(
        server.location, sql=query, token_env=TOKEN_ENV, partition_on="trip_id", npartitions=3
    )
    assert frame.npartitions == 3
    expected = convert_table(server.adbc_query(query), "pandas", dtype_backend="pyarrow")
    got = frame.compute().sort_values("trip_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_dask_reads_a_query_in_one_workers_session(
    server: DeephavenServer, dask_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import flightnb.dask

    # The statement's tickets belong to the planning client's session, and each worker has
    # its own: the query runs whole on one worker, which says so once.
    query = "SELECT trip_id, vendor, fare FROM trips WHERE fare > 20"
    with caplog.at_level("WARNING", logger="flightnb.dask"):
        frame = flightnb.dask.read_flight(server.location, sql=query, token_env=TOKEN_ENV)
    [record] = [r for r in caplog.records if r.name == "flightnb.dask"]
    assert "runs whole on one worker" in record.getMessage()
    assert frame.npartitions == 1
    expected = convert_table(server.adbc_query(query), "pandas", dtype_backend="pyarrow")
    got = frame.compute().sort_values("trip_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected.sort_values("trip_id").reset_index(drop=True))


# --- the %flight magic in a real kernel ----------------------------------------------------


def test_magic_in_a_kernel(
    server: DeephavenServer,
    pyarrow_client: paflight.FlightClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import nbclient
    import nbformat

    monkeypatch.setenv(TOKEN_ENV, server.token)  # the kernel inherits it
    query = "SELECT vendor, COUNT(*) AS n FROM trips GROUP BY vendor ORDER BY vendor"
    cells = [
        "%load_ext flightnb",
        f"%flight connect {server.location} --token-env {TOKEN_ENV} "
        "--header x-deephaven-auth-cookie-request=true",
        "%flight get scope numbers --no-progress -o numbers",
        f"%flight sql --no-progress -o counts {query}",
        "%flight tables",
        "handle = %flight get scope zones --bg --no-progress",
        "zones = await handle",  # a background read: a client of its own, the same login
        "import pyarrow.feather as feather\n"
        "feather.write_feather(numbers, 'numbers.arrow')\n"
        "feather.write_feather(counts, 'counts.arrow')\n"
        "feather.write_feather(zones, 'zones.arrow')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    for cell in notebook.cells:
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert not errors, (cell.source, errors)
    shown = "".join(
        o.get("text", "") + o.get("data", {}).get("text/html", "")
        for o in notebook.cells[4].outputs
    )
    assert all(name in shown for name in TABLES)
    outputs = "".join(str(cell.outputs) for cell in notebook.cells)
    assert "Bearer" not in outputs and server.token not in outputs
    numbers = pa.ipc.open_file(str(tmp_path / "numbers.arrow")).read_all()
    assert numbers.equals(_pyarrow_read(pyarrow_client, server.ticket("numbers")))
    counts = pa.ipc.open_file(str(tmp_path / "counts.arrow")).read_all()
    assert counts.equals(server.adbc_query(query))
    zones = pa.ipc.open_file(str(tmp_path / "zones.arrow")).read_all()
    assert zones.equals(_pyarrow_read(pyarrow_client, server.ticket("zones")))

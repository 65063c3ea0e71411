"""Errors in one line with the right code, table flights (tickets, sizes, endpoints), unix sockets,
and ADBC transactions that survive an SQL error."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import adbc_driver_manager as adbc
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from bearer import adbc_connect, pyarrow_client

import flightnb
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.protocol.commands import pack, unpack_as
from flightnb.server import FlightSqlServer

SAMPLE_ROWS = 5000  # as in conftest.sql_server


def _no_traceback_text(text: str) -> None:
    assert "Traceback" not in text and "Detail:" not in text and ".py" not in text


def _no_traceback(exc: flightnb.FlightError) -> None:
    _no_traceback_text(str(exc))
    assert exc.detail == exc.message


def test_sql_syntax_error_is_invalid_argument(sql_server: FlightSqlServer) -> None:
    with pytest.raises(flightnb.FlightInvalidArgumentError) as info:
        flightnb.read_flight(sql_server.location, sql="SELEC 1", progress=False)
    assert info.value.code == "INVALID_ARGUMENT"
    assert info.value.message.startswith('Parser Error: syntax error at or near "SELEC"')
    _no_traceback(info.value)


def test_unknown_table_is_not_found(sql_server: FlightSqlServer) -> None:
    with pytest.raises(flightnb.FlightNotFoundError) as info:
        flightnb.read_flight(sql_server.location, sql="SELECT * FROM nope", progress=False)
    assert "Table with name nope does not exist" in info.value.message
    _no_traceback(info.value)
    with pytest.raises(flightnb.FlightNotFoundError) as info:
        flightnb.read_flight(sql_server.location, path="nope", progress=False)
    _no_traceback(info.value)


def test_other_clients_get_the_one_line_message(flight_client: flight.FlightClient) -> None:
    # pyarrow.flight's client prefixes the status it received; the server sends the message
    # alone, with no traceback or detail appended.
    with pytest.raises(pa.ArrowInvalid) as info:
        flight_client.get_flight_info(flight.FlightDescriptor.for_path("a", "b", "c", "d"))
    text = str(info.value)
    assert text.endswith("with message: a path names a table: [catalog, [schema,]] table")
    _no_traceback_text(text)
    with pytest.raises(pa.ArrowInvalid) as info:
        flight_client.get_flight_info(
            flight.FlightDescriptor.for_command(pack(sql.CommandStatementQuery(query="SELEC 1")))
        )
    assert 'with message: Parser Error: syntax error at or near "SELEC"' in str(info.value)
    _no_traceback_text(str(info.value))


def test_flight_errors_from_any_pyarrow_server_are_one_line() -> None:
    class Failing(flight.FlightServerBase):  # type: ignore[misc]
        def get_flight_info(self, context: Any, descriptor: Any) -> Any:
            if descriptor.path[0] == b"value":
                raise ValueError("no such thing here")
            raise flight.FlightServerError("server says no")

    server = Failing("grpc://127.0.0.1:0")
    try:
        uri = f"grpc://127.0.0.1:{server.port}"
        with pytest.raises(flightnb.FlightInvalidArgumentError) as info:
            flightnb.read_flight(uri, path="value", progress=False)
        assert info.value.message == "no such thing here"
        assert "Traceback" in (info.value.detail or "")
        with pytest.raises(flightnb.FlightError) as other:
            flightnb.read_flight(uri, path="other", progress=False)
        assert other.value.message == "server says no"
        assert other.value.detail == "server says no. Detail: Failed"
    finally:
        server.shutdown()


def test_table_ticket_reads_the_table(sql_server: FlightSqlServer) -> None:
    by_ticket = flightnb.read_flight(sql_server.location, ticket=b"stations", progress=False)
    by_path = flightnb.read_flight(sql_server.location, path="stations", progress=False)
    assert by_ticket.equals(by_path) and by_ticket.num_rows > 0
    with flightnb.FlightClient(sql_server.location) as client:
        assert client.do_get(b"main.trips").read_all().num_rows == SAMPLE_ROWS


def test_table_flight_sizes(flight_client: flight.FlightClient) -> None:
    info = flight_client.get_flight_info(flight.FlightDescriptor.for_path("trips"))
    assert info.total_records == SAMPLE_ROWS
    table = flight_client.do_get(info.endpoints[0].ticket).read_all()
    assert table.num_rows == SAMPLE_ROWS
    assert 0.5 < info.total_bytes / table.nbytes < 2  # an estimate from a sample


@pytest.fixture(scope="module")
def split_server() -> Iterator[FlightSqlServer]:
    server = FlightSqlServer(sample_size=1000, endpoints=4)
    try:
        yield server
    finally:
        server.shutdown()


def test_endpoints_split_a_table_into_row_ranges(split_server: FlightSqlServer) -> None:
    client = pyarrow_client(split_server)
    try:
        info = client.get_flight_info(flight.FlightDescriptor.for_path("trips"))
        parts = [client.do_get(e.ticket).read_all() for e in info.endpoints]
    finally:
        client.close()
    assert len(info.endpoints) == 4 and info.total_records == 1000
    assert all(p.num_rows == 250 for p in parts)
    ids = pa.concat_tables(parts).column("trip_id").to_pylist()
    assert sorted(ids) == list(range(1, 1001))
    whole = flightnb.read_flight(split_server.location, path="trips", progress=False)
    assert sorted(whole.column("trip_id").to_pylist()) == ids
    assert len(flightnb.read_flight(split_server.location, ticket=b"trips", progress=False)) == 1000


def test_cli_endpoints_option() -> None:
    from flightnb.server.cli import _location, build_parser

    args = build_parser().parse_args(["--endpoints", "3"])
    assert (args.endpoints, _location(args, tls=False)) == (3, "grpc://127.0.0.1:8815")


def test_unix_socket_location() -> None:
    with tempfile.TemporaryDirectory() as folder:
        socket = Path(folder) / "flight.sock"
        server = FlightSqlServer(f"grpc+unix://{socket}", sample_size=100)
        try:
            assert server.location == f"grpc+unix://{socket}"
            table = flightnb.read_flight(server.location, path="trips", progress=False)
            assert table.num_rows == 100
        finally:
            server.shutdown()


def test_adbc_transaction_survives_sql_errors(sql_server: FlightSqlServer) -> None:
    with adbc_connect(sql_server) as conn:  # DB-API default: autocommit off
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE txn_errors (id INTEGER PRIMARY KEY)")
            cur.execute("INSERT INTO txn_errors VALUES (1)")
            conn.commit()
            for bad in (
                "SELEC 1",  # fails to parse
                "SELECT CAST('x' AS INTEGER)",  # fails while running: DuckDB aborts
                "INSERT INTO txn_errors VALUES (1)",  # a constraint violation
                "SELECT * FROM no_such_table",
            ):
                with pytest.raises(adbc.Error):
                    cur.execute(bad)
                    cur.fetchall()
                cur.execute("SELECT count(*) FROM txn_errors")
                assert cur.fetchall() == [(1,)]
            cur.execute("INSERT INTO txn_errors VALUES (2)")
            conn.commit()
            cur.execute("SELECT id FROM txn_errors ORDER BY id")
            assert cur.fetchall() == [(1,), (2,)]
        conn.rollback()


def test_abandoned_reads_leave_nothing_registered(sql_server: FlightSqlServer) -> None:
    command = pack(sql.CommandStatementQuery(query="SELECT * FROM range(100000000)"))
    for _ in range(5):
        client = pyarrow_client(sql_server)
        info = client.get_flight_info(flight.FlightDescriptor.for_command(command))
        reader = client.do_get(info.endpoints[0].ticket)
        del reader
        client.close()  # gone before reading a batch
    client = pyarrow_client(sql_server)
    try:
        with pytest.raises(flight.FlightTimedOutError):
            options = flight.FlightCallOptions(timeout=0.3)
            client.do_get(info.endpoints[0].ticket, options).read_all()
    finally:
        client.close()
    deadline = time.monotonic() + 5
    while sql_server.cancellation.running_count:
        assert time.monotonic() < deadline, "executions stay registered after their calls"
        time.sleep(0.05)


def test_transaction_goes_on_after_a_cancelled_query(flight_client: flight.FlightClient) -> None:
    (body,) = flight_client.do_action(
        flight.Action("BeginTransaction", pack(sql.ActionBeginTransactionRequest()))
    )
    txn = unpack_as(body.body.to_pybytes(), sql.ActionBeginTransactionResult).transaction_id
    heavy = sql.CommandStatementQuery(
        query="SELECT sum(a.range * b.range) FROM range(400000) a, range(400000) b",
        transaction_id=txn,
    )
    info = flight_client.get_flight_info(flight.FlightDescriptor.for_command(pack(heavy)))
    with pytest.raises(flight.FlightTimedOutError):
        options = flight.FlightCallOptions(timeout=0.5)
        flight_client.do_get(info.endpoints[0].ticket, options).read_chunk()
    after = sql.CommandStatementQuery(query="SELECT 42 AS x", transaction_id=txn)
    info = flight_client.get_flight_info(flight.FlightDescriptor.for_command(pack(after)))
    assert flight_client.do_get(info.endpoints[0].ticket).read_all()["x"].to_pylist() == [42]
    end = sql.ActionEndTransactionRequest
    request = end(transaction_id=txn, action=end.END_TRANSACTION_ROLLBACK)
    list(flight_client.do_action(flight.Action("EndTransaction", pack(request))))

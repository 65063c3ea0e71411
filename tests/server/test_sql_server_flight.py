"""The DuckDB Flight SQL server driven with pyarrow.flight's raw client and our own messages."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from bearer import pyarrow_client

from flightnb._proto import Flight_pb2
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.protocol.commands import pack, unpack, unpack_as
from flightnb.server import FlightSqlServer, serve
from flightnb.server.cli import build_parser
from flightnb.server.metadata import KEYS_SCHEMA, TABLES_SCHEMA_WITH_SCHEMA

SAMPLE_ROWS = 5000  # as in conftest.sql_server


def _descriptor(command: Any) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(pack(command))


def _fetch(client: flight.FlightClient, command: Any) -> tuple[flight.FlightInfo, pa.Table]:
    info = client.get_flight_info(_descriptor(command))
    tables = [client.do_get(endpoint.ticket).read_all() for endpoint in info.endpoints]
    return info, pa.concat_tables(tables)


def _action(client: flight.FlightClient, name: str, message: Any) -> list[bytes]:
    results = client.do_action(flight.Action(name, pack(message)))
    return [result.body.to_pybytes() for result in results]


def _prepare(client: flight.FlightClient, query: str) -> sql.ActionCreatePreparedStatementResult:
    (body,) = _action(
        client, "CreatePreparedStatement", sql.ActionCreatePreparedStatementRequest(query=query)
    )
    return unpack_as(body, sql.ActionCreatePreparedStatementResult)


def test_statement_query_streams_in_batches(
    flight_client: flight.FlightClient, sql_server: FlightSqlServer
) -> None:
    command = sql.CommandStatementQuery(query="SELECT trip_id, fare, tags FROM trips")
    info = flight_client.get_flight_info(_descriptor(command))
    assert info.schema.names == ["trip_id", "fare", "tags"]
    assert info.total_records == -1  # planned, not run
    (endpoint,) = info.endpoints
    ticket = unpack_as(endpoint.ticket.ticket, sql.TicketStatementQuery)
    assert ticket.statement_handle
    reader = flight_client.do_get(endpoint.ticket)
    chunks = []
    while True:
        try:
            chunks.append(reader.read_chunk().data)
        except StopIteration:
            break
    assert sum(c.num_rows for c in chunks) == SAMPLE_ROWS
    assert max(c.num_rows for c in chunks) <= sql_server.batch_size
    assert len(chunks) >= SAMPLE_ROWS // sql_server.batch_size > 1
    # The ticket holds the statement, so it can be redeemed again.
    assert flight_client.do_get(endpoint.ticket).read_all().num_rows == SAMPLE_ROWS


def test_dictionary_column_streams(flight_client: flight.FlightClient) -> None:
    _, table = _fetch(
        flight_client, sql.CommandStatementQuery(query="SELECT rider_type FROM trips")
    )
    assert pa.types.is_dictionary(table.schema.field("rider_type").type)
    assert set(table.column("rider_type").to_pylist()) == {"member", "casual", "staff"}


def test_get_schema_does_not_run_writes(flight_client: flight.FlightClient) -> None:
    schema = flight_client.get_schema(
        _descriptor(sql.CommandStatementQuery(query="SELECT station_id, location FROM stations"))
    ).schema
    assert schema.names == ["station_id", "location"]
    flight_client.get_schema(
        _descriptor(sql.CommandStatementQuery(query="CREATE TABLE never_created (a INTEGER)"))
    )
    _, tables = _fetch(flight_client, sql.CommandGetTables(table_name_filter_pattern="never%"))
    assert tables.num_rows == 0


def test_ddl_runs_in_get_flight_info(flight_client: flight.FlightClient) -> None:
    info, result = _fetch(
        flight_client,
        sql.CommandStatementQuery(query="CREATE TABLE raw_ddl AS SELECT * FROM range(10) t(x)"),
    )
    assert info.total_records == 1
    assert result.to_pylist() == [{"Count": 10}]


def test_statement_update(flight_client: flight.FlightClient) -> None:
    flight_client.get_flight_info(
        _descriptor(sql.CommandStatementQuery(query="CREATE TABLE raw_update (x INTEGER)"))
    )
    descriptor = _descriptor(
        sql.CommandStatementUpdate(query="INSERT INTO raw_update SELECT * FROM range(7)")
    )
    writer, metadata_reader = flight_client.do_put(descriptor, pa.schema([]))
    writer.done_writing()
    result = sql.DoPutUpdateResult.FromString(metadata_reader.read().to_pybytes())
    writer.close()
    assert result.record_count == 7


def test_prepared_query_with_many_parameter_rows(flight_client: flight.FlightClient) -> None:
    prepared = _prepare(flight_client, "SELECT trip_id FROM trips WHERE trip_id = ?")
    assert pa.ipc.read_schema(pa.py_buffer(prepared.dataset_schema)).names == ["trip_id"]
    assert pa.ipc.read_schema(pa.py_buffer(prepared.parameter_schema)).names == ["1"]
    handle = prepared.prepared_statement_handle
    command = sql.CommandPreparedStatementQuery(prepared_statement_handle=handle)
    params = pa.table({"id": pa.array([3, 1, 4], pa.int64())})
    writer, metadata_reader = flight_client.do_put(_descriptor(command), params.schema)
    writer.write_table(params)
    writer.done_writing()
    put = sql.DoPutPreparedStatementResult.FromString(metadata_reader.read().to_pybytes())
    writer.close()
    assert put.prepared_statement_handle == handle
    _, table = _fetch(flight_client, command)
    assert table.column("trip_id").to_pylist() == [3, 1, 4]
    _action(
        flight_client,
        "ClosePreparedStatement",
        sql.ActionClosePreparedStatementRequest(prepared_statement_handle=handle),
    )
    with pytest.raises(KeyError, match="unknown or closed prepared statement"):
        flight_client.get_flight_info(_descriptor(command))


def test_prepared_without_parameters_bound(flight_client: flight.FlightClient) -> None:
    prepared = _prepare(flight_client, "SELECT ? + 1 AS y")
    command = sql.CommandPreparedStatementQuery(
        prepared_statement_handle=prepared.prepared_statement_handle
    )
    with pytest.raises(pa.ArrowInvalid, match="none were bound"):
        flight_client.get_flight_info(_descriptor(command))


def test_metadata_commands(flight_client: flight.FlightClient) -> None:
    _, catalogs = _fetch(flight_client, sql.CommandGetCatalogs())
    assert catalogs.column("catalog_name").to_pylist() == ["memory"]
    _, schemas = _fetch(flight_client, sql.CommandGetDbSchemas(catalog="memory"))
    assert schemas.column("db_schema_name").to_pylist() == ["main"]
    _, tables = _fetch(
        flight_client,
        sql.CommandGetTables(
            table_name_filter_pattern="st_tion_", include_schema=True, table_types=["TABLE"]
        ),
    )
    assert tables.schema == TABLES_SCHEMA_WITH_SCHEMA
    assert tables.column("table_name").to_pylist() == ["stations"]
    schema = pa.ipc.read_schema(pa.py_buffer(tables.column("table_schema")[0].as_py()))
    assert schema.field("station_id").metadata[b"ARROW:FLIGHT:SQL:TYPE_NAME"] == b"INTEGER"
    _, keys = _fetch(flight_client, sql.CommandGetExportedKeys(table="stations"))
    assert keys.schema == KEYS_SCHEMA
    assert sorted(keys.column("fk_column_name").to_pylist()) == [
        "end_station_id",
        "start_station_id",
    ]
    assert set(keys.column("update_rule").to_pylist()) == {sql.NO_ACTION}
    _, cross = _fetch(
        flight_client, sql.CommandGetCrossReference(pk_table="stations", fk_table="trips")
    )
    assert cross.num_rows == 2
    _, types = _fetch(flight_client, sql.CommandGetXdbcTypeInfo(data_type=sql.XDBC_VARCHAR))
    assert types.column("type_name").to_pylist() == ["VARCHAR"]


def test_sql_info(flight_client: flight.FlightClient) -> None:
    wanted = [
        sql.FLIGHT_SQL_SERVER_READ_ONLY,
        sql.FLIGHT_SQL_SERVER_TRANSACTION,
        sql.SQL_IDENTIFIER_QUOTE_CHAR,
        sql.SQL_TRANSACTIONS_SUPPORTED,
    ]
    _, table = _fetch(flight_client, sql.CommandGetSqlInfo(info=wanted))
    values = {row["info_name"]: row["value"] for row in table.to_pylist()}
    assert values == {
        sql.FLIGHT_SQL_SERVER_READ_ONLY: False,
        sql.FLIGHT_SQL_SERVER_TRANSACTION: sql.SQL_SUPPORTED_TRANSACTION_TRANSACTION,
        sql.SQL_IDENTIFIER_QUOTE_CHAR: '"',
        sql.SQL_TRANSACTIONS_SUPPORTED: True,
    }


def test_cancel_before_fetch(flight_client: flight.FlightClient) -> None:
    info = flight_client.get_flight_info(
        _descriptor(sql.CommandStatementQuery(query="SELECT * FROM range(1000000000)"))
    )
    request = Flight_pb2.CancelFlightInfoRequest(
        info=Flight_pb2.FlightInfo.FromString(info.serialize())
    )
    (body,) = flight_client.do_action(
        flight.Action("CancelFlightInfo", request.SerializeToString())
    )
    status = Flight_pb2.CancelFlightInfoResult.FromString(body.body.to_pybytes()).status
    assert status == Flight_pb2.CANCEL_STATUS_CANCELLED
    # read_chunk, not read_all: pyarrow's read_all turns a CANCELLED status into
    # KeyboardInterrupt (its signal handling takes any cancellation for Ctrl-C).
    with pytest.raises(flight.FlightCancelledError):
        flight_client.do_get(info.endpoints[0].ticket).read_chunk()


def test_cancel_while_streaming(
    flight_client: flight.FlightClient, sql_server: FlightSqlServer
) -> None:
    info = flight_client.get_flight_info(
        _descriptor(sql.CommandStatementQuery(query="SELECT * FROM range(1000000000000)"))
    )
    reader = flight_client.do_get(info.endpoints[0].ticket)
    reader.read_chunk()  # the query is running
    canceller = pyarrow_client(sql_server)
    try:
        request = Flight_pb2.CancelFlightInfoRequest(
            info=Flight_pb2.FlightInfo.FromString(info.serialize())
        )
        list(canceller.do_action(flight.Action("CancelFlightInfo", request.SerializeToString())))
    finally:
        canceller.close()
    with pytest.raises(flight.FlightCancelledError):
        while True:
            reader.read_chunk()


def test_errors_have_flight_codes(flight_client: flight.FlightClient) -> None:
    with pytest.raises(pa.ArrowInvalid, match="syntax error"):
        flight_client.get_flight_info(_descriptor(sql.CommandStatementQuery(query="SELEC 1")))
    with pytest.raises(pa.ArrowInvalid, match="unknown command type"):
        flight_client.get_flight_info(flight.FlightDescriptor.for_command(pack(Flight_pb2.Empty())))
    with pytest.raises(pa.ArrowInvalid, match="names a table"):
        flight_client.get_flight_info(flight.FlightDescriptor.for_path("a", "b", "c", "d"))
    with pytest.raises(pa.ArrowNotImplementedError, match="Substrait"):
        flight_client.get_flight_info(_descriptor(sql.CommandStatementSubstraitPlan()))
    with pytest.raises(pa.ArrowNotImplementedError, match="savepoints"):
        _action(flight_client, "BeginSavepoint", sql.ActionBeginSavepointRequest())
    with pytest.raises(KeyError, match="unknown or finished transaction"):
        flight_client.get_flight_info(
            _descriptor(sql.CommandStatementQuery(query="SELECT 1", transaction_id=b"nope"))
        )


def test_transactions_over_raw_actions(flight_client: flight.FlightClient) -> None:
    (body,) = _action(flight_client, "BeginTransaction", sql.ActionBeginTransactionRequest())
    txn = unpack_as(body, sql.ActionBeginTransactionResult).transaction_id
    _fetch(
        flight_client,
        sql.CommandStatementQuery(
            query="CREATE TABLE raw_txn AS SELECT 1 AS x", transaction_id=txn
        ),
    )
    _, inside = _fetch(
        flight_client, sql.CommandStatementQuery(query="SELECT * FROM raw_txn", transaction_id=txn)
    )
    assert inside.num_rows == 1
    end = sql.ActionEndTransactionRequest
    _action(
        flight_client,
        "EndTransaction",
        end(transaction_id=txn, action=end.END_TRANSACTION_ROLLBACK),
    )
    with pytest.raises(KeyError, match="raw_txn does not exist"):
        flight_client.get_flight_info(
            _descriptor(sql.CommandStatementQuery(query="SELECT * FROM raw_txn"))
        )


def test_list_actions(flight_client: flight.FlightClient) -> None:
    names = {action.type for action in flight_client.list_actions()}
    assert {"CreatePreparedStatement", "BeginTransaction", "CancelFlightInfo"} <= names


def test_concurrent_queries(sql_server: FlightSqlServer) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        client = pyarrow_client(sql_server)
        try:
            for _ in range(3):
                _, table = _fetch(
                    client,
                    sql.CommandStatementQuery(query="SELECT sum(duration_s) AS s FROM trips"),
                )
                assert table.num_rows == 1
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors


def test_serve_non_blocking() -> None:
    server = serve(port=0, sample_size=100, block=False)
    try:
        client = pyarrow_client(server)
        try:
            _, table = _fetch(client, sql.CommandStatementQuery(query="SELECT count(*) FROM trips"))
        finally:
            client.close()
        assert table.column(0).to_pylist() == [100]
    finally:
        server.shutdown()


def test_cli_parser() -> None:
    from flightnb.server.cli import _location

    args = build_parser().parse_args(["--db", "x.duckdb", "--port", "9000"])
    assert args.db == "x.duckdb"
    assert _location(args, tls=False) == "grpc://127.0.0.1:9000"


def test_cli_serves_until_interrupted() -> None:
    code = (
        "from flightnb.server.cli import serve_main; raise SystemExit(serve_main("
        "['--sample-size', '50', '--port', '0', '--token-env', 'FLIGHTNB_TEST_TOKEN']))"
    )
    token = secrets.token_urlsafe(16)
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "FLIGHTNB_TEST_TOKEN": token},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        location = line.rsplit(" ", 1)[-1].strip()
        assert location.startswith("grpc://127.0.0.1:")
        assert token not in " ".join(process.args)  # never on the command line
        client = pyarrow_client(SimpleNamespace(token=token), location)
        try:
            _, table = _fetch(client, sql.CommandStatementQuery(query="SELECT count(*) FROM trips"))
        finally:
            client.close()
        assert table.column(0).to_pylist() == [50]
        process.send_signal(2)  # SIGINT, as Ctrl-C
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_cli_refuses_a_port_in_use_in_one_line(
    sql_server: FlightSqlServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from flightnb.server.cli import serve_main

    assert serve_main(["--sample-size", "0", "--port", str(sql_server.port)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        f"cannot listen on grpc://127.0.0.1:{sql_server.port}: the address is in use or not "
        "available; --port 0 picks a free one"
    )


def test_unpack_of_metadata_ticket(flight_client: flight.FlightClient) -> None:
    info = flight_client.get_flight_info(_descriptor(sql.CommandGetTableTypes()))
    assert isinstance(unpack(info.endpoints[0].ticket.ticket), sql.CommandGetTableTypes)
    assert info.total_records == 3

"""PATH descriptors on the embedded server: tables as plain Flight flights."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from bearer import pyarrow_client

import flightnb
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.functions.write import write_flight


def test_list_flights_names_tables(sql_server: Any) -> None:
    with flightnb.FlightClient(sql_server.location) as client:
        flights = {str(info.descriptor): info for info in client.list_flights()}
    assert {"trips", "stations"} <= set(flights)
    assert flights["trips"].schema is not None and "trip_id" in flights["trips"].schema.names


def test_path_read_matches_sql_and_pyarrow(sql_server: Any) -> None:
    by_path = flightnb.read_flight(sql_server.location, path="stations", progress=False)
    client = pyarrow_client(sql_server)
    try:
        info = client.get_flight_info(flight.FlightDescriptor.for_path("stations"))
        reference = client.do_get(info.endpoints[0].ticket).read_all()
    finally:
        client.close()
    assert by_path.equals(reference)
    assert by_path.num_rows > 0


# Uploads the server refuses carry no rows: a client still writing when the server's status
# arrives can see grpc core's INTERNAL instead of that status (tests/sql/test_sql_client_errors).
def _no_rows(table: pa.Table) -> pa.Table:
    return table.slice(0, 0)


def test_path_upload_creates_refuses_then_appends_or_replaces(sql_server: Any) -> None:
    table = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", "c"]})
    summary = write_flight(sql_server.location, table, path="path_uploads", progress=False)
    assert [sql.DoPutUpdateResult.FromString(r).record_count for r in summary.results] == [3]
    assert summary.rows_written == 3
    with pytest.raises(flightnb.FlightAlreadyExistsError, match=r"already exists.*mode=append"):
        write_flight(
            sql_server.location, _no_rows(table), path=["main", "path_uploads"], progress=False
        )
    write_flight(sql_server.location, table, path="path_uploads?mode=append", progress=False)
    back = flightnb.read_flight(sql_server.location, path="path_uploads", progress=False)
    assert back.column("id").to_pylist() == [1, 2, 3, 1, 2, 3]
    write_flight(
        sql_server.location, table.slice(0, 1), path="path_uploads?mode=replace", progress=False
    )
    back = flightnb.read_flight(sql_server.location, path="path_uploads", progress=False)
    assert back.column("id").to_pylist() == [1]


def test_path_upload_modes_need_the_table(sql_server: Any) -> None:
    table = pa.table({"x": [1]})
    with pytest.raises(flightnb.FlightError, match="does not exist"):
        write_flight(sql_server.location, table, path="no_table_yet?mode=append", progress=False)
    write_flight(
        sql_server.location, table, path="made_on_append?mode=create_append", progress=False
    )
    with pytest.raises(flightnb.FlightError, match="unknown path option"):
        write_flight(sql_server.location, table, path="made_on_append?mode=upsert", progress=False)


def test_unknown_table_path_is_typed_error(sql_server: Any) -> None:
    try:
        flightnb.read_flight(sql_server.location, path="no_such_table", progress=False)
    except flightnb.FlightError as exc:
        assert "no_such_table" in str(exc)
    else:
        raise AssertionError("reading an unknown table must fail")

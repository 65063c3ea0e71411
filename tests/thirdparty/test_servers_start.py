"""The roapi and Deephaven fixtures work: real servers, reachable by pyarrow.flight, ADBC and
flightnb's plain reads, all agreeing with the tables the fixtures wrote."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from thirdparty_servers import DeephavenServer, RoapiServer, ServerProcess, statement_command

import flightnb

# Queries over roapi's tables, each with an ORDER BY: DataFusion may scan row groups in
# parallel and return rows in any order otherwise.
ROAPI_QUERIES = [
    "SELECT * FROM trips ORDER BY trip_id",
    "SELECT trip_id, vendor, fare FROM trips WHERE fare > 20 AND vendor IS NOT NULL "
    "ORDER BY trip_id",
    "SELECT vendor, count(*) AS n, sum(fare) AS total FROM trips GROUP BY vendor ORDER BY vendor",
    "SELECT * FROM zones ORDER BY zone_id",
]


# --------------------------------------------------------------------------------------------
# Starting and stopping
# --------------------------------------------------------------------------------------------


def test_a_server_that_exits_fails_the_run_with_its_log(tmp_path: Path) -> None:
    code = "print('no such table: trips'); raise SystemExit(3)"
    server = ServerProcess(
        "server",
        [sys.executable, "-c", code],
        ready=re.compile("^READY"),
        log_path=tmp_path / "server.log",
    )
    with pytest.raises(pytest.fail.Exception, match=r"exited with code 3(.|\n)*no such table"):
        server.wait_ready()


def test_a_server_never_ready_is_stopped(tmp_path: Path) -> None:
    # Waits for its input to end, printing nothing: never ready, however long the wait.
    code = "import sys; print('starting', flush=True); sys.stdin.read()"
    server = ServerProcess(
        "server",
        [sys.executable, "-c", code],
        ready=re.compile("^READY"),
        log_path=tmp_path / "server.log",
        keep_stdin=True,
    )
    with pytest.raises(pytest.fail.Exception, match=r"not ready in 0 s(.|\n)*starting"):
        server.wait_ready(timeout=0.2)
    assert server.process.poll() is not None


# --------------------------------------------------------------------------------------------
# roapi
# --------------------------------------------------------------------------------------------


def test_roapi_runs_on_loopback(roapi_server: RoapiServer) -> None:
    assert roapi_server.location == f"grpc://127.0.0.1:{roapi_server.port}"
    assert roapi_server.process.poll() is None
    assert "for FlightSQL traffic" in roapi_server.log_path.read_text()


@pytest.mark.parametrize("name", ["trips", "zones"])
def test_roapi_serves_the_written_tables(roapi_server: RoapiServer, name: str) -> None:
    key = {"trips": "trip_id", "zones": "zone_id"}[name]
    got = roapi_server.adbc_query(f"SELECT * FROM {name} ORDER BY {key}")
    assert got.equals(roapi_server.tables[name])


@pytest.mark.parametrize("query", ROAPI_QUERIES)
def test_roapi_flightnb_sql_equals_adbc(roapi_server: RoapiServer, query: str) -> None:
    expected = roapi_server.adbc_query(query)
    got = flightnb.read_flight(roapi_server.location, sql=query, progress=False)
    assert got.equals(expected)


def test_roapi_statement_ticket_reads_like_pyarrow(roapi_server: RoapiServer) -> None:
    # roapi has no tickets or paths of its own: a query's FlightInfo gives the ticket, which
    # names a result roapi keeps for one DoGet only ("Request handle not found" after).
    query = "SELECT trip_id, paid, pickup, day FROM trips WHERE trip_id < 1500 ORDER BY trip_id"
    command = statement_command(query)
    descriptor = flight.FlightDescriptor.for_command(command)
    with roapi_server.flight_client() as client:
        info = client.get_flight_info(descriptor)
        assert len(info.endpoints) == 1
        expected = client.do_get(info.endpoints[0].ticket).read_all()
        with pytest.raises(flight.FlightInternalError, match="Request handle not found"):
            client.do_get(info.endpoints[0].ticket).read_all()
        ticket = client.get_flight_info(descriptor).endpoints[0].ticket
    assert expected.equals(roapi_server.adbc_query(query))
    by_ticket = flightnb.read_flight(roapi_server.location, ticket=ticket.ticket, progress=False)
    assert by_ticket.equals(expected)
    by_command = flightnb.read_flight(roapi_server.location, command=command, progress=False)
    assert by_command.equals(expected)


# --------------------------------------------------------------------------------------------
# Deephaven
# --------------------------------------------------------------------------------------------


def test_deephaven_runs_on_loopback(deephaven_server: DeephavenServer) -> None:
    assert deephaven_server.location == f"grpc://127.0.0.1:{deephaven_server.port}"
    assert deephaven_server.process.poll() is None
    assert deephaven_server.log_path.read_text().count("READY") == 1


@pytest.mark.parametrize("name", ["trips", "zones", "numbers"])
def test_deephaven_pyarrow_reads_the_reference(
    deephaven_server: DeephavenServer, name: str
) -> None:
    with deephaven_server.flight_client() as client:
        by_ticket = client.do_get(flight.Ticket(deephaven_server.ticket(name))).read_all()
        descriptor = flight.FlightDescriptor.for_path(*deephaven_server.path(name))
        info = client.get_flight_info(descriptor)
        by_path = pa.concat_tables([client.do_get(e.ticket).read_all() for e in info.endpoints])
    assert by_ticket.equals(deephaven_server.tables[name])
    assert by_path.equals(deephaven_server.tables[name])


def test_deephaven_needs_its_token(deephaven_server: DeephavenServer) -> None:
    with flight.connect(deephaven_server.location) as client:
        with pytest.raises(flight.FlightUnauthenticatedError):
            client.do_get(flight.Ticket(deephaven_server.ticket("zones"))).read_all()
    options = flight.FlightCallOptions(headers=[(b"authorization", b"Anonymous")])
    with flight.connect(deephaven_server.location) as client:
        got = client.do_get(flight.Ticket(deephaven_server.ticket("zones")), options).read_all()
    assert got.equals(deephaven_server.tables["zones"])


@pytest.mark.parametrize("name", ["trips", "zones", "numbers"])
def test_deephaven_flightnb_reads_equal_pyarrow(
    deephaven_server: DeephavenServer, name: str
) -> None:
    location, token = deephaven_server.location, deephaven_server.token
    with deephaven_server.flight_client() as client:
        expected = client.do_get(flight.Ticket(deephaven_server.ticket(name))).read_all()
    ticket = deephaven_server.ticket(name).decode()
    by_ticket = flightnb.read_flight(location, ticket=ticket, token=token, progress=False)
    path = deephaven_server.path(name)
    by_path = flightnb.read_flight(location, path=path, token=token, progress=False)
    assert by_ticket.equals(expected)
    assert by_path.equals(expected)
    assert by_ticket.schema.equals(expected.schema, check_metadata=True)


def test_deephaven_adbc_and_pyarrow_sql_agree(deephaven_server: DeephavenServer) -> None:
    for name in ["zones", "numbers"]:
        assert deephaven_server.adbc_query(f"SELECT * FROM {name}").equals(
            deephaven_server.tables[name]
        )
    # Flight SQL results send LocalDate columns as date64[ms]; DoGet of s/trips as date32.
    trips = deephaven_server.tables["trips"]
    expected = trips.set_column(
        trips.schema.get_field_index("day"), "day", trips["day"].cast(pa.date64())
    )
    assert deephaven_server.adbc_query("SELECT * FROM trips").equals(expected)
    # pyarrow.flight with the session-following client: statement, then its ticket.
    query = "SELECT * FROM trips WHERE fare > 30"
    with deephaven_server.flight_client() as client:
        descriptor = flight.FlightDescriptor.for_command(statement_command(query))
        info = client.get_flight_info(descriptor)
        got = pa.concat_tables([client.do_get(e.ticket).read_all() for e in info.endpoints])
    assert got.equals(deephaven_server.adbc_query(query))


def test_deephaven_flight_sql_needs_the_session(deephaven_server: DeephavenServer) -> None:
    # What flight_client()'s SessionHeaders is for: a statement's ticket read in a new session
    # (the bare credential again) is refused.
    options = flight.FlightCallOptions(headers=[(b"authorization", b"Anonymous")])
    descriptor = flight.FlightDescriptor.for_command(statement_command("SELECT * FROM zones"))
    with flight.connect(deephaven_server.location) as client:
        info = client.get_flight_info(descriptor, options)
        with pytest.raises(flight.FlightUnauthorizedError, match="original session"):
            client.do_get(info.endpoints[0].ticket, options).read_all()

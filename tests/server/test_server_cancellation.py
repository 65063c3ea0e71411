"""Abandoned queries stop: a client timeout, a Ctrl-C and CancelFlightInfo end DuckDB's work.

What proves it is the server's own account: every piece of DuckDB work registers with the
server's cancellation registry while it runs and leaves it when DuckDB returns. The tests
record those executions and wait for them to end, marked cancelled. The query is one that
runs for minutes on every core, so an execution that was not stopped is still registered
long after ``STOP_WITHIN`` seconds, however loaded the machine is, while a stopped one
leaves within a few tenths of a second.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow.flight as flight
import pytest
from bearer import pyarrow_client

import flightnb
from flightnb._proto import Flight_pb2
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.protocol.commands import pack
from flightnb.server import FlightSqlServer
from flightnb.server.cancellation import CancellationRegistry, Execution

# A cross join aggregate DuckDB cannot shortcut: many minutes of work on every core.
HEAVY = "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"
# Far longer than a cancelled query takes to stop, far shorter than the query itself.
STOP_WITHIN = 30.0


class Executions:
    """Records the executions a server's registry starts and finishes, as events.

    The registry's own ``start`` and ``finish`` still run; this only watches them.
    """

    def __init__(self, registry: CancellationRegistry) -> None:
        self._changed = threading.Condition()
        self.started: list[Execution] = []
        self.finished: list[Execution] = []
        start, finish = registry.start, registry.finish

        def recording_start(*args: Any, **kwargs: Any) -> Execution:
            execution = start(*args, **kwargs)
            with self._changed:
                self.started.append(execution)
                self._changed.notify_all()
            return execution

        def recording_finish(execution: Execution) -> None:
            finish(execution)
            with self._changed:
                if execution not in self.finished:
                    self.finished.append(execution)
                self._changed.notify_all()

        registry.start = recording_start  # type: ignore[method-assign]
        registry.finish = recording_finish  # type: ignore[method-assign]

    def running(self) -> list[Execution]:
        with self._changed:
            return [e for e in self.started if e not in self.finished]

    def wait_running(self) -> Execution:
        """The first execution of the heavy query's ticket, once DuckDB has it."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: any(e.ticket for e in self.started), timeout=STOP_WITHIN
            )
            assert ok, "the heavy query never started"
            return next(e for e in self.started if e.ticket)

    def assert_stopped(self) -> None:
        """Every execution ends; the heavy query's was cancelled.

        (flightnb's client both ends its call and sends CancelFlightInfo when it gives up, so
        either reason may be the one the server saw first.)
        """
        with self._changed:
            ended = self._changed.wait_for(
                lambda: all(e in self.finished for e in self.started), timeout=STOP_WITHIN
            )
            assert ended, f"DuckDB still runs {len(self.running())} executions"
            heavy = [e for e in self.started if e.ticket]
            assert heavy, "the heavy query never started"
            assert all(e.cancelled for e in heavy), [e.reason for e in heavy]


@pytest.fixture
def server() -> Iterator[FlightSqlServer]:
    server = FlightSqlServer(sample_size=100)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture
def executions(server: FlightSqlServer) -> Iterator[Executions]:
    executions = Executions(server.cancellation)
    yield executions
    # Should cancellation fail, the query would keep the server's shutdown waiting for minutes.
    for execution in executions.running():
        execution.connection.interrupt()


def test_client_timeout_stops_the_query(server: FlightSqlServer, executions: Executions) -> None:
    with pytest.raises(flightnb.FlightError) as info:
        flightnb.read_flight(server.location, sql=HEAVY, timeout=3, progress=False)
    assert info.value.code in ("DEADLINE_EXCEEDED", "CANCELLED")
    executions.assert_stopped()
    # The server is still fine.
    assert flightnb.read_flight(server.location, sql="SELECT 1 AS x", progress=False)[
        "x"
    ].to_pylist() == [1]


def test_keyboard_interrupt_stops_the_query(
    server: FlightSqlServer, executions: Executions
) -> None:
    code = (
        "import signal, sys\n"
        # Tests may run from a shell that ignores SIGINT; the child needs Python's handler.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import flightnb\n"
        "try:\n"
        f"    flightnb.read_flight({server.location!r}, sql={HEAVY!r}, progress=False)\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(3)\n"
    )
    client = subprocess.Popen([sys.executable, "-c", code])
    try:
        executions.wait_running()
        client.send_signal(signal.SIGINT)
        assert client.wait(timeout=STOP_WITHIN) == 3
        executions.assert_stopped()
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()


def test_cancel_flight_info_stops_the_query(
    server: FlightSqlServer, executions: Executions
) -> None:
    client = pyarrow_client(server)
    try:
        command = sql.CommandStatementQuery(query=HEAVY)
        info = client.get_flight_info(flight.FlightDescriptor.for_command(pack(command)))
        errors: list[BaseException] = []

        def fetch() -> None:
            try:
                client.do_get(info.endpoints[0].ticket).read_chunk()
            except BaseException as exc:  # collected for the test thread
                errors.append(exc)

        reader = threading.Thread(target=fetch)
        reader.start()
        executions.wait_running()
        request = Flight_pb2.CancelFlightInfoRequest(
            info=Flight_pb2.FlightInfo.FromString(info.serialize())
        )
        (result,) = client.do_action(flight.Action("CancelFlightInfo", request.SerializeToString()))
        status = Flight_pb2.CancelFlightInfoResult.FromString(result.body.to_pybytes()).status
        assert status == Flight_pb2.CANCEL_STATUS_CANCELLED
        executions.assert_stopped()
        reader.join(timeout=STOP_WITHIN)
        assert errors and isinstance(errors[0], flight.FlightCancelledError)
    finally:
        client.close()

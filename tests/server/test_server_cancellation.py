"""Abandoned queries stop: a client timeout, a Ctrl-C and CancelFlightInfo free the server's CPU.

The server runs in its own process so its CPU time can be read from ``/proc/<pid>/stat``.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.flight as flight
import pytest
from bearer import pyarrow_client

import flightnb
from flightnb._proto import Flight_pb2
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.sql.commands import pack

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

# A cross join aggregate DuckDB cannot shortcut: minutes of work on every core.
HEAVY = "SELECT sum(a.range * b.range) FROM range(400000) a, range(400000) b"
IDLE = 0.15  # cores; a busy DuckDB uses all of them
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    location: str
    token: str

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime

    def usage(self, seconds: float = 0.25) -> float:
        """Cores used over the next ``seconds``."""
        before = self.cpu_seconds()
        time.sleep(seconds)
        return (self.cpu_seconds() - before) / seconds

    def wait_busy(self, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while self.usage() < 0.5:
            assert time.monotonic() < deadline, "the heavy query never started"

    def assert_idle_within(self, started: float, seconds: float = 2.0) -> None:
        """The server's CPU falls to near idle within ``seconds`` of ``started``."""
        while True:
            usage = self.usage()
            if usage < IDLE:
                return
            waited = time.monotonic() - started
            assert waited < seconds, f"server still at {usage:.2f} cores {waited:.1f} s later"


@pytest.fixture
def server_process() -> Iterator[ServerProcess]:
    token = secrets.token_urlsafe(16)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flightnb",
            "serve",
            "--port",
            "0",
            "--sample-size",
            "100",
            "--token-env",
            "FLIGHTNB_TEST_TOKEN",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "FLIGHTNB_TEST_TOKEN": token},
    )
    try:
        assert process.stdout is not None
        location = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        assert location.startswith("grpc://127.0.0.1:")
        server = ServerProcess(process, location, token)
        server.assert_idle_within(time.monotonic(), 10.0)  # done loading the sample data
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_client_timeout_stops_the_query(server_process: ServerProcess) -> None:
    before = server_process.cpu_seconds()
    with pytest.raises(flightnb.FlightError) as info:
        flightnb.read_flight(server_process.location, sql=HEAVY, timeout=1, progress=False)
    gave_up = time.monotonic()
    assert info.value.code in ("DEADLINE_EXCEEDED", "CANCELLED")
    assert server_process.cpu_seconds() - before > 0.5  # the query did run
    server_process.assert_idle_within(gave_up)
    # The server is still fine.
    assert flightnb.read_flight(server_process.location, sql="SELECT 1 AS x", progress=False)[
        "x"
    ].to_pylist() == [1]


def test_keyboard_interrupt_stops_the_query(server_process: ServerProcess) -> None:
    code = (
        "import signal, sys\n"
        # Tests may run from a shell that ignores SIGINT; the child needs Python's handler.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import flightnb\n"
        "try:\n"
        f"    flightnb.read_flight({server_process.location!r}, sql={HEAVY!r}, progress=False)\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(3)\n"
    )
    client = subprocess.Popen([sys.executable, "-c", code])
    try:
        server_process.wait_busy()
        client.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        assert client.wait(timeout=30) == 3
        server_process.assert_idle_within(interrupted)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()


def test_cancel_flight_info_stops_the_query(server_process: ServerProcess) -> None:
    client = pyarrow_client(server_process)
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
        server_process.wait_busy()
        request = Flight_pb2.CancelFlightInfoRequest(
            info=Flight_pb2.FlightInfo.FromString(info.serialize())
        )
        (result,) = client.do_action(flight.Action("CancelFlightInfo", request.SerializeToString()))
        cancelled = time.monotonic()
        status = Flight_pb2.CancelFlightInfoResult.FromString(result.body.to_pybytes()).status
        assert status == Flight_pb2.CANCEL_STATUS_CANCELLED
        reader.join(timeout=30)
        assert errors and isinstance(errors[0], flight.FlightCancelledError)
        server_process.assert_idle_within(cancelled)
    finally:
        client.close()

"""roapi and Deephaven as real server processes on 127.0.0.1, for the tests of tests/thirdparty.

Each server runs in a process of its own, started with a free port (the server binds port 0 and
says which port it got), watched by a thread that copies its output to a log file and sets an
event on the line that says it is ready. Starting waits on that event, bounded by a generous
deadline for a loaded machine; a server that exits or never gets ready fails the test run with
its log. Stopping ends the process (Deephaven: standard input closed, then terminate, then
kill; roapi: terminate, then kill) and waits for it, so nothing outlives the session. On Linux
the process also gets SIGTERM when the test process dies (``PR_SET_PDEATHSIG``).

roapi 0.12.7
------------
Speaks Flight SQL only, without authentication: no header is needed on any call (a Basic
``handshake`` answers UNAUTHENTICATED "no basic auth cred configured"). Tables are named as
given on its command line (``--table trips=.../trips.parquet``) and queried in DataFusion's SQL,
in catalog ``roapi``, schema ``public``. What it answers:

* ``CommandStatementQuery`` (``read_flight(uri, sql=...)``, ADBC queries): one endpoint whose
  ticket (a ``TicketStatementQuery``) names a result kept for one DoGet: a second DoGet of
  the same ticket fails with INTERNAL "Request handle not found". Rows come in the order of
  DataFusion's parallel scan: use ORDER BY to compare.
* ``CreatePreparedStatement`` (its ``dataset_schema`` is the real schema) and reads of a
  prepared statement without parameters.
* ``GetSqlInfo`` (only server name "RoAPI Flight SQL Server", version "1", Arrow version
  "1.3": no read-only, SQL, transaction or cancel flags), ``GetCatalogs``, ``GetDbSchemas``,
  ``GetTables`` (with schemas too), ``ListActions``.

What it does not answer: plain Flight (``ListFlights``, ``GetSchema`` of anything, and
``GetFlightInfo`` of a path are UNIMPLEMENTED; DoGet of a made-up ticket is INVALID_ARGUMENT),
parameter binding (DoPut of ``CommandPreparedStatementQuery``: UNIMPLEMENTED
"do_put_prepared_statement_query not implemented"), ``GetTableTypes``, ``GetPrimaryKeys``,
``GetXdbcTypeInfo``, bulk ingestion (UNIMPLEMENTED). ``CommandStatementUpdate`` answers a
record count of 1 and changes nothing (a ``CREATE TABLE`` creates no table).
ADBC's ``adbc_get_objects`` fails in the driver (roapi's ``GetCatalogs`` schema marks
``catalog_name`` not nullable), ``adbc_get_table_schema`` works.

Deephaven Community Core 42.7
-----------------------------
Embedded (``deephaven_server.Server``) in a Python process of its own running
:mod:`deephaven_main`, with ``io.deephaven.auth.AnonymousAuthenticationHandler``.

Plain Flight: DoGet of tickets ``s/<name>``; GetFlightInfo and GetSchema of paths
``["scope", "<name>"]``; ListFlights (one flight per scope table). DoPut to
``["export", "<n>"]`` stores the upload as the export ticket ``b"e" + <n as int32 LE>``; DoPut
to ``["scope", "<name>"]`` is accepted but publishes nothing (``s/<name>`` stays NOT_FOUND).
An upload's schema needs types Deephaven knows: ``large_string`` is refused
(INVALID_ARGUMENT "Schema did not include `deephaven:type` metadata for field of type
LargeUtf8").

Flight SQL: statement queries (the scope's tables by name), GetSchema of a statement (the real
schema), ``GetTables``, ``GetTableTypes`` ("TABLE"), ``GetSqlInfo`` (name "Deephaven",
read-only, SQL yes, Substrait no, transactions none, cancel no, bulk ingestion no), prepared
statements without parameters. Results send ``LocalDate`` columns as ``date64[ms]`` where a
DoGet of ``s/<name>`` sends ``date32``.

Authentication: every call must carry ``authorization: Anonymous`` (``Bearer Anonymous`` is
taken as well, which is what flightnb's ``token="Anonymous"`` sends), or a session's bearer
token; a call without either is UNAUTHENTICATED. Each answer carries
``authorization: Bearer <session token>``, a new token on every call. Plain Flight calls
accept ``Anonymous`` again each time, but Flight SQL keeps a query's state in the session
that created it: a statement's DoGet or a prepared statement's GetFlightInfo sent with
``Anonymous`` (so in a new session) fails with PERMISSION_DENIED "Flight SQL: Must use the
original session"; it must carry the bearer token the previous answer returned. ADBC does
this by itself once given ``adbc.flight.sql.authorization_header``
(:meth:`DeephavenServer.adbc_connect`); for pyarrow.flight, :class:`SessionHeaders` does it
(:meth:`DeephavenServer.flight_client`). A Handshake with Basic credentials is refused
("Authentication details invalid"); one that carries ``authorization: Anonymous`` answers a
bearer token. No handshake is needed.

Not supported by Deephaven, as observed: parameter binding and ``CommandStatementUpdate``
(FAILED_PRECONDITION "Flight SQL descriptors cannot be published to"); a prepared statement's
``dataset_schema`` is a placeholder (one column ``DO_NOT_USE: string``; the FlightInfo of the
prepared statement has the real one); ``GetCatalogs`` and ``GetDbSchemas`` are empty,
``GetPrimaryKeys`` NOT_FOUND, ``GetXdbcTypeInfo`` UNIMPLEMENTED; ADBC's ``adbc_get_objects``
fails in the driver (Deephaven's field metadata on the ``GetCatalogs`` schema). Every field
it sends carries ``deephaven:`` metadata (and the schema some attributes), so compare with
``Table.equals`` (which ignores metadata).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.flight as flight
import pyarrow.parquet as pq
import pytest
from google.protobuf import any_pb2
from thirdparty_data import trips_table, zones_table

from flightnb._proto import FlightSql_pb2

__all__ = [
    "DEEPHAVEN_TOKEN",
    "DeephavenServer",
    "RoapiServer",
    "ServerProcess",
    "SessionHeaders",
    "start_deephaven",
    "start_roapi",
    "statement_command",
]

#: Bound on a server's start, below the tests' 300 s timeout so that the failure shows the
#: log. roapi takes a second; Deephaven's JVM 10-30 s on a quiet machine
#: and more on a loaded one.
START_TIMEOUT = 240.0

#: Bound on each step of a stop (closed input, terminate) before the next, harsher one.
STOP_TIMEOUT = 60.0

#: The credential Deephaven's anonymous handler takes (as ``authorization: Anonymous``).
DEEPHAVEN_TOKEN = "Anonymous"

HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------------------------
# A server process
# --------------------------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send SIGTERM to this child when the thread that started it dies."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class ServerProcess:
    """A server's process, its log, and the event of its ready line.

    Parameters
    ----------
    name : str
        For messages ("roapi", "Deephaven").
    command : sequence of str
        The command line; no secrets on it.
    ready : re.Pattern
        Matched against each line of output; the first match means ready.
    log_path : Path
        Where the output goes, line by line.
    keep_stdin : bool
        Give the process a pipe as standard input, closed by :meth:`stop` (Deephaven's script
        stops at end of input); else ``/dev/null``.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        ready: re.Pattern[str],
        log_path: Path,
        keep_stdin: bool = False,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.ready = ready
        self.log_path = log_path
        self.match: re.Match[str] | None = None
        self._output_ended = False
        self._event = threading.Event()
        self._log = log_path.open("w", encoding="utf-8", errors="replace")
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE if keep_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self._reader = threading.Thread(
            target=self._read_output, name=f"{name} output", daemon=True
        )
        self._reader.start()

    def _read_output(self) -> None:
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        try:
            for raw in stdout:
                line = raw.decode("utf-8", "replace")
                self._log.write(line)
                self._log.flush()
                if self.match is None and (match := self.ready.search(line)):
                    self.match = match
                    self._event.set()
        finally:
            self._log.close()
            self._output_ended = True
            self._event.set()  # end of output: the process has exited or closed it

    def wait_ready(self, timeout: float = START_TIMEOUT) -> re.Match[str]:
        """The ready line's match; fails the test run (with the log) if it never comes."""
        self._event.wait(timeout)
        if self.match is not None:
            return self.match
        ended = self._output_ended
        self.stop()
        code = self.process.returncode
        what = f"exited with code {code}" if ended else f"not ready in {timeout:.0f} s"
        pytest.fail(f"{self.name} {what}; its log ({self.log_path}):\n{self.log_text()}")

    def log_text(self, tail: int = 200) -> str:
        """The last ``tail`` lines of the log."""
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-tail:])

    def stop(self) -> None:
        """End the process and wait for it: closed input, then SIGTERM, then SIGKILL."""
        process = self.process
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_TIMEOUT)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._reader.join(STOP_TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()


# --------------------------------------------------------------------------------------------
# Flight SQL without a Flight SQL client
# --------------------------------------------------------------------------------------------


def statement_command(query: str) -> bytes:
    """A Flight SQL ``CommandStatementQuery`` for ``query``, packed as servers expect it."""
    packed = any_pb2.Any()
    packed.Pack(FlightSql_pb2.CommandStatementQuery(query=query))
    return packed.SerializeToString()


class SessionHeaders(flight.ClientMiddlewareFactory):
    """Sends ``authorization`` on every call: the credential first, then the last bearer token
    a server returned (what ADBC does, and what Deephaven's Flight SQL sessions need)."""

    def __init__(self, credential: str) -> None:
        self._value = credential
        self._lock = threading.Lock()

    def start_call(self, info: Any) -> flight.ClientMiddleware:
        return _SessionCall(self)

    def current(self) -> str:
        with self._lock:
            return self._value

    def update(self, value: str) -> None:
        with self._lock:
            self._value = value


class _SessionCall(flight.ClientMiddleware):
    def __init__(self, factory: SessionHeaders) -> None:
        self._factory = factory

    def sending_headers(self) -> dict[str, str]:
        return {"authorization": self._factory.current()}

    def received_headers(self, headers: dict[str, list[str]]) -> None:
        for value in headers.get("authorization", []):
            if value.lower().startswith("bearer "):
                self._factory.update(value)


# --------------------------------------------------------------------------------------------
# roapi
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RoapiServer:
    """A running roapi: Flight SQL on ``location``, no authentication.

    ``tables`` holds what was written for each table it serves (``trips`` from Parquet,
    ``zones`` from CSV), for comparing results.
    """

    location: str
    port: int
    tables: dict[str, pa.Table]
    server: ServerProcess
    data_dir: Path

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.server.process

    @property
    def log_path(self) -> Path:
        return self.server.log_path

    def flight_client(self) -> flight.FlightClient:
        """A pyarrow.flight client (no headers needed). Close it after use."""
        return flight.connect(self.location)

    def adbc_connect(self) -> Any:
        """An ADBC Flight SQL DB-API connection, autocommit on. Close it after use."""
        from adbc_driver_flightsql import dbapi

        return dbapi.connect(self.location, autocommit=True)

    def adbc_query(self, query: str) -> pa.Table:
        """``query``'s result as ADBC reads it: the reference for Flight SQL reads."""
        with self.adbc_connect() as conn, conn.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetch_arrow_table()

    def stop(self) -> None:
        self.server.stop()


def roapi_binary() -> str:
    """The ``roapi`` executable: next to this Python's (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "roapi"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("roapi")
    if found is None:
        pytest.fail(
            "roapi is not installed: `pip install -e '.[dev]'` installs it (the roapi wheel "
            "carries the binary)"
        )
    return found


def start_roapi(directory: Path) -> RoapiServer:
    """Write the tables to ``directory``, start roapi on them, wait until it serves."""
    tables = {"trips": trips_table(), "zones": zones_table()}
    pq.write_table(tables["trips"], directory / "trips.parquet", row_group_size=1000)
    pa_csv.write_csv(tables["zones"], directory / "zones.csv")
    # Every listener on 127.0.0.1 port 0: roapi also opens HTTP and Postgres ports.
    command = [
        roapi_binary(),
        "--addr-flight-sql",
        "127.0.0.1:0",
        "--addr-http",
        "127.0.0.1:0",
        "--addr-postgres",
        "127.0.0.1:0",
        "--table",
        f"trips={directory / 'trips.parquet'}",
        "--table",
        f"zones={directory / 'zones.csv'}",
    ]
    rust_log = os.environ.get("RUST_LOG", "info")
    server = ServerProcess(
        "roapi",
        command,
        ready=re.compile(r"Listening on 127\.0\.0\.1:(\d+) for FlightSQL traffic"),
        log_path=directory / "roapi.log",
        cwd=directory,
        # The ready line is an info message of roapi::startup, whatever else RUST_LOG asks.
        env={**os.environ, "RUST_LOG": ",".join(filter(None, [rust_log, "roapi::startup=info"]))},
    )
    port = int(server.wait_ready().group(1))
    return RoapiServer(
        location=f"grpc://127.0.0.1:{port}",
        port=port,
        tables=tables,
        server=server,
        data_dir=directory,
    )


# --------------------------------------------------------------------------------------------
# Deephaven
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class DeephavenServer:
    """A running Deephaven Community Core with anonymous authentication.

    ``tables`` holds the reference of each scope table: ``trips`` and ``zones`` as written
    (Deephaven loads them from Arrow), ``numbers`` as :func:`deephaven_main.numbers_reference`
    builds it (Deephaven computed it). Read them with :meth:`ticket` (``s/<name>``) or
    :meth:`path` (``["scope", "<name>"]``); send :attr:`token` as shown in the module docstring.
    """

    location: str
    port: int
    tables: dict[str, pa.Table]
    server: ServerProcess
    data_dir: Path
    token: str = DEEPHAVEN_TOKEN

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.server.process

    @property
    def log_path(self) -> Path:
        return self.server.log_path

    @property
    def headers(self) -> dict[str, str]:
        """The header that authenticates one call (a new session for each call)."""
        return {"authorization": self.token}

    @staticmethod
    def ticket(name: str) -> bytes:
        return f"s/{name}".encode()

    @staticmethod
    def path(name: str) -> list[str]:
        return ["scope", name]

    def flight_client(self) -> flight.FlightClient:
        """A pyarrow.flight client that authenticates every call and follows the session
        (:class:`SessionHeaders`), so Flight SQL calls work too. Close it after use."""
        return flight.connect(self.location, middleware=[SessionHeaders(self.token)])

    def adbc_connect(self) -> Any:
        """An ADBC Flight SQL DB-API connection, autocommit on. Close it after use."""
        from adbc_driver_flightsql import DatabaseOptions, dbapi

        return dbapi.connect(
            self.location,
            db_kwargs={DatabaseOptions.AUTHORIZATION_HEADER.value: self.token},
            autocommit=True,
        )

    def adbc_query(self, query: str) -> pa.Table:
        """``query``'s result as ADBC reads it: the reference for Flight SQL reads."""
        with self.adbc_connect() as conn, conn.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetch_arrow_table()

    def stop(self) -> None:
        self.server.stop()


def check_deephaven_installed() -> None:
    """Fail (with what to install) unless deephaven-server and a JDK 17+ are here."""
    import importlib.util

    if importlib.util.find_spec("deephaven_server") is None:
        pytest.fail("deephaven-server is not installed: `pip install -e '.[dev]'` installs it")
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home, "bin", "java") if java_home else shutil.which("java")
    if java is None or not Path(java).exists():
        pytest.fail("Deephaven needs a JDK 17+ and none was found: run scripts/install-jdk.sh")


def start_deephaven(directory: Path) -> DeephavenServer:
    """Write the tables to ``directory``, start Deephaven on them, wait until it serves."""
    from deephaven_main import numbers_reference

    check_deephaven_installed()
    tables = {
        "trips": trips_table(pa.timestamp("ns", tz="UTC")),
        "zones": zones_table(),
    }
    data_dir = directory / "tables"
    data_dir.mkdir()
    for name, table in tables.items():
        with pa.OSFile(str(data_dir / f"{name}.arrow"), "wb") as sink:
            with pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
    tables["numbers"] = numbers_reference()
    server = ServerProcess(
        "Deephaven",
        [sys.executable, "-u", str(HERE / "deephaven_main.py"), str(data_dir)],
        ready=re.compile(r"^READY (\{.*\})\s*$"),
        log_path=directory / "deephaven.log",
        keep_stdin=True,
        # Caches, configuration and data under the session's directory: nothing read from or
        # left in $HOME.
        cwd=directory,
        env={
            **os.environ,
            "DEEPHAVEN_CACHE_DIR": str(directory / "cache"),
            "DEEPHAVEN_CONFIG_DIR": str(directory / "config"),
            "DEEPHAVEN_DATA_DIR": str(directory / "data"),
        },
    )
    port = int(json.loads(server.wait_ready().group(1))["port"])
    return DeephavenServer(
        location=f"grpc://127.0.0.1:{port}",
        port=port,
        tables=tables,
        server=server,
        data_dir=directory,
    )

"""The DuckDB backend: a Flight SQL server over a DuckDB database.

How statements run:

* A single read-only SELECT is planned by GetFlightInfo (DuckDB binds it and reports its
  schema, nothing runs) and executed by DoGet, which streams DuckDB's Arrow record batch reader
  batch by batch. The ticket carries the SQL, so it can be redeemed more than once.
* Anything else (DDL, DML, scripts, SELECTs that write) runs during GetFlightInfo, as clients
  such as ADBC send every ``execute()`` through GetFlightInfo; the small result travels in the
  ticket (or, when large, waits on the server until fetched).
* Every request runs on its own DuckDB connection (``cursor()``), because the server calls
  handlers from several threads. A transaction owns one connection; its requests take turns.
* Parameters are always bound by DuckDB, never written into SQL text.
* Queries run in a sandbox (:mod:`flightnb.server.sandbox`): the served database and the
  ``allow_dirs``, nothing else of the host; the switches are set before the first call.
* Every call needs the server's token unless ``auth=False`` (:mod:`flightnb.server.auth`); a
  loopback server publishes a generated token in a runtime file of its owner, where the same
  user's flightnb clients find it (:mod:`flightnb.server.exposure`).
* All DuckDB work is registered with a :class:`~flightnb.server.cancellation.CancellationRegistry`:
  it is interrupted when its call is cancelled (the client timed out or gave up) or when
  CancelFlightInfo names its flight.

Plain Flight clients see each table as a PATH flight, ``[catalog, [schema,]] table``: reads
return the table (in ``endpoints`` row ranges), ``DoGet(b"<table>")`` reads it whole, and
uploads create it (see :class:`~flightnb.server.dispatch.UploadMode` to append or replace).
"""

from __future__ import annotations

import collections
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, cast

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight

from flightnb._proto import Flight_pb2
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.runtime_files import remove_entry
from flightnb.server import metadata, tables
from flightnb.server.auth import ServerAuth, new_token
from flightnb.server.calls import BatchStream, ServerCall, Upload
from flightnb.server.cancellation import CancellationRegistry, Execution
from flightnb.server.dispatch import FlightSqlServerBase, UploadMode
from flightnb.server.errors import cancelled, exhausted, flight_error, unsupported
from flightnb.server.exposure import check_exposure, publish_token
from flightnb.server.sample_data import load_sample_data
from flightnb.server.sandbox import lock_down, refuse_escapes
from flightnb.server.service import (
    DEFAULT_MAX_CALLS_PER_CLIENT,
    DEFAULT_MAX_MESSAGE_BYTES,
    parse_listen_location,
)
from flightnb.server.sql_info import SqlInfoValue, duckdb_sql_info, sql_info_table
from flightnb.server.state import (
    KeptResults,
    Parameters,
    PreparedStatements,
    Transactions,
    parameter_names,
)
from flightnb.server.tickets import (
    InlineTicket,
    KeptTicket,
    PreparedTicket,
    QueryTicket,
    StatementTicket,
    TableTicket,
    TicketError,
    decode_ticket,
    encode_ticket,
    new_nonce,
)

__all__ = ["FlightSqlServer"]

_QUERY_RELATION = "QUERY_RELATION"
# Results of statements that already ran travel inside the ticket up to this size.
_INLINE_RESULT_LIMIT = 1 << 20
# Statements kept by FlightSqlServer.recent_queries.
_RECENT_QUERIES = 100


def _version() -> str:
    try:
        return importlib_metadata.version("flightnb")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _read_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _update_count(table: pa.Table) -> int:
    """DuckDB reports changed rows in a ``Count`` column; -1 when it does not say."""
    if table.column_names == ["Count"] and table.num_rows:
        total = pc.sum(table.column(0)).as_py()
        return int(total) if total is not None else -1
    return -1


def _txn(command: Any) -> bytes | None:
    return command.transaction_id if command.HasField("transaction_id") else None


@dataclass(frozen=True)
class _Planned:
    """What GetFlightInfo learned: the schema, and the result when the statement already ran."""

    schema: pa.Schema
    result: pa.Table | None


class FlightSqlServer(FlightSqlServerBase):
    """A Flight SQL server over a DuckDB database.

    The server listens as soon as it is constructed; :meth:`serve` blocks until shutdown.

    Parameters
    ----------
    location : str, default "grpc://127.0.0.1:0"
        Where to listen: ``grpc://host:port`` (port 0 picks a free port, see :attr:`port`),
        ``grpc+tls://host:port`` (with ``tls_certificates``) or ``grpc+unix:///socket/path``
        (also ``unix:///socket/path``): the location URIs flightnb's clients read.
    database : str or duckdb.DuckDBPyConnection, default ":memory:"
        A DuckDB database file, ``":memory:"``, or an open connection to serve. A connection
        given is sandboxed like the server's own (external access off, configuration
        locked): load what it needs from files before handing it over.
    sample_size : int, optional
        Create the sample ``trips`` (with this many rows) and ``stations`` tables at start.
    read_only : bool, default False
        Open a database file read-only (reported in GetSqlInfo).
    batch_size : int, default 65536
        Rows per record batch streamed by DoGet.
    timezone : str or None, default "UTC"
        DuckDB's TimeZone for all connections, which decides the zone of ``TIMESTAMPTZ``
        results; None keeps DuckDB's default (the machine's zone).
    endpoints : int, default 1
        Endpoints (row ranges) each table flight is split into, for trying multi-endpoint
        reads; tables with fewer rows get one endpoint per row.
    tls_certificates : sequence of (cert, key), optional
        PEM certificate chains and private keys, for a ``grpc+tls`` location.
    token : str, optional
        The bearer token every call must carry. Without one (and without ``basic_auth``) a
        random token is made; on a loopback address or unix socket it is written to a
        runtime file only this OS user can read, where this user's flightnb clients find it.
    basic_auth : (str, str), optional
        A user name and password that a Handshake trades for a session token.
    auth : bool, default True
        False serves every call without credentials; only on loopback or a unix socket, and
        with a warning.
    allow_dirs : sequence of str, optional
        Directories queries may read and write files in; no other file of the host.
    query_timeout : float, optional
        Seconds a query may run, streaming its result included; then DEADLINE_EXCEEDED.
    max_result_bytes : int, optional
        The largest result (Arrow bytes) a query may return; beyond, RESOURCE_EXHAUSTED.
    max_calls_per_client : int, default 32
        Calls one client (one token or login) may have running at once.
    max_message_bytes : int, default 256 MiB
        The largest message (e.g. one uploaded batch) a client may send.

    Raises
    ------
    ValueError
        For a location beyond this host without TLS or without given credentials, and for
        ``auth=False`` there.

    Examples
    --------
    >>> server = FlightSqlServer(sample_size=1000)
    >>> server.location  # doctest: +ELLIPSIS
    'grpc://127.0.0.1:...'
    >>> server.shutdown()
    """

    def __init__(
        self,
        location: str = "grpc://127.0.0.1:0",
        *,
        database: str | duckdb.DuckDBPyConnection = ":memory:",
        sample_size: int | None = None,
        read_only: bool = False,
        batch_size: int = 65536,
        timezone: str | None = "UTC",
        endpoints: int = 1,
        tls_certificates: Sequence[Any] | None = None,
        token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        auth: bool = True,
        allow_dirs: Sequence[str] = (),
        query_timeout: float | None = None,
        max_result_bytes: int | None = None,
        max_calls_per_client: int = DEFAULT_MAX_CALLS_PER_CLIENT,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        if endpoints < 1:
            raise ValueError(f"endpoints must be at least 1, got {endpoints}")
        given = bool(token) or basic_auth is not None
        listen = parse_listen_location(location)
        check_exposure(
            location,
            tls=listen.tls and bool(tls_certificates),
            authenticated=auth,
            credentials=given,
        )
        self._token: str | None = None
        if auth:
            # Basic logins alone need no token; without any credential, one is made.
            self._token = token or (None if basic_auth is not None else new_token())
        server_auth = ServerAuth(self._token, basic=basic_auth, enabled=auth)
        self._max_result_bytes = max_result_bytes
        self._runtime_file: Path | None = None
        self._spill_dir: Path | None = None
        if isinstance(database, duckdb.DuckDBPyConnection):
            self._db = database
            self._owns_db = False
        else:
            self._db = duckdb.connect(database, read_only=read_only)
            self._owns_db = True
        if timezone is not None:
            self._db.execute("SET GLOBAL TimeZone = ?", [timezone])
        if sample_size is not None:
            load_sample_data(self._db, sample_size)
        self._batch_size = batch_size
        self._endpoints = endpoints
        self._cursor_lock = threading.Lock()
        self._transactions = Transactions(self._db, self._cursor_lock)
        self._prepared = PreparedStatements()
        self._kept = KeptResults()
        self._registry = CancellationRegistry(time_limit=query_timeout)
        self._recent_queries: collections.deque[tuple[str, list[Parameters]]] = collections.deque(
            maxlen=_RECENT_QUERIES
        )
        keywords = [
            row[0]
            for row in self._db.execute(
                "SELECT keyword_name FROM duckdb_keywords() ORDER BY 1"
            ).fetchall()
        ]
        self._sql_info: dict[int, SqlInfoValue] = duckdb_sql_info(
            server_name="flightnb DuckDB Flight SQL server",
            server_version=f"{_version()} (DuckDB {duckdb.__version__})",
            arrow_version=pa.__version__,
            read_only=read_only,
            keywords=keywords,
        )
        # As given for TCP (grpc+tcp stays so); a socket as grpc+unix, which every client reads.
        self._scheme = location.partition("://")[0].lower()
        try:
            # Before the first client query: every connection of the server is confined.
            self._spill_dir = lock_down(self._db, allow_dirs)
            super().__init__(
                location,
                tls_certificates=tls_certificates,
                auth=server_auth,
                max_calls_per_client=max_calls_per_client,
                max_message_bytes=max_message_bytes,
            )
            if self._token is not None:
                self._runtime_file = publish_token(self.location, self._token)
        except BaseException:
            if self._runtime_file is not None:
                remove_entry(self._runtime_file)
            if hasattr(self, "_stopped"):  # listening already
                super().shutdown()
            self._registry.close()
            if self._owns_db:
                self._db.close()
                self._remove_spill_dir()
            raise

    # ------------------------------------------------------------------ lifecycle

    @property
    def location(self) -> str:
        """The URI clients connect to: ``grpc://host:port``, ``grpc+unix:///path``, ..."""
        if self.listen.socket_path is not None:
            return f"grpc+unix://{self.listen.socket_path}"
        host = self.listen.target.rpartition(":")[0]  # IPv6 in brackets, as in the target
        return f"{self._scheme}://{host}:{self.port}"

    @property
    def token(self) -> str | None:
        """The bearer token calls must carry (a secret: never print or log it).

        None when the server takes Basic logins only, or no credentials (``auth=False``).
        Other clients send it as ``authorization: Bearer <token>``.
        """
        return self._token

    @property
    def runtime_file(self) -> Path | None:
        """The runtime file holding the token for this user's clients; None if not written."""
        return self._runtime_file

    def __repr__(self) -> str:
        return f"FlightSqlServer({self.location!r}, auth={self.auth!r})"

    @property
    def batch_size(self) -> int:
        """Rows per record batch that DoGet streams."""
        return self._batch_size

    @property
    def endpoints(self) -> int:
        """Endpoints per table flight."""
        return self._endpoints

    @property
    def database(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection the server was built on (for setup in tests and demos)."""
        return self._db

    @property
    def recent_queries(self) -> list[tuple[str, list[Parameters]]]:
        """The last 100 statements GetFlightInfo planned, oldest first (for tests, diagnostics).

        Each is ``(sql, parameter_sets)``: the SQL text as received and the bound values,
        one list per parameter row (``[None]`` without parameters).
        """
        return list(self._recent_queries)

    @property
    def cancellation(self) -> CancellationRegistry:
        """The registry of running DuckDB work (for tests and diagnostics)."""
        return self._registry

    def shutdown(self) -> None:
        """Stop serving, remove the runtime file, roll back transactions, close the database."""
        if self._runtime_file is not None:
            remove_entry(self._runtime_file)
            self._runtime_file = None
        super().shutdown()
        self._registry.close()
        self._transactions.close()
        if self._owns_db:
            self._db.close()
            self._remove_spill_dir()

    def _remove_spill_dir(self) -> None:
        """Remove DuckDB's private temporary directory, once its database is closed.

        A connection the caller handed over keeps its directory: it may still spill there.
        """
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)
            self._spill_dir = None

    # ------------------------------------------------------------------ connections

    def _new_connection(self) -> duckdb.DuckDBPyConnection:
        with self._cursor_lock:
            return self._db.cursor()

    @contextmanager
    def _connection(
        self,
        transaction_id: bytes | None,
        context: ServerCall | None = None,
        ticket: bytes | None = None,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection for one request (the transaction's, or a fresh one), watched."""
        if transaction_id:
            with self._transactions.using(transaction_id) as con:
                with self._watched(con, context, ticket):
                    yield con
            return
        con = self._new_connection()
        try:
            with self._watched(con, context, ticket):
                yield con
        finally:
            con.close()

    @contextmanager
    def _watched(
        self,
        con: duckdb.DuckDBPyConnection,
        context: ServerCall | None,
        ticket: bytes | None,
    ) -> Iterator[Execution]:
        """Register DuckDB work; a cancellation turns DuckDB's interrupt into CANCELLED."""
        with self._registry.running(con, context=context, ticket=ticket) as execution:
            try:
                yield execution
            except duckdb.InterruptException:
                execution.check()
                raise

    @contextmanager
    def _autocommit_block(
        self, con: duckdb.DuckDBPyConnection, transaction_id: bytes | None
    ) -> Iterator[None]:
        """Make several statements atomic when no client transaction already does."""
        if transaction_id:
            yield
            return
        con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            con.rollback()
            raise
        con.commit()

    # ------------------------------------------------------------------ statements

    def _plan(
        self, con: duckdb.DuckDBPyConnection, query: str, parameter_sets: list[Parameters]
    ) -> _Planned:
        """Bind a read-only SELECT (nothing runs); run anything else now."""
        self._recent_queries.append((query, parameter_sets))
        refuse_escapes(con, query)
        single = len(con.extract_statements(query)) == 1
        relation = con.sql(query, params=parameter_sets[0])
        if relation is not None and relation.type == _QUERY_RELATION and single:
            return _Planned(relation.limit(0).to_arrow_table().schema, None)
        tables = [relation.to_arrow_table() if relation is not None else pa.table({})]
        for parameters in parameter_sets[1:]:
            more = con.sql(query, params=parameters)
            tables.append(more.to_arrow_table() if more is not None else pa.table({}))
        result = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        self._check_result_size(result.nbytes)
        return _Planned(result.schema, result)

    def _check_result_size(self, size: int) -> None:
        """RESOURCE_EXHAUSTED once a result has grown past ``max_result_bytes``."""
        if self._max_result_bytes is not None and size > self._max_result_bytes:
            raise exhausted(
                f"the result is larger than this server's limit of {self._max_result_bytes:,} "
                "bytes; select fewer rows or columns"
            )

    def _result_ticket(self, table: pa.Table) -> bytes:
        data = _ipc_bytes(table)
        if len(data) <= _INLINE_RESULT_LIMIT:
            return encode_ticket(InlineTicket(data))
        return encode_ticket(KeptTicket(self._kept.keep(table)))

    def _flight_info(
        self, descriptor: flight.FlightDescriptor, planned: _Planned, lazy_ticket: bytes
    ) -> flight.FlightInfo:
        if planned.result is None:
            ticket, records = lazy_ticket, -1
        else:
            ticket, records = self._result_ticket(planned.result), planned.result.num_rows
        return flight.FlightInfo(
            planned.schema,
            descriptor,
            [flight.FlightEndpoint(ticket, [])],
            total_records=records,
            total_bytes=-1,
        )

    def get_flight_info_statement(
        self,
        context: ServerCall,
        command: sql.CommandStatementQuery,
        descriptor: flight.FlightDescriptor,
    ) -> flight.FlightInfo:
        transaction_id = _txn(command)
        with self._connection(transaction_id, context) as con:
            planned = self._plan(con, command.query, [None])
        ticket = QueryTicket(command.query, transaction_id, new_nonce())
        return self._flight_info(descriptor, planned, encode_ticket(ticket))

    def get_flight_info_prepared_statement(
        self,
        context: ServerCall,
        command: sql.CommandPreparedStatementQuery,
        descriptor: flight.FlightDescriptor,
    ) -> flight.FlightInfo:
        statement = self._prepared.get(command.prepared_statement_handle)
        with self._connection(statement.transaction_id, context) as con:
            planned = self._plan(con, statement.query, statement.parameter_sets())
        return self._flight_info(
            descriptor, planned, encode_ticket(PreparedTicket(statement.handle))
        )

    # ------------------------------------------------------------------ tables

    def get_flight_info_table(
        self,
        context: ServerCall,
        path: tuple[str, ...],
        descriptor: flight.FlightDescriptor,
    ) -> flight.FlightInfo:
        """The table's schema, exact row count, estimated Arrow size and row-range endpoints."""
        with self._connection(None, context) as con:
            plan = tables.plan_table(con, path, endpoints=self._endpoints)
        endpoints = [flight.FlightEndpoint(encode_ticket(t), []) for t in plan.tickets]
        return flight.FlightInfo(
            plan.schema, descriptor, endpoints, total_records=plan.rows, total_bytes=plan.bytes
        )

    def get_schema_table(self, context: ServerCall, path: tuple[str, ...]) -> pa.Schema:
        with self._connection(None, context) as con:
            relation = con.sql(f"SELECT * FROM {tables.qualified_name(path)} LIMIT 0")
            assert relation is not None
            return relation.to_arrow_table().schema

    def list_tables(self, context: ServerCall, pattern: str) -> list[flight.FlightInfo]:
        with self._connection(None, context) as con:
            rows = con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() "
                "WHERE database_name = current_database() AND table_name LIKE ? "
                "ORDER BY schema_name, table_name",
                [pattern],
            ).fetchall()
        infos = []
        for schema_name, table_name in rows:
            path = (table_name,) if schema_name == "main" else (schema_name, table_name)
            infos.append(
                self.get_flight_info_table(context, path, flight.FlightDescriptor.for_path(*path))
            )
        return infos

    # ------------------------------------------------------------------ streaming

    def do_get_statement(
        self, context: ServerCall, ticket: StatementTicket, raw_ticket: bytes
    ) -> BatchStream:
        if isinstance(ticket, InlineTicket):
            return BatchStream.of_table(_read_ipc(ticket.ipc), max_rows=self._batch_size)
        if isinstance(ticket, KeptTicket):
            return BatchStream.of_table(self._kept.take(ticket.key), max_rows=self._batch_size)
        if self._registry.is_ticket_cancelled(raw_ticket):
            raise cancelled("the query was cancelled")
        if isinstance(ticket, QueryTicket):
            return self._stream(context, raw_ticket, ticket.query, [None], ticket.transaction_id)
        if isinstance(ticket, PreparedTicket):
            statement = self._prepared.get(ticket.handle)
            return self._stream(
                context,
                raw_ticket,
                statement.query,
                statement.parameter_sets(),
                statement.transaction_id,
            )
        return self._stream(context, raw_ticket, tables.table_query(ticket), [None], None)

    def _stream(
        self,
        context: ServerCall,
        ticket: bytes,
        query: str,
        parameter_sets: list[Parameters],
        transaction_id: bytes | None,
    ) -> BatchStream:
        if transaction_id:
            # A transaction's connection serves one request at a time, so its results are
            # read whole rather than holding the connection for as long as a client streams.
            with self._connection(transaction_id, context, ticket) as con:
                refuse_escapes(con, query)
                tables = []
                for parameters in parameter_sets:
                    relation = con.sql(query, params=parameters)
                    assert relation is not None
                    tables.append(relation.to_arrow_table())
                    self._check_result_size(sum(t.nbytes for t in tables))
            return BatchStream.of_table(pa.concat_tables(tables), max_rows=self._batch_size)
        con = self._new_connection()
        execution = self._registry.start(con, context=context, ticket=ticket)
        try:
            execution.check()
            reader = self._open_reader(con, query, parameter_sets[0])
        except BaseException as exc:
            self._registry.finish(execution)
            con.close()
            if isinstance(exc, duckdb.InterruptException):
                execution.check()
            raise
        schema = reader.schema
        batches = self._batches(execution, con, reader, query, parameter_sets[1:])
        # Started now, so that its cleanup runs even if the stream is dropped unread (the
        # client left before the first batch): an unstarted generator skips its finally
        # block, and the execution, with its call, would stay registered.
        next(batches)
        return BatchStream(schema, cast(Iterator[pa.RecordBatch], batches))

    def _open_reader(
        self, con: duckdb.DuckDBPyConnection, query: str, parameters: Parameters
    ) -> pa.RecordBatchReader:
        refuse_escapes(con, query)
        relation = con.sql(query, params=parameters)
        assert relation is not None
        return relation.to_arrow_reader(self._batch_size)

    def _batches(
        self,
        execution: Execution,
        con: duckdb.DuckDBPyConnection,
        reader: pa.RecordBatchReader,
        query: str,
        more_parameters: list[Parameters],
    ) -> Iterator[pa.RecordBatch | None]:
        """Yield None, then the batches of each parameter set in turn; then release all.

        The first None lets the caller start the generator. The execution stays registered
        until the generator ends or is dropped, which pyarrow does before the DoGet call ends.
        """
        try:
            yield None
            try:
                yield from self._checked(execution, reader)
                for parameters in more_parameters:
                    reader.close()
                    reader = self._open_reader(con, query, parameters)
                    yield from self._checked(execution, reader)
            except Exception as exc:
                # DuckDB's reader reports an interrupt as a plain OSError.
                if execution.timed_out:
                    execution.check()
                if execution.cancelled:
                    raise cancelled(execution.reason or "the query was cancelled") from None
                raise flight_error(exc) from None
        finally:
            reader.close()
            self._registry.finish(execution)
            con.close()

    def _checked(
        self, execution: Execution, reader: pa.RecordBatchReader
    ) -> Iterator[pa.RecordBatch]:
        sent = 0
        for batch in reader:
            execution.check()
            sent += batch.nbytes
            self._check_result_size(sent)
            yield batch

    # ------------------------------------------------------------------ cancellation

    def cancel_flight_info(
        self, context: ServerCall, info: flight.FlightInfo
    ) -> Flight_pb2.CancelStatus:
        """Cancel the executions behind ``info``; returns the Flight CancelStatus."""
        status: Flight_pb2.CancelStatus = Flight_pb2.CANCEL_STATUS_NOT_CANCELLABLE
        for endpoint in info.endpoints:
            raw = bytes(endpoint.ticket.ticket)
            try:
                ticket = decode_ticket(raw)
            except TicketError:
                continue
            if not isinstance(ticket, QueryTicket | PreparedTicket | TableTicket):
                continue  # metadata, or a statement that already ran during GetFlightInfo
            # A bare table name is not this flight's own: stop its running reads only.
            remember = not (isinstance(ticket, TableTicket) and not ticket.nonce)
            self._registry.cancel_ticket(raw, remember=remember)
            status = Flight_pb2.CANCEL_STATUS_CANCELLED
        return status

    # ------------------------------------------------------------------ metadata

    def do_get_metadata(self, context: ServerCall, command: Any) -> pa.Table:
        if isinstance(command, sql.CommandGetSqlInfo):
            return sql_info_table(self._sql_info, command.info)
        if isinstance(command, sql.CommandGetTableTypes):
            return metadata.table_types_table()
        if isinstance(command, sql.CommandGetXdbcTypeInfo):
            return metadata.xdbc_type_info_table(command)
        builders: dict[type, Callable[..., pa.Table]] = {
            sql.CommandGetCatalogs: lambda con, _: metadata.catalogs_table(con),
            sql.CommandGetDbSchemas: metadata.db_schemas_table,
            sql.CommandGetTables: metadata.tables_table,
            sql.CommandGetPrimaryKeys: metadata.primary_keys_table,
            sql.CommandGetExportedKeys: metadata.exported_keys_table,
            sql.CommandGetImportedKeys: metadata.imported_keys_table,
            sql.CommandGetCrossReference: metadata.cross_reference_table,
        }
        builder = builders.get(type(command))
        if builder is None:
            raise unsupported(f"{command.DESCRIPTOR.name} is not supported by this server")
        with self._connection(None, context) as con:
            return builder(con, command)

    # ------------------------------------------------------------------ schemas

    def get_schema_statement(
        self, context: ServerCall, command: sql.CommandStatementQuery
    ) -> pa.Schema:
        with self._connection(_txn(command), context) as con:
            return self._query_schema(con, command.query, None)

    def get_schema_prepared_statement(
        self, context: ServerCall, command: sql.CommandPreparedStatementQuery
    ) -> pa.Schema:
        statement = self._prepared.get(command.prepared_statement_handle)
        bound = statement.bound is not None and statement.bound.num_rows > 0
        parameters = statement.parameter_sets()[0] if bound else None
        if parameters is None:
            parameters = _null_parameters(statement.parameter_names)
        with self._connection(statement.transaction_id, context) as con:
            return self._query_schema(con, statement.query, parameters)

    @staticmethod
    def _query_schema(
        con: duckdb.DuckDBPyConnection, query: str, parameters: Parameters
    ) -> pa.Schema:
        """The schema of a single SELECT; an empty schema for statements that would write."""
        refuse_escapes(con, query)
        statements = con.extract_statements(query)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            return pa.schema([])
        relation = con.sql(query, params=parameters)
        if relation is None:
            return pa.schema([])
        return relation.limit(0).to_arrow_table().schema

    # ------------------------------------------------------------------ uploads

    def do_put_command_statement_update(
        self, context: ServerCall, command: sql.CommandStatementUpdate
    ) -> int:
        with self._connection(_txn(command), context) as con:
            return self._execute_update(con, command.query, [None])

    def do_put_prepared_statement_query(
        self,
        context: ServerCall,
        command: sql.CommandPreparedStatementQuery,
        reader: Upload,
    ) -> bytes:
        statement = self._prepared.get(command.prepared_statement_handle)
        statement.bound = reader.read_all()
        return statement.handle

    def do_put_prepared_statement_update(
        self,
        context: ServerCall,
        command: sql.CommandPreparedStatementUpdate,
        reader: Upload,
    ) -> int:
        statement = self._prepared.get(command.prepared_statement_handle)
        bound = reader.read_all()
        if bound.num_columns or bound.num_rows:
            statement.bound = bound
        with self._connection(statement.transaction_id, context) as con:
            return self._execute_update(
                con, statement.query, statement.parameter_sets(), statement.transaction_id
            )

    def _execute_update(
        self,
        con: duckdb.DuckDBPyConnection,
        query: str,
        parameter_sets: list[Parameters],
        transaction_id: bytes | None = None,
    ) -> int:
        refuse_escapes(con, query)
        counts = []
        block = self._autocommit_block(con, transaction_id) if len(parameter_sets) > 1 else None
        with block if block is not None else _noop():
            for parameters in parameter_sets:
                relation = con.sql(query, params=parameters)
                counts.append(
                    _update_count(relation.to_arrow_table()) if relation is not None else -1
                )
        return -1 if any(c < 0 for c in counts) else sum(counts)

    def do_put_table(
        self,
        context: ServerCall,
        path: tuple[str, ...],
        mode: UploadMode,
        reader: Upload,
    ) -> int:
        name = ".".join(path)
        hint = f": upload to path '{name}?mode=append' to append, '{name}?mode=replace' to replace"
        return self._ingest(context, tables.ingest_command(path, mode), reader, hint)

    def do_put_command_statement_ingest(
        self,
        context: ServerCall,
        command: sql.CommandStatementIngest,
        reader: Upload,
    ) -> int:
        return self._ingest(context, command, reader)

    def _ingest(
        self,
        context: ServerCall,
        command: sql.CommandStatementIngest,
        reader: Upload,
        exists_hint: str = "",
    ) -> int:
        transaction_id = _txn(command)
        with self._connection(transaction_id, context) as con:
            with self._autocommit_block(con, transaction_id):
                return tables.ingest(con, command, reader.to_reader(), exists_hint=exists_hint)

    # ------------------------------------------------------------------ actions

    def create_prepared_statement(
        self, context: ServerCall, request: sql.ActionCreatePreparedStatementRequest
    ) -> sql.ActionCreatePreparedStatementResult:
        transaction_id = _txn(request)
        with self._connection(transaction_id, context) as con:
            refuse_escapes(con, request.query)
            names = parameter_names(con, request.query)
            try:
                schema: pa.Schema | None = self._query_schema(
                    con, request.query, _null_parameters(names)
                )
            except duckdb.Error:
                if not names:
                    raise
                # Some statements only bind with real values; the dataset schema is a hint,
                # so leave it out rather than fail the prepare.
                schema = None
        statement = self._prepared.add(request.query, names, transaction_id)
        parameter_schema = pa.schema([pa.field(name, pa.null()) for name in names])
        return sql.ActionCreatePreparedStatementResult(
            prepared_statement_handle=statement.handle,
            dataset_schema=schema.serialize().to_pybytes()
            if schema is not None and len(schema)
            else b"",
            parameter_schema=parameter_schema.serialize().to_pybytes() if names else b"",
        )

    def close_prepared_statement(
        self, context: ServerCall, request: sql.ActionClosePreparedStatementRequest
    ) -> None:
        self._prepared.close(request.prepared_statement_handle)

    def begin_transaction(
        self, context: ServerCall, request: sql.ActionBeginTransactionRequest
    ) -> bytes:
        return self._transactions.begin()

    def end_transaction(
        self, context: ServerCall, request: sql.ActionEndTransactionRequest
    ) -> None:
        commit = request.action == sql.ActionEndTransactionRequest.END_TRANSACTION_COMMIT
        self._transactions.end(request.transaction_id, commit=commit)

    def begin_savepoint(
        self, context: ServerCall, request: sql.ActionBeginSavepointRequest | None
    ) -> bytes:
        raise unsupported("DuckDB has no savepoints")

    def end_savepoint(
        self, context: ServerCall, request: sql.ActionEndSavepointRequest | None
    ) -> None:
        raise unsupported("DuckDB has no savepoints")


@contextmanager
def _noop() -> Iterator[None]:
    yield


def _null_parameters(names: list[str]) -> Parameters:
    """All-NULL values for the parameters, to bind a statement before values are known."""
    if not names:
        return None
    if all(name.isdigit() for name in names):
        return [None] * len(names)
    return dict.fromkeys(names)

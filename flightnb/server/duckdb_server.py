"""A Flight SQL server on ``pyarrow.flight``, backed by DuckDB.

How statements run:

* A single read-only SELECT is planned by GetFlightInfo (DuckDB binds it and reports its
  schema, nothing runs) and executed by DoGet, which streams DuckDB's Arrow record batch reader
  batch by batch. The ticket carries the SQL, so it can be redeemed more than once.
* Anything else (DDL, DML, scripts, SELECTs that write) runs during GetFlightInfo, as clients
  such as ADBC send every ``execute()`` through GetFlightInfo; the small result travels in the
  ticket (or, when large, waits on the server until fetched).
* Every request runs on its own DuckDB connection (``cursor()``), because pyarrow.flight calls
  handlers from several threads. A transaction owns one connection; its requests take turns.
* Parameters are always bound by DuckDB, never written into SQL text.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight

from flightnb._proto import Flight_pb2
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.server import metadata
from flightnb.server.errors import invalid, map_errors, not_found, unsupported
from flightnb.server.sample_data import load_sample_data
from flightnb.server.sql_info import SQL_INFO_SCHEMA, SqlInfoValue, duckdb_sql_info, sql_info_table
from flightnb.server.state import (
    Parameters,
    PreparedStatements,
    Transactions,
    parameter_names,
)
from flightnb.sql.commands import (
    ACTION_BEGIN_SAVEPOINT,
    ACTION_BEGIN_TRANSACTION,
    ACTION_CANCEL_FLIGHT_INFO,
    ACTION_CANCEL_QUERY,
    ACTION_CLOSE_PREPARED_STATEMENT,
    ACTION_CREATE_PREPARED_STATEMENT,
    ACTION_CREATE_PREPARED_SUBSTRAIT_PLAN,
    ACTION_END_SAVEPOINT,
    ACTION_END_TRANSACTION,
    pack,
    unpack,
    unpack_as,
)

__all__ = ["FlightSqlServer"]

_QUERY_RELATION = "QUERY_RELATION"
# Results of statements that already ran travel inside the ticket up to this size.
_INLINE_RESULT_LIMIT = 1 << 20
_KEPT_RESULTS = 64
_REMEMBERED_CANCELS = 1024

# Ticket kinds, the first byte of TicketStatementQuery.statement_handle.
_QUERY, _PREPARED, _INLINE, _KEPT = b"Q", b"P", b"I", b"K"

_ACTIONS = [
    (ACTION_CREATE_PREPARED_STATEMENT, "Prepare a SQL statement"),
    (ACTION_CLOSE_PREPARED_STATEMENT, "Close a prepared statement"),
    (ACTION_BEGIN_TRANSACTION, "Begin a transaction"),
    (ACTION_END_TRANSACTION, "Commit or roll back a transaction"),
    (ACTION_CANCEL_FLIGHT_INFO, "Cancel the execution behind a FlightInfo"),
    (ACTION_CANCEL_QUERY, "Cancel a query (deprecated form of CancelFlightInfo)"),
]


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


@dataclass(frozen=True)
class _Planned:
    """What GetFlightInfo learned: the schema, and the result when the statement already ran."""

    schema: pa.Schema
    result: pa.Table | None


class FlightSqlServer(flight.FlightServerBase):  # type: ignore[misc]
    """A Flight SQL server over a DuckDB database.

    The server listens as soon as it is constructed; :meth:`serve` blocks until shutdown.

    Parameters
    ----------
    location : str, default "grpc://127.0.0.1:0"
        Where to listen; port 0 picks a free port (see :attr:`port`).
    database : str or duckdb.DuckDBPyConnection, default ":memory:"
        A DuckDB database file, ``":memory:"``, or an open connection to serve.
    sample_size : int, optional
        Create the sample ``trips`` (with this many rows) and ``stations`` tables at start.
    read_only : bool, default False
        Open a database file read-only (reported in GetSqlInfo).
    batch_size : int, default 65536
        Rows per record batch streamed by DoGet.
    timezone : str or None, default "UTC"
        DuckDB's TimeZone for all connections, which decides the zone of ``TIMESTAMPTZ``
        results; None keeps DuckDB's default (the machine's zone).
    **kwargs
        Passed to :class:`pyarrow.flight.FlightServerBase` (TLS, auth, middleware).

    Examples
    --------
    >>> server = FlightSqlServer(sample_size=1000)
    >>> server.location  # doctest: +SKIP
    'grpc://127.0.0.1:40123'
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
        **kwargs: Any,
    ) -> None:
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
        self._cursor_lock = threading.Lock()
        self._transactions = Transactions(self._db, self._cursor_lock)
        self._prepared = PreparedStatements()
        self._kept: OrderedDict[bytes, pa.Table] = OrderedDict()
        self._running: dict[bytes, set[duckdb.DuckDBPyConnection]] = {}
        self._cancelled: OrderedDict[bytes, None] = OrderedDict()
        self._state_lock = threading.Lock()
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
        self._host = location.split("://", 1)[-1].rsplit(":", 1)[0]
        super().__init__(location, **kwargs)

    # ------------------------------------------------------------------ lifecycle

    @property
    def location(self) -> str:
        """The ``grpc://host:port`` URI clients connect to."""
        return f"grpc://{self._host}:{self.port}"

    @property
    def batch_size(self) -> int:
        """Rows per record batch that DoGet streams."""
        return self._batch_size

    @property
    def database(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection the server was built on (for setup in tests and demos)."""
        return self._db

    def shutdown(self) -> None:
        """Stop serving, roll back open transactions and close the database."""
        super().shutdown()
        self._transactions.close()
        if self._owns_db:
            self._db.close()

    # ------------------------------------------------------------------ connections

    def _new_connection(self) -> duckdb.DuckDBPyConnection:
        with self._cursor_lock:
            return self._db.cursor()

    @contextmanager
    def _connection(self, transaction_id: bytes | None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection for one request: the transaction's, or a fresh one."""
        if transaction_id:
            with self._transactions.using(transaction_id) as con:
                yield con
            return
        con = self._new_connection()
        try:
            yield con
        finally:
            con.close()

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
        single = len(con.extract_statements(query)) == 1
        relation = con.sql(query, params=parameter_sets[0])
        if relation is not None and relation.type == _QUERY_RELATION and single:
            return _Planned(relation.limit(0).to_arrow_table().schema, None)
        tables = [relation.to_arrow_table() if relation is not None else pa.table({})]
        for parameters in parameter_sets[1:]:
            more = con.sql(query, params=parameters)
            tables.append(more.to_arrow_table() if more is not None else pa.table({}))
        result = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        return _Planned(result.schema, result)

    def _result_ticket(self, table: pa.Table) -> bytes:
        data = _ipc_bytes(table)
        if len(data) <= _INLINE_RESULT_LIMIT:
            return _INLINE + data
        key = secrets.token_bytes(16)
        with self._state_lock:
            self._kept[key] = table
            while len(self._kept) > _KEPT_RESULTS:
                self._kept.popitem(last=False)
        return _KEPT + key

    def _flight_info(
        self,
        descriptor: flight.FlightDescriptor,
        planned: _Planned,
        lazy_handle: bytes,
    ) -> flight.FlightInfo:
        if planned.result is None:
            handle, records = lazy_handle, -1
        else:
            handle, records = self._result_ticket(planned.result), planned.result.num_rows
        ticket = pack(sql.TicketStatementQuery(statement_handle=handle))
        return flight.FlightInfo(
            planned.schema,
            descriptor,
            [flight.FlightEndpoint(ticket, [])],
            total_records=records,
            total_bytes=-1,
        )

    def _statement_info(
        self, descriptor: flight.FlightDescriptor, command: sql.CommandStatementQuery
    ) -> flight.FlightInfo:
        transaction_id = command.transaction_id if command.HasField("transaction_id") else None
        with self._connection(transaction_id) as con:
            planned = self._plan(con, command.query, [None])
        state = {"sql": command.query, "txn": transaction_id.hex() if transaction_id else None}
        return self._flight_info(descriptor, planned, _QUERY + json.dumps(state).encode())

    def _prepared_info(
        self, descriptor: flight.FlightDescriptor, command: sql.CommandPreparedStatementQuery
    ) -> flight.FlightInfo:
        statement = self._prepared.get(command.prepared_statement_handle)
        with self._connection(statement.transaction_id) as con:
            planned = self._plan(con, statement.query, statement.parameter_sets())
        return self._flight_info(descriptor, planned, _PREPARED + statement.handle)

    # ------------------------------------------------------------------ streaming

    def _stream(
        self,
        ticket: bytes,
        query: str,
        parameter_sets: list[Parameters],
        transaction_id: bytes | None,
    ) -> flight.FlightDataStream:
        if transaction_id:
            # A transaction's connection serves one request at a time, so its results are
            # read whole rather than holding the connection for as long as a client streams.
            with self._transactions.using(transaction_id) as con:
                tables = []
                for parameters in parameter_sets:
                    relation = con.sql(query, params=parameters)
                    assert relation is not None
                    tables.append(relation.to_arrow_table())
            return flight.RecordBatchStream(pa.concat_tables(tables))
        con = self._new_connection()
        self._track(ticket, con)
        try:
            reader = self._open_reader(con, query, parameter_sets[0])
        except BaseException:
            self._untrack(ticket, con)
            con.close()
            raise
        schema = reader.schema
        batches = self._batches(ticket, con, reader, query, parameter_sets[1:])
        # GeneratorStream sends bare record batches without the dictionaries of
        # dictionary-encoded columns (DuckDB ENUMs), which clients then cannot read; wrapped
        # in a reader each batch goes out with its dictionaries. Errors raised by the
        # generator itself keep their Flight status code (e.g. CANCELLED), unlike errors
        # raised inside a reader that pyarrow drains.
        return flight.GeneratorStream(
            schema, (pa.RecordBatchReader.from_batches(schema, [batch]) for batch in batches)
        )

    def _open_reader(
        self, con: duckdb.DuckDBPyConnection, query: str, parameters: Parameters
    ) -> pa.RecordBatchReader:
        relation = con.sql(query, params=parameters)
        assert relation is not None
        return relation.to_arrow_reader(self._batch_size)

    def _batches(
        self,
        ticket: bytes,
        con: duckdb.DuckDBPyConnection,
        reader: pa.RecordBatchReader,
        query: str,
        more_parameters: list[Parameters],
    ) -> Iterator[pa.RecordBatch]:
        """Yield the record batches of each parameter set in turn, then release the cursor."""
        try:
            with map_errors():
                try:
                    yield from self._checked(ticket, reader)
                    for parameters in more_parameters:
                        reader.close()
                        reader = self._open_reader(con, query, parameters)
                        yield from self._checked(ticket, reader)
                except Exception:
                    # DuckDB's reader reports an interrupt as a plain OSError.
                    if self._is_cancelled(ticket):
                        raise flight.FlightCancelledError("the query was cancelled") from None
                    raise
        finally:
            reader.close()
            self._untrack(ticket, con)
            con.close()

    def _checked(self, ticket: bytes, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for batch in reader:
            if self._is_cancelled(ticket):
                raise flight.FlightCancelledError("the query was cancelled")
            yield batch

    # ------------------------------------------------------------------ cancellation

    def _track(self, ticket: bytes, con: duckdb.DuckDBPyConnection) -> None:
        with self._state_lock:
            self._running.setdefault(ticket, set()).add(con)

    def _untrack(self, ticket: bytes, con: duckdb.DuckDBPyConnection) -> None:
        with self._state_lock:
            running = self._running.get(ticket)
            if running is not None:
                running.discard(con)
                if not running:
                    del self._running[ticket]

    def _is_cancelled(self, ticket: bytes) -> bool:
        with self._state_lock:
            return ticket in self._cancelled

    def _cancel(self, info: flight.FlightInfo) -> Flight_pb2.CancelStatus:
        """Cancel the executions behind ``info``; returns the Flight CancelStatus."""
        status: Flight_pb2.CancelStatus = Flight_pb2.CANCEL_STATUS_NOT_CANCELLABLE
        for endpoint in info.endpoints:
            ticket = endpoint.ticket.ticket
            try:
                handle = unpack_as(ticket, sql.TicketStatementQuery).statement_handle
            except ValueError:
                continue
            if handle[:1] not in (_QUERY, _PREPARED):
                continue  # the statement already ran during GetFlightInfo
            with self._state_lock:
                self._cancelled[ticket] = None
                while len(self._cancelled) > _REMEMBERED_CANCELS:
                    self._cancelled.popitem(last=False)
                running = list(self._running.get(ticket, ()))
            for con in running:
                con.interrupt()
            status = Flight_pb2.CANCEL_STATUS_CANCELLED
        return status

    # ------------------------------------------------------------------ metadata

    def _metadata_table(self, command: Any) -> pa.Table:
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
        with self._connection(None) as con:
            return builder(con, command)

    @staticmethod
    def _metadata_schema(command: Any) -> pa.Schema | None:
        if isinstance(command, sql.CommandGetTables):
            return (
                metadata.TABLES_SCHEMA_WITH_SCHEMA
                if command.include_schema
                else metadata.TABLES_SCHEMA
            )
        schemas: dict[type, pa.Schema] = {
            sql.CommandGetSqlInfo: SQL_INFO_SCHEMA,
            sql.CommandGetTableTypes: metadata.TABLE_TYPES_SCHEMA,
            sql.CommandGetXdbcTypeInfo: metadata.XDBC_TYPE_INFO_SCHEMA,
            sql.CommandGetCatalogs: metadata.CATALOGS_SCHEMA,
            sql.CommandGetDbSchemas: metadata.DB_SCHEMAS_SCHEMA,
            sql.CommandGetPrimaryKeys: metadata.PRIMARY_KEYS_SCHEMA,
            sql.CommandGetExportedKeys: metadata.KEYS_SCHEMA,
            sql.CommandGetImportedKeys: metadata.KEYS_SCHEMA,
            sql.CommandGetCrossReference: metadata.KEYS_SCHEMA,
        }
        return schemas.get(type(command))

    # ------------------------------------------------------------------ Flight RPCs

    @staticmethod
    def _command(descriptor: flight.FlightDescriptor, *, upload: bool = False) -> Any:
        """The Flight SQL command a descriptor stands for.

        Besides packed Flight SQL commands, a PATH descriptor names a table, so plain Flight
        clients can read it (``SELECT *``) and upload to it (create, then append).
        """
        if descriptor.descriptor_type == flight.DescriptorType.PATH:
            parts = [p.decode() if isinstance(p, bytes) else str(p) for p in descriptor.path]
            if not parts or len(parts) > 3 or not all(parts):
                raise invalid("a path names a table: [catalog, [schema,]] table")
            if upload:
                options = sql.CommandStatementIngest.TableDefinitionOptions
                ingest = sql.CommandStatementIngest(
                    table=parts[-1],
                    table_definition_options=options(
                        if_not_exist=options.TABLE_NOT_EXIST_OPTION_CREATE,
                        if_exists=options.TABLE_EXISTS_OPTION_APPEND,
                    ),
                )
                if len(parts) >= 2:
                    ingest.schema = parts[-2]
                if len(parts) == 3:
                    ingest.catalog = parts[0]
                return ingest
            table = ".".join(metadata.quote_identifier(p) for p in parts)
            return sql.CommandStatementQuery(query=f"SELECT * FROM {table}")
        if descriptor.descriptor_type != flight.DescriptorType.CMD:
            raise invalid("expected a CMD descriptor holding a Flight SQL command, or a PATH")
        return unpack(descriptor.command)

    def list_flights(
        self, context: flight.ServerCallContext, criteria: bytes
    ) -> Iterator[flight.FlightInfo]:
        """Every table, as a PATH flight (``criteria``, if given, filters names by LIKE)."""
        pattern = criteria.decode() if criteria else "%"
        with map_errors(), self._connection(None) as con:
            rows = con.execute(
                "SELECT schema_name, table_name, estimated_size FROM duckdb_tables() "
                "WHERE database_name = current_database() AND table_name LIKE ? "
                "ORDER BY schema_name, table_name",
                [pattern],
            ).fetchall()
        for schema_name, table_name, estimated in rows:
            path = [table_name] if schema_name == "main" else [schema_name, table_name]
            descriptor = flight.FlightDescriptor.for_path(*path)
            info = self.get_flight_info(context, descriptor)
            yield flight.FlightInfo(
                info.schema,
                descriptor,
                info.endpoints,
                estimated if estimated is not None else -1,
                -1,
            )

    def get_flight_info(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        """Plan a statement, a prepared statement or a metadata request."""
        with map_errors():
            command = self._command(descriptor)
            if isinstance(command, sql.CommandStatementQuery):
                return self._statement_info(descriptor, command)
            if isinstance(command, sql.CommandPreparedStatementQuery):
                return self._prepared_info(descriptor, command)
            if isinstance(command, sql.CommandStatementSubstraitPlan):
                raise unsupported("Substrait plans are not supported by this server")
            table = self._metadata_table(command)
            # The ticket is the command itself; DoGet answers it afresh.
            endpoint = flight.FlightEndpoint(descriptor.command, [])
            return flight.FlightInfo(
                table.schema,
                descriptor,
                [endpoint],
                total_records=table.num_rows,
                total_bytes=table.nbytes,
            )

    def get_schema(
        self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor
    ) -> flight.SchemaResult:
        """The result schema of a command, without running it."""
        with map_errors():
            command = self._command(descriptor)
            schema = self._metadata_schema(command)
            if schema is not None:
                return flight.SchemaResult(schema)
            if isinstance(command, sql.CommandStatementQuery):
                query, transaction_id = (
                    command.query,
                    (command.transaction_id if command.HasField("transaction_id") else None),
                )
                parameters: Parameters = None
            elif isinstance(command, sql.CommandPreparedStatementQuery):
                statement = self._prepared.get(command.prepared_statement_handle)
                query, transaction_id = statement.query, statement.transaction_id
                bound = statement.bound is not None and statement.bound.num_rows > 0
                parameters = statement.parameter_sets()[0] if bound else None
                if parameters is None:
                    parameters = _null_parameters(statement.parameter_names)
            else:
                raise unsupported(f"GetSchema of {command.DESCRIPTOR.name} is not supported")
            with self._connection(transaction_id) as con:
                return flight.SchemaResult(self._query_schema(con, query, parameters))

    @staticmethod
    def _query_schema(
        con: duckdb.DuckDBPyConnection, query: str, parameters: Parameters
    ) -> pa.Schema:
        """The schema of a single SELECT; an empty schema for statements that would write."""
        statements = con.extract_statements(query)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            return pa.schema([])
        relation = con.sql(query, params=parameters)
        if relation is None:
            return pa.schema([])
        return relation.limit(0).to_arrow_table().schema

    def do_get(
        self, context: flight.ServerCallContext, ticket: flight.Ticket
    ) -> flight.FlightDataStream:
        """Stream a statement's result, or answer a metadata request."""
        with map_errors():
            data = ticket.ticket
            command = unpack(data)
            if not isinstance(command, sql.TicketStatementQuery):
                return flight.RecordBatchStream(self._metadata_table(command))
            handle = command.statement_handle
            kind, rest = handle[:1], handle[1:]
            if self._is_cancelled(data):
                raise flight.FlightCancelledError("the query was cancelled")
            if kind == _INLINE:
                return flight.RecordBatchStream(_read_ipc(rest))
            if kind == _KEPT:
                with self._state_lock:
                    table = self._kept.pop(rest, None)
                if table is None:
                    raise not_found("the statement result was already fetched or expired")
                return flight.RecordBatchStream(table)
            if kind == _QUERY:
                try:
                    state = json.loads(rest)
                except ValueError as exc:
                    raise invalid("malformed statement ticket") from exc
                transaction_id = bytes.fromhex(state["txn"]) if state.get("txn") else None
                return self._stream(data, state["sql"], [None], transaction_id)
            if kind == _PREPARED:
                statement = self._prepared.get(rest)
                return self._stream(
                    data, statement.query, statement.parameter_sets(), statement.transaction_id
                )
            raise invalid("malformed statement ticket")

    def do_put(
        self,
        context: flight.ServerCallContext,
        descriptor: flight.FlightDescriptor,
        reader: flight.MetadataRecordBatchReader,
        writer: flight.FlightMetadataWriter,
    ) -> None:
        """Run updates, bind prepared statement parameters, or ingest a stream."""
        with map_errors():
            command = self._command(descriptor, upload=True)
            if isinstance(command, sql.CommandStatementUpdate):
                transaction_id = (
                    command.transaction_id if command.HasField("transaction_id") else None
                )
                with self._connection(transaction_id) as con:
                    count = self._execute_update(con, command.query, [None])
                self._write_update_result(writer, count)
            elif isinstance(command, sql.CommandPreparedStatementQuery):
                statement = self._prepared.get(command.prepared_statement_handle)
                statement.bound = reader.read_all()
                result = sql.DoPutPreparedStatementResult(
                    prepared_statement_handle=statement.handle
                )
                writer.write(pa.py_buffer(result.SerializeToString()))
            elif isinstance(command, sql.CommandPreparedStatementUpdate):
                statement = self._prepared.get(command.prepared_statement_handle)
                bound = reader.read_all()
                if bound.num_columns or bound.num_rows:
                    statement.bound = bound
                with self._connection(statement.transaction_id) as con:
                    count = self._execute_update(
                        con, statement.query, statement.parameter_sets(), statement.transaction_id
                    )
                self._write_update_result(writer, count)
            elif isinstance(command, sql.CommandStatementIngest):
                self._write_update_result(writer, self._ingest(command, reader))
            elif isinstance(command, sql.CommandStatementSubstraitPlan):
                raise unsupported("Substrait plans are not supported by this server")
            else:
                raise unsupported(f"DoPut with {command.DESCRIPTOR.name} is not supported")

    @staticmethod
    def _write_update_result(writer: flight.FlightMetadataWriter, count: int) -> None:
        writer.write(pa.py_buffer(sql.DoPutUpdateResult(record_count=count).SerializeToString()))

    def _execute_update(
        self,
        con: duckdb.DuckDBPyConnection,
        query: str,
        parameter_sets: list[Parameters],
        transaction_id: bytes | None = None,
    ) -> int:
        counts = []
        with self._autocommit_block(con, transaction_id) if len(parameter_sets) > 1 else _noop():
            for parameters in parameter_sets:
                relation = con.sql(query, params=parameters)
                counts.append(
                    _update_count(relation.to_arrow_table()) if relation is not None else -1
                )
        return -1 if any(c < 0 for c in counts) else sum(counts)

    def _ingest(
        self, command: sql.CommandStatementIngest, reader: flight.MetadataRecordBatchReader
    ) -> int:
        options = command.table_definition_options
        opts = sql.CommandStatementIngest.TableDefinitionOptions
        if options.if_not_exist == opts.TABLE_NOT_EXIST_OPTION_UNSPECIFIED:
            raise invalid("ingest needs table_definition_options.if_not_exist")
        if options.if_exists == opts.TABLE_EXISTS_OPTION_UNSPECIFIED:
            raise invalid("ingest needs table_definition_options.if_exists")
        if command.temporary:
            # DuckDB's temporary tables belong to one connection, and this server uses a new
            # connection per request: the table would vanish when the call ends.
            raise unsupported("temporary ingestion is not supported by this server")
        if not command.table:
            raise invalid("ingest needs a table name")
        transaction_id = command.transaction_id if command.HasField("transaction_id") else None
        parts = [command.table]
        if command.HasField("schema"):
            parts.insert(0, command.schema)
            if command.HasField("catalog"):
                parts.insert(0, command.catalog)
        elif command.HasField("catalog"):
            parts[:0] = [command.catalog, "main"]
        target = ".".join(metadata.quote_identifier(p) for p in parts)
        source = f"_flightnb_ingest_{secrets.token_hex(8)}"
        with self._connection(transaction_id) as con, self._autocommit_block(con, transaction_id):
            exists = self._table_exists(con, command)
            if exists and options.if_exists == opts.TABLE_EXISTS_OPTION_FAIL:
                raise pa.ArrowInvalid(f"table {'.'.join(parts)} already exists")
            if not exists and options.if_not_exist == opts.TABLE_NOT_EXIST_OPTION_FAIL:
                raise not_found(f"table {'.'.join(parts)} does not exist")
            con.register(source, reader.to_reader())
            try:
                if exists and options.if_exists == opts.TABLE_EXISTS_OPTION_APPEND:
                    rows = con.execute(
                        f"INSERT INTO {target} BY NAME SELECT * FROM {source}"
                    ).fetchall()
                else:
                    verb = "CREATE OR REPLACE TABLE" if exists else "CREATE TABLE"
                    rows = con.execute(f"{verb} {target} AS SELECT * FROM {source}").fetchall()
            finally:
                con.unregister(source)
        # DuckDB's fetch*() must drain a result before the connection runs anything else.
        return int(rows[0][0]) if rows else -1

    @staticmethod
    def _table_exists(con: duckdb.DuckDBPyConnection, command: sql.CommandStatementIngest) -> bool:
        clauses, params = ["table_name = ?"], [command.table]
        if command.HasField("schema"):
            clauses.append("schema_name = ?")
            params.append(command.schema)
        else:
            clauses.append("schema_name = current_schema()")
        if command.HasField("catalog"):
            clauses.append("database_name = ?")
            params.append(command.catalog)
        else:
            clauses.append("database_name = current_database()")
        query = "SELECT count(*) FROM duckdb_tables() WHERE " + " AND ".join(clauses)
        rows = con.execute(query, params).fetchall()
        return bool(rows[0][0])

    def do_action(
        self, context: flight.ServerCallContext, action: flight.Action
    ) -> Iterator[bytes]:
        """Prepared statements, transactions and cancellation."""
        with map_errors():
            kind = action.type
            body = action.body.to_pybytes() if action.body is not None else b""
            request: Any
            result: Any
            if kind == ACTION_CREATE_PREPARED_STATEMENT:
                request = unpack_as(body, sql.ActionCreatePreparedStatementRequest)
                return iter([pack(self._create_prepared(request))])
            if kind == ACTION_CLOSE_PREPARED_STATEMENT:
                request = unpack_as(body, sql.ActionClosePreparedStatementRequest)
                self._prepared.close(request.prepared_statement_handle)
                return iter([])
            if kind == ACTION_BEGIN_TRANSACTION:
                unpack_as(body, sql.ActionBeginTransactionRequest)
                result = sql.ActionBeginTransactionResult(transaction_id=self._transactions.begin())
                return iter([pack(result)])
            if kind == ACTION_END_TRANSACTION:
                request = unpack_as(body, sql.ActionEndTransactionRequest)
                end = sql.ActionEndTransactionRequest
                if request.action not in (end.END_TRANSACTION_COMMIT, end.END_TRANSACTION_ROLLBACK):
                    raise invalid("EndTransaction needs COMMIT or ROLLBACK")
                self._transactions.end(
                    request.transaction_id, commit=request.action == end.END_TRANSACTION_COMMIT
                )
                return iter([])
            if kind == ACTION_CANCEL_FLIGHT_INFO:
                request = Flight_pb2.CancelFlightInfoRequest.FromString(body)
                info = flight.FlightInfo.deserialize(request.info.SerializeToString())
                result = Flight_pb2.CancelFlightInfoResult(status=self._cancel(info))
                return iter([result.SerializeToString()])
            if kind == ACTION_CANCEL_QUERY:
                request = unpack_as(body, sql.ActionCancelQueryRequest)
                status = self._cancel(flight.FlightInfo.deserialize(request.info))
                cancel = sql.ActionCancelQueryResult
                result = cancel(
                    result=cancel.CANCEL_RESULT_CANCELLED
                    if status == Flight_pb2.CANCEL_STATUS_CANCELLED
                    else cancel.CANCEL_RESULT_NOT_CANCELLABLE
                )
                return iter([pack(result)])
            if kind in (ACTION_BEGIN_SAVEPOINT, ACTION_END_SAVEPOINT):
                raise unsupported("DuckDB has no savepoints")
            if kind == ACTION_CREATE_PREPARED_SUBSTRAIT_PLAN:
                raise unsupported("Substrait plans are not supported by this server")
            raise unsupported(f"unknown action {kind!r}")

    def _create_prepared(
        self, request: sql.ActionCreatePreparedStatementRequest
    ) -> sql.ActionCreatePreparedStatementResult:
        transaction_id = request.transaction_id if request.HasField("transaction_id") else None
        with self._connection(transaction_id) as con:
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

    def list_actions(self, context: flight.ServerCallContext) -> list[tuple[str, str]]:
        """The Flight SQL actions this server implements."""
        return list(_ACTIONS)


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

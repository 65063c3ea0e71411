"""Flight SQL dispatch: each request unpacked once, one typed method each.

:class:`FlightSqlServerBase` implements the Flight RPCs. Each one decodes its descriptor,
ticket or action body once and calls one typed method, as Arrow C++'s ``FlightSqlServerBase``
does; a backend overrides only those. Every typed method not overridden answers UNIMPLEMENTED.

==================================  ==================================================
request                             typed method
==================================  ==================================================
GetFlightInfo(CommandStatementQuery)   ``get_flight_info_statement(context, command, descriptor)``
GetFlightInfo(CommandPreparedStatementQuery) ``get_flight_info_prepared_statement(...)``
GetFlightInfo(CommandGet<Meta>)     ``get_flight_info_metadata(context, command, descriptor)``
GetFlightInfo(PATH)                 ``get_flight_info_table(context, path, descriptor)``
GetSchema(...)                      ``get_schema_statement`` / ``get_schema_prepared_statement``
DoGet(statement or table ticket)    ``do_get_statement(context, ticket, raw_ticket)``
DoGet(CommandGet<Meta>)             ``do_get_metadata(context, command)`` (a ``pa.Table``)
DoPut(CommandStatementUpdate)       ``do_put_command_statement_update(context, command)``
DoPut(CommandPreparedStatementQuery) ``do_put_prepared_statement_query(context, command, reader)``
DoPut(CommandPreparedStatementUpdate) ``do_put_prepared_statement_update(...)``
DoPut(CommandStatementIngest)       ``do_put_command_statement_ingest(context, command, reader)``
DoPut(PATH)                         ``do_put_table(context, path, mode, reader)``
action CreatePreparedStatement      ``create_prepared_statement(context, request)``
action ClosePreparedStatement       ``close_prepared_statement(context, request)``
action BeginTransaction             ``begin_transaction(context, request)``
action EndTransaction               ``end_transaction(context, request)``
action BeginSavepoint, EndSavepoint ``begin_savepoint`` / ``end_savepoint``
action CancelFlightInfo, CancelQuery ``cancel_flight_info(context, info)``
ListFlights                         ``list_tables(context, pattern)``
==================================  ==================================================

The updates (``do_put_*`` returning a row count) are answered with a Flight SQL
``DoPutUpdateResult``. The RPCs themselves are served by
:class:`flightnb.server.service.FlightServer`, which also turns every error a typed method
raises into its gRPC status, once.

A PATH descriptor names a table: ``[catalog, [schema,]] table``. For uploads the last element
may end in ``?mode=<mode>`` (see :class:`UploadMode`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from flightnb._proto import Flight_pb2
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.protocol.commands import (
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
from flightnb.server.calls import BatchStream, ServerCall, Upload
from flightnb.server.errors import invalid, unsupported
from flightnb.server.metadata import (
    CATALOGS_SCHEMA,
    DB_SCHEMAS_SCHEMA,
    KEYS_SCHEMA,
    PRIMARY_KEYS_SCHEMA,
    TABLE_TYPES_SCHEMA,
    TABLES_SCHEMA,
    TABLES_SCHEMA_WITH_SCHEMA,
    XDBC_TYPE_INFO_SCHEMA,
)
from flightnb.server.service import FlightServer
from flightnb.server.sql_info import SQL_INFO_SCHEMA
from flightnb.server.tickets import CommandTicket, StatementTicket, decode_ticket

__all__ = ["METADATA_COMMANDS", "FlightSqlServerBase", "UploadMode", "parse_path"]

METADATA_COMMANDS: tuple[type[Any], ...] = (
    sql.CommandGetSqlInfo,
    sql.CommandGetTableTypes,
    sql.CommandGetXdbcTypeInfo,
    sql.CommandGetCatalogs,
    sql.CommandGetDbSchemas,
    sql.CommandGetTables,
    sql.CommandGetPrimaryKeys,
    sql.CommandGetExportedKeys,
    sql.CommandGetImportedKeys,
    sql.CommandGetCrossReference,
)
"""The catalog commands, answered by ``do_get_metadata`` with the schema the spec fixes."""

_METADATA_SCHEMAS: dict[type[Any], pa.Schema] = {
    sql.CommandGetSqlInfo: SQL_INFO_SCHEMA,
    sql.CommandGetTableTypes: TABLE_TYPES_SCHEMA,
    sql.CommandGetXdbcTypeInfo: XDBC_TYPE_INFO_SCHEMA,
    sql.CommandGetCatalogs: CATALOGS_SCHEMA,
    sql.CommandGetDbSchemas: DB_SCHEMAS_SCHEMA,
    sql.CommandGetTables: TABLES_SCHEMA,
    sql.CommandGetPrimaryKeys: PRIMARY_KEYS_SCHEMA,
    sql.CommandGetExportedKeys: KEYS_SCHEMA,
    sql.CommandGetImportedKeys: KEYS_SCHEMA,
    sql.CommandGetCrossReference: KEYS_SCHEMA,
}

_ACTIONS = [
    (ACTION_CREATE_PREPARED_STATEMENT, "Prepare a SQL statement"),
    (ACTION_CLOSE_PREPARED_STATEMENT, "Close a prepared statement"),
    (ACTION_BEGIN_TRANSACTION, "Begin a transaction"),
    (ACTION_END_TRANSACTION, "Commit or roll back a transaction"),
    (ACTION_CANCEL_FLIGHT_INFO, "Cancel the execution behind a FlightInfo"),
    (ACTION_CANCEL_QUERY, "Cancel a query (deprecated form of CancelFlightInfo)"),
]


class UploadMode(enum.Enum):
    """What a PATH DoPut does when the table exists, chosen by a ``?mode=`` path suffix.

    ``create`` (no suffix)
        Create the table; refuse the upload if it exists.
    ``append``
        Append to the table, which must exist.
    ``replace``
        Replace the table, or create it.
    ``create_append``
        Append, creating the table if needed.

    The names are ADBC's ingest modes. ``FlightDescriptor.for_path("trips?mode=append")``
    appends to ``trips``.
    """

    CREATE = "create"
    APPEND = "append"
    REPLACE = "replace"
    CREATE_APPEND = "create_append"


def parse_path(descriptor: flight.FlightDescriptor) -> tuple[tuple[str, ...], UploadMode]:
    """The table a PATH descriptor names, and the upload mode of its ``?mode=`` suffix."""
    parts = [p.decode() if isinstance(p, bytes) else str(p) for p in descriptor.path]
    mode = UploadMode.CREATE
    if parts and "?" in parts[-1]:
        parts[-1], _, query = parts[-1].partition("?")
        key, _, value = query.partition("=")
        try:
            if key != "mode":
                raise ValueError(key)
            mode = UploadMode(value)
        except ValueError:
            names = ", ".join(m.value for m in UploadMode)
            raise invalid(f"unknown path option {query!r}: use ?mode=<{names}>") from None
    if not parts or len(parts) > 3 or not all(parts):
        raise invalid("a path names a table: [catalog, [schema,]] table")
    return tuple(parts), mode


def _command(descriptor: flight.FlightDescriptor) -> Any:
    if descriptor.descriptor_type != flight.DescriptorType.CMD:
        raise invalid("expected a CMD descriptor holding a Flight SQL command, or a PATH")
    return unpack(descriptor.command)


def _is_path(descriptor: flight.FlightDescriptor) -> bool:
    return bool(descriptor.descriptor_type == flight.DescriptorType.PATH)


class FlightSqlServerBase(FlightServer):
    """Flight RPCs decoded once and sent to typed methods; see the module docstring."""

    # ------------------------------------------------------------------ typed methods

    def get_flight_info_statement(
        self,
        context: ServerCall,
        command: sql.CommandStatementQuery,
        descriptor: flight.FlightDescriptor,
    ) -> flight.FlightInfo:
        raise unsupported("SQL queries are not supported by this server")

    def get_flight_info_prepared_statement(
        self,
        context: ServerCall,
        command: sql.CommandPreparedStatementQuery,
        descriptor: flight.FlightDescriptor,
    ) -> flight.FlightInfo:
        raise unsupported("prepared statements are not supported by this server")

    def get_flight_info_table(
        self,
        context: ServerCall,
        path: tuple[str, ...],
        descriptor: flight.FlightDescriptor,
    ) -> flight.FlightInfo:
        raise unsupported("PATH flights are not supported by this server")

    def get_flight_info_metadata(
        self, context: ServerCall, command: Any, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        """One endpoint whose ticket is the command; sizes from answering it once."""
        table = self.do_get_metadata(context, command)
        return flight.FlightInfo(
            table.schema,
            descriptor,
            [flight.FlightEndpoint(descriptor.command, [])],
            total_records=table.num_rows,
            total_bytes=table.nbytes,
        )

    def get_schema_statement(
        self, context: ServerCall, command: sql.CommandStatementQuery
    ) -> pa.Schema:
        raise unsupported("GetSchema of SQL queries is not supported by this server")

    def get_schema_prepared_statement(
        self, context: ServerCall, command: sql.CommandPreparedStatementQuery
    ) -> pa.Schema:
        raise unsupported("GetSchema of prepared statements is not supported by this server")

    def get_schema_table(self, context: ServerCall, path: tuple[str, ...]) -> pa.Schema:
        return self.get_flight_info_table(
            context, path, flight.FlightDescriptor.for_path(*path)
        ).schema

    def do_get_statement(
        self, context: ServerCall, ticket: StatementTicket, raw_ticket: bytes
    ) -> BatchStream:
        raise unsupported("statement tickets are not supported by this server")

    def do_get_metadata(self, context: ServerCall, command: Any) -> pa.Table:
        raise unsupported(f"{command.DESCRIPTOR.name} is not supported by this server")

    def do_put_command_statement_update(
        self, context: ServerCall, command: sql.CommandStatementUpdate
    ) -> int:
        raise unsupported("updates are not supported by this server")

    def do_put_prepared_statement_query(
        self,
        context: ServerCall,
        command: sql.CommandPreparedStatementQuery,
        reader: Upload,
    ) -> bytes:
        """Bind parameters; returns the handle to use from now on."""
        raise unsupported("prepared statements are not supported by this server")

    def do_put_prepared_statement_update(
        self,
        context: ServerCall,
        command: sql.CommandPreparedStatementUpdate,
        reader: Upload,
    ) -> int:
        raise unsupported("prepared updates are not supported by this server")

    def do_put_command_statement_ingest(
        self,
        context: ServerCall,
        command: sql.CommandStatementIngest,
        reader: Upload,
    ) -> int:
        raise unsupported("bulk ingestion is not supported by this server")

    def do_put_table(
        self,
        context: ServerCall,
        path: tuple[str, ...],
        mode: UploadMode,
        reader: Upload,
    ) -> int:
        raise unsupported("PATH uploads are not supported by this server")

    def create_prepared_statement(
        self, context: ServerCall, request: sql.ActionCreatePreparedStatementRequest
    ) -> sql.ActionCreatePreparedStatementResult:
        raise unsupported("prepared statements are not supported by this server")

    def close_prepared_statement(
        self, context: ServerCall, request: sql.ActionClosePreparedStatementRequest
    ) -> None:
        raise unsupported("prepared statements are not supported by this server")

    def begin_transaction(
        self, context: ServerCall, request: sql.ActionBeginTransactionRequest
    ) -> bytes:
        """Returns the new transaction's id."""
        raise unsupported("transactions are not supported by this server")

    def end_transaction(
        self, context: ServerCall, request: sql.ActionEndTransactionRequest
    ) -> None:
        raise unsupported("transactions are not supported by this server")

    def begin_savepoint(
        self, context: ServerCall, request: sql.ActionBeginSavepointRequest | None
    ) -> bytes:
        """Returns the new savepoint's id (``request`` is None for an empty body)."""
        raise unsupported("savepoints are not supported by this server")

    def end_savepoint(
        self, context: ServerCall, request: sql.ActionEndSavepointRequest | None
    ) -> None:
        raise unsupported("savepoints are not supported by this server")

    def cancel_flight_info(
        self, context: ServerCall, info: flight.FlightInfo
    ) -> Flight_pb2.CancelStatus:
        return Flight_pb2.CANCEL_STATUS_NOT_CANCELLABLE

    def list_tables(self, context: ServerCall, pattern: str) -> Iterable[flight.FlightInfo]:
        return ()

    # ------------------------------------------------------------------ Flight RPCs

    def list_flights(self, call: ServerCall, criteria: bytes) -> Iterable[flight.FlightInfo]:
        """Every table, as a PATH flight (``criteria``, if given, filters names by LIKE)."""
        return list(self.list_tables(call, criteria.decode() if criteria else "%"))

    def get_flight_info(
        self, call: ServerCall, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        """Plan a statement, a prepared statement, a table or a metadata request."""
        if _is_path(descriptor):
            path, _ = parse_path(descriptor)
            return self.get_flight_info_table(call, path, descriptor)
        command = _command(descriptor)
        if isinstance(command, sql.CommandStatementQuery):
            return self.get_flight_info_statement(call, command, descriptor)
        if isinstance(command, sql.CommandPreparedStatementQuery):
            return self.get_flight_info_prepared_statement(call, command, descriptor)
        if isinstance(command, METADATA_COMMANDS):
            return self.get_flight_info_metadata(call, command, descriptor)
        if isinstance(command, sql.CommandStatementSubstraitPlan):
            raise unsupported("Substrait plans are not supported by this server")
        raise unsupported(f"GetFlightInfo of {command.DESCRIPTOR.name} is not supported")

    def get_schema(self, call: ServerCall, descriptor: flight.FlightDescriptor) -> pa.Schema:
        """The result schema of a command or table, without running anything."""
        if _is_path(descriptor):
            path, _ = parse_path(descriptor)
            return self.get_schema_table(call, path)
        command = _command(descriptor)
        if isinstance(command, sql.CommandGetTables) and command.include_schema:
            return TABLES_SCHEMA_WITH_SCHEMA
        schema = _METADATA_SCHEMAS.get(type(command))
        if schema is None and isinstance(command, sql.CommandStatementQuery):
            schema = self.get_schema_statement(call, command)
        elif schema is None and isinstance(command, sql.CommandPreparedStatementQuery):
            schema = self.get_schema_prepared_statement(call, command)
        elif schema is None:
            raise unsupported(f"GetSchema of {command.DESCRIPTOR.name} is not supported")
        return schema

    def do_get(self, call: ServerCall, ticket: bytes) -> BatchStream:
        """Stream a statement's result or a table, or answer a metadata request."""
        decoded = decode_ticket(ticket)
        if isinstance(decoded, CommandTicket):
            if not isinstance(decoded.command, METADATA_COMMANDS):
                name = decoded.command.DESCRIPTOR.name
                raise invalid(f"{name} is not a ticket: pass it to GetFlightInfo first")
            return BatchStream.of_table(self.do_get_metadata(call, decoded.command))
        return self.do_get_statement(call, decoded, ticket)

    def do_put(
        self, call: ServerCall, descriptor: flight.FlightDescriptor, upload: Upload
    ) -> bytes | None:
        """Run updates, bind prepared statement parameters, or ingest a stream."""
        count: int
        if _is_path(descriptor):
            path, mode = parse_path(descriptor)
            count = self.do_put_table(call, path, mode, upload)
        else:
            command = _command(descriptor)
            if isinstance(command, sql.CommandStatementUpdate):
                count = self.do_put_command_statement_update(call, command)
            elif isinstance(command, sql.CommandPreparedStatementQuery):
                handle = self.do_put_prepared_statement_query(call, command, upload)
                result = sql.DoPutPreparedStatementResult(prepared_statement_handle=handle)
                return result.SerializeToString()
            elif isinstance(command, sql.CommandPreparedStatementUpdate):
                count = self.do_put_prepared_statement_update(call, command, upload)
            elif isinstance(command, sql.CommandStatementIngest):
                count = self.do_put_command_statement_ingest(call, command, upload)
            elif isinstance(command, sql.CommandStatementSubstraitPlan):
                raise unsupported("Substrait plans are not supported by this server")
            else:
                raise unsupported(f"DoPut with {command.DESCRIPTOR.name} is not supported")
        return sql.DoPutUpdateResult(record_count=count).SerializeToString()

    def do_action(self, call: ServerCall, kind: str, body: bytes) -> Iterable[bytes]:
        """Prepared statements, transactions and cancellation."""
        return self._action(call, kind, body)

    def _action(self, context: ServerCall, kind: str, body: bytes) -> list[bytes]:
        request: Any
        if kind == ACTION_CREATE_PREPARED_STATEMENT:
            request = unpack_as(body, sql.ActionCreatePreparedStatementRequest)
            return [pack(self.create_prepared_statement(context, request))]
        if kind == ACTION_CLOSE_PREPARED_STATEMENT:
            request = unpack_as(body, sql.ActionClosePreparedStatementRequest)
            self.close_prepared_statement(context, request)
            return []
        if kind == ACTION_BEGIN_TRANSACTION:
            request = unpack_as(body, sql.ActionBeginTransactionRequest)
            txn = self.begin_transaction(context, request)
            return [pack(sql.ActionBeginTransactionResult(transaction_id=txn))]
        if kind == ACTION_END_TRANSACTION:
            request = unpack_as(body, sql.ActionEndTransactionRequest)
            end = sql.ActionEndTransactionRequest
            if request.action not in (end.END_TRANSACTION_COMMIT, end.END_TRANSACTION_ROLLBACK):
                raise invalid("EndTransaction needs COMMIT or ROLLBACK")
            self.end_transaction(context, request)
            return []
        if kind == ACTION_CANCEL_FLIGHT_INFO:
            request = Flight_pb2.CancelFlightInfoRequest.FromString(body)
            info = flight.FlightInfo.deserialize(request.info.SerializeToString())
            result = Flight_pb2.CancelFlightInfoResult(
                status=self.cancel_flight_info(context, info)
            )
            return [result.SerializeToString()]
        if kind == ACTION_CANCEL_QUERY:
            request = unpack_as(body, sql.ActionCancelQueryRequest)
            status = self.cancel_flight_info(context, flight.FlightInfo.deserialize(request.info))
            cancel = sql.ActionCancelQueryResult
            answer = (
                cancel.CANCEL_RESULT_CANCELLED
                if status == Flight_pb2.CANCEL_STATUS_CANCELLED
                else cancel.CANCEL_RESULT_NOT_CANCELLABLE
            )
            return [pack(cancel(result=answer))]
        if kind == ACTION_BEGIN_SAVEPOINT:
            request = unpack_as(body, sql.ActionBeginSavepointRequest) if body else None
            savepoint = self.begin_savepoint(context, request)
            return [pack(sql.ActionBeginSavepointResult(savepoint_id=savepoint))]
        if kind == ACTION_END_SAVEPOINT:
            request = unpack_as(body, sql.ActionEndSavepointRequest) if body else None
            self.end_savepoint(context, request)
            return []
        if kind == ACTION_CREATE_PREPARED_SUBSTRAIT_PLAN:
            raise unsupported("Substrait plans are not supported by this server")
        raise unsupported(f"unknown action {kind!r}")

    def list_actions(self, call: ServerCall) -> list[tuple[str, str]]:
        """The Flight SQL actions this server implements."""
        return list(_ACTIONS)

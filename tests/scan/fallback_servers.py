"""Embedded Flight SQL servers that lack an optional capability, as some real servers do.

* :class:`NoBindingServer` answers UNIMPLEMENTED (or another code) to every binding of
  parameters, as roapi does (``do_put_prepared_statement_query not implemented``);
  ``refuse_empty=False`` accepts the empty binding the scan tries first, so the refusal only
  comes with the first real values.
* :class:`NoPreparedStatementServer` answers UNIMPLEMENTED to CreatePreparedStatement: only
  statement queries, GetSchema of them, and their reads work.
* :class:`NoSubqueryServer` refuses every query that reads a subquery (as a server with a
  smaller SQL might), so the scan's narrowed queries fail where the query as written works.
* :class:`PlaceholderSchemaServer` announces a placeholder dataset schema for every prepared
  statement, as Deephaven does (one ``DO_NOT_USE`` column); ``answers_get_schema=False`` refuses
  GetSchema of a query, so only the first batch tells the schema.
"""

from __future__ import annotations

import threading
from typing import Any

import grpc
import pyarrow as pa

from flightnb._proto import FlightSql_pb2 as sql
from flightnb.server import FlightSqlServer
from flightnb.server.errors import ServerError, invalid, unsupported

__all__ = [
    "NoBindingServer",
    "NoPreparedStatementServer",
    "NoSubqueryServer",
    "PlaceholderSchemaServer",
]


class NoBindingServer(FlightSqlServer):
    """Refuses to bind parameters to prepared statements."""

    def __init__(
        self,
        *args: Any,
        code: grpc.StatusCode = grpc.StatusCode.UNIMPLEMENTED,
        refuse_empty: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.code = code
        self.refuse_empty = refuse_empty
        self.refused = 0
        self._count_lock = threading.Lock()

    def do_put_prepared_statement_query(
        self, context: Any, command: sql.CommandPreparedStatementQuery, reader: Any
    ) -> bytes:
        values = reader.read_all()
        if not self.refuse_empty and values.num_rows == 0:
            return super().do_put_prepared_statement_query(context, command, _Replay(values))
        with self._count_lock:
            self.refused += 1
        if self.code == grpc.StatusCode.UNIMPLEMENTED:
            raise unsupported("do_put_prepared_statement_query not implemented")
        raise ServerError(self.code, "parameters cannot be bound here")


class NoPreparedStatementServer(FlightSqlServer):
    """Has no prepared statements (so no parameter binding either)."""

    def create_prepared_statement(
        self, context: Any, request: sql.ActionCreatePreparedStatementRequest
    ) -> sql.ActionCreatePreparedStatementResult:
        raise unsupported("CreatePreparedStatement is not implemented")


class NoSubqueryServer(FlightSqlServer):
    """Answers INVALID_ARGUMENT to queries with a subquery in FROM."""

    def get_flight_info_statement(
        self, context: Any, command: sql.CommandStatementQuery, descriptor: Any
    ) -> Any:
        if "FROM (" in command.query:
            raise invalid('syntax error at or near "("')
        return super().get_flight_info_statement(context, command, descriptor)

    def create_prepared_statement(
        self, context: Any, request: sql.ActionCreatePreparedStatementRequest
    ) -> sql.ActionCreatePreparedStatementResult:
        if "FROM (" in request.query:
            raise invalid('syntax error at or near "("')
        return super().create_prepared_statement(context, request)


class PlaceholderSchemaServer(FlightSqlServer):
    """Announces a placeholder dataset schema; optionally refuses GetSchema of queries."""

    def __init__(self, *args: Any, answers_get_schema: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers_get_schema = answers_get_schema

    def create_prepared_statement(
        self, context: Any, request: sql.ActionCreatePreparedStatementRequest
    ) -> sql.ActionCreatePreparedStatementResult:
        result = super().create_prepared_statement(context, request)
        placeholder = pa.schema([pa.field("DO_NOT_USE", pa.string())])
        result.dataset_schema = placeholder.serialize().to_pybytes()
        return result

    def get_schema_statement(self, context: Any, command: sql.CommandStatementQuery) -> pa.Schema:
        if not self.answers_get_schema:
            raise unsupported("GetSchema of a statement is not implemented")
        return super().get_schema_statement(context, command)


class _Replay:
    """An upload already read, handed on to the base server."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def read_all(self) -> pa.Table:
        return self._table

"""Tables as Flight data: ingesting uploads, and planning table flights, on one DuckDB connection.

These functions know DuckDB and Flight SQL's ingest command, not the RPCs: the backend gives
them a connection (inside whatever transaction the request runs in) and turns their results
into FlightInfo and PutResult messages.

Examples
--------
>>> import duckdb, pyarrow as pa
>>> con = duckdb.connect()
>>> upload = pa.table({"x": [1, 2, 3]})
>>> ingest(con, ingest_command(("t",), UploadMode.CREATE), pa.RecordBatchReader.from_batches(
...     upload.schema, upload.to_batches()))
3
>>> plan = plan_table(con, ("t",), endpoints=2)
>>> plan.rows, [t.rows for t in plan.tickets]
(3, [(0, 1), (1, 3)])
>>> con.sql(table_query(plan.tickets[1])).fetchall()
[(2,), (3,)]
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from flightnb._proto import FlightSql_pb2 as sql
from flightnb.protocol.dialects import DUCKDB, quote_identifier
from flightnb.server.dispatch import UploadMode
from flightnb.server.errors import already_exists, invalid, not_found, unsupported
from flightnb.server.tickets import TableTicket, new_nonce

__all__ = [
    "TablePlan",
    "ingest",
    "ingest_command",
    "plan_table",
    "qualified_name",
    "table_exists",
    "table_query",
]

# Rows read to estimate a table's Arrow size (total_bytes of its flight).
SIZE_SAMPLE_ROWS = 10_000

_OPTIONS = sql.CommandStatementIngest.TableDefinitionOptions
_UPLOAD_OPTIONS = {
    UploadMode.CREATE: (_OPTIONS.TABLE_EXISTS_OPTION_FAIL, _OPTIONS.TABLE_NOT_EXIST_OPTION_CREATE),
    UploadMode.APPEND: (_OPTIONS.TABLE_EXISTS_OPTION_APPEND, _OPTIONS.TABLE_NOT_EXIST_OPTION_FAIL),
    UploadMode.REPLACE: (
        _OPTIONS.TABLE_EXISTS_OPTION_REPLACE,
        _OPTIONS.TABLE_NOT_EXIST_OPTION_CREATE,
    ),
    UploadMode.CREATE_APPEND: (
        _OPTIONS.TABLE_EXISTS_OPTION_APPEND,
        _OPTIONS.TABLE_NOT_EXIST_OPTION_CREATE,
    ),
}


def qualified_name(path: tuple[str, ...]) -> str:
    """``[catalog, [schema,]] table`` as quoted SQL."""
    return ".".join(quote_identifier(p, DUCKDB) for p in path)


# ---------------------------------------------------------------------- uploads


def ingest_command(path: tuple[str, ...], mode: UploadMode) -> sql.CommandStatementIngest:
    """The Flight SQL ingest command that a PATH upload in ``mode`` stands for."""
    if_exists, if_not_exist = _UPLOAD_OPTIONS[mode]
    command = sql.CommandStatementIngest(
        table=path[-1],
        table_definition_options=_OPTIONS(if_exists=if_exists, if_not_exist=if_not_exist),
    )
    if len(path) >= 2:
        command.schema = path[-2]
    if len(path) == 3:
        command.catalog = path[0]
    return command


def table_exists(con: duckdb.DuckDBPyConnection, command: sql.CommandStatementIngest) -> bool:
    """Whether the ingest command's table exists (in the current schema unless it names one)."""
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


def ingest(
    con: duckdb.DuckDBPyConnection,
    command: sql.CommandStatementIngest,
    batches: pa.RecordBatchReader,
    *,
    exists_hint: str = "",
) -> int:
    """Create, append to or replace the command's table from ``batches``; returns the rows.

    Runs its statements on ``con`` as they come; the caller makes them atomic.
    ``exists_hint`` is added to the error for a table that exists when it must not.
    """
    options = command.table_definition_options
    if options.if_not_exist == _OPTIONS.TABLE_NOT_EXIST_OPTION_UNSPECIFIED:
        raise invalid("ingest needs table_definition_options.if_not_exist")
    if options.if_exists == _OPTIONS.TABLE_EXISTS_OPTION_UNSPECIFIED:
        raise invalid("ingest needs table_definition_options.if_exists")
    if command.temporary:
        # DuckDB's temporary tables belong to one connection, and this server uses a new
        # connection per request: the table would vanish when the call ends.
        raise unsupported("temporary ingestion is not supported by this server")
    if not command.table:
        raise invalid("ingest needs a table name")
    parts = [command.table]
    if command.HasField("schema"):
        parts.insert(0, command.schema)
        if command.HasField("catalog"):
            parts.insert(0, command.catalog)
    elif command.HasField("catalog"):
        parts[:0] = [command.catalog, "main"]
    name, target = ".".join(parts), qualified_name(tuple(parts))
    exists = table_exists(con, command)
    if exists and options.if_exists == _OPTIONS.TABLE_EXISTS_OPTION_FAIL:
        raise already_exists(f"table {name} already exists{exists_hint}")
    if not exists and options.if_not_exist == _OPTIONS.TABLE_NOT_EXIST_OPTION_FAIL:
        raise not_found(f"table {name} does not exist")
    source = f"_flightnb_ingest_{new_nonce()}"
    con.register(source, batches)
    try:
        if exists and options.if_exists == _OPTIONS.TABLE_EXISTS_OPTION_APPEND:
            rows = con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {source}").fetchall()
        else:
            verb = "CREATE OR REPLACE TABLE" if exists else "CREATE TABLE"
            rows = con.execute(f"{verb} {target} AS SELECT * FROM {source}").fetchall()
    finally:
        con.unregister(source)
    # DuckDB's fetch*() must drain a result before the connection runs anything else.
    return int(rows[0][0]) if rows else -1


# ---------------------------------------------------------------------- table flights


@dataclass(frozen=True)
class TablePlan:
    """What GetFlightInfo says about a table: schema, exact rows, estimated bytes, tickets."""

    schema: pa.Schema
    rows: int
    bytes: int
    tickets: list[TableTicket]


def plan_table(
    con: duckdb.DuckDBPyConnection, path: tuple[str, ...], *, endpoints: int = 1
) -> TablePlan:
    """Plan a table flight: ``endpoints`` tickets for ranges of DuckDB ``rowid``.

    A view has no ``rowid`` and gets one ticket; so does a table with at most one row. The
    size is the Arrow size of the first rows, scaled to the whole table.
    """
    target = qualified_name(path)
    nonce = new_nonce()
    relation = con.sql(f"SELECT * FROM {target}")
    assert relation is not None
    schema = relation.limit(0).to_arrow_table().schema
    ((rows,),) = con.execute(f"SELECT count(*) FROM {target}").fetchall()
    sample = relation.limit(SIZE_SAMPLE_ROWS).to_arrow_table()
    size = sample.nbytes if sample.num_rows >= rows else sample.nbytes * rows // sample.num_rows
    bounds: Any = None
    if endpoints > 1 and rows > 1:
        try:
            ((low, high),) = con.execute(f"SELECT min(rowid), max(rowid) FROM {target}").fetchall()
        except duckdb.Error:  # a view
            low = high = None
        if low is not None and high is not None:
            parts, span = min(endpoints, rows), high + 1 - low
            bounds = [low + span * i // parts for i in range(parts + 1)]
    if bounds is None:
        tickets = [TableTicket(path, None, nonce)]
    else:
        tickets = [TableTicket(path, (a, b), nonce) for a, b in itertools.pairwise(bounds)]
    return TablePlan(schema, int(rows), int(size), tickets)


def table_query(ticket: TableTicket) -> str:
    """The SELECT that reads a table ticket's rows."""
    query = f"SELECT * FROM {qualified_name(ticket.path)}"
    if ticket.rows is not None:
        start, stop = ticket.rows
        query += f" WHERE rowid >= {int(start)} AND rowid < {int(stop)}"
    return query

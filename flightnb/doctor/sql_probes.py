"""The Flight SQL probes: SqlInfo, a query, prepared statements, binding, transactions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pyarrow as pa

from flightnb._proto import FlightSql_pb2 as sql
from flightnb.doctor.model import Status
from flightnb.doctor.runner import NO_ANSWER, REFUSED, Outcome, ProbeRunner
from flightnb.protocol.commands import pack
from flightnb.sql.capabilities import is_placeholder_schema
from flightnb.sql.results import SqlInfoValues
from flightnb.sql.statements import AsyncPreparedStatement, AsyncTransaction
from flightnb.types import FlightDescriptor

__all__ = ["FlightSqlProbes"]

QUERY = "SELECT 1"
BOUND_QUERY = "SELECT ?"


class FlightSqlProbes(ProbeRunner):
    """The Flight SQL part of a diagnosis (it reads the plain Flight rows already made)."""

    async def flight_sql(self) -> None:
        info = await self.attempt(lambda: self.sql.get_sql_info(timeout=self.timeout))
        if not info.ok:
            status = Status.UNKNOWN if info.code in NO_ANSWER | REFUSED else Status.NO
            said = self.describe(info)
            detail = said if status is Status.UNKNOWN else f"not a Flight SQL server ({said})"
            self.add("Flight SQL", "GetSqlInfo", status, detail)
            return
        values: SqlInfoValues = info.value
        self.add("Flight SQL", "GetSqlInfo", Status.YES, f"{len(values)} values")
        self._sql_info_rows(values)
        query = await self.attempt(lambda: self.sql.query(QUERY, timeout=self.timeout))
        if query.ok:
            table: pa.Table = query.value
            self.add(
                "Flight SQL",
                "SQL query",
                Status.YES,
                f"{QUERY!r}: {table.num_rows} row, columns {table.column_names}",
            )
            if self.checks["DoGet"].status is Status.SKIPPED:
                self.add("Flight", "DoGet", Status.YES, "read a query's result")
            planned = self.checks["GetFlightInfo"]
            if planned.status is not Status.YES:
                # Path descriptors may be refused while commands are planned.
                detail = f"for commands (a SQL query); a path got {planned.detail}"
                self.add("Flight", "GetFlightInfo", Status.YES, detail)
        else:
            self.add("Flight SQL", "SQL query", self._sql_verdict(query), self.describe(query))
        command = FlightDescriptor.for_command(pack(sql.CommandStatementQuery(query=QUERY)))
        schema = await self.attempt(lambda: self.client.get_schema(command, timeout=self.timeout))
        if schema.ok:
            self.add("Flight SQL", "GetSchema (query)", Status.YES, f"names {schema.value.names}")
        else:
            self.add("Flight SQL", "GetSchema (query)", self.verdict(schema), self.describe(schema))
        names = query.value.column_names if query.ok else schema.value.names if schema.ok else None
        await self._prepared(names)
        await self._transactions(values)
        listings: dict[str, Callable[[], Awaitable[pa.Table]]] = {
            "GetCatalogs": lambda: self.sql.get_catalogs(timeout=self.timeout),
            "GetDbSchemas": lambda: self.sql.get_db_schemas(timeout=self.timeout),
            "GetTables": lambda: self.sql.get_tables(timeout=self.timeout),
        }
        for name, call in listings.items():
            outcome = await self.attempt(call)
            if outcome.ok:
                self.add("Flight SQL", name, Status.YES, f"{outcome.value.num_rows} rows")
            else:
                self.add("Flight SQL", name, self._sql_verdict(outcome), self.describe(outcome))

    def _sql_verdict(self, outcome: Outcome) -> Status:
        """A refused SQL call: UNIMPLEMENTED means no; anything else proves nothing."""
        return Status.NO if outcome.code == "UNIMPLEMENTED" else Status.UNKNOWN

    def _sql_info_rows(self, values: SqlInfoValues) -> None:
        def text(code: int) -> str:
            value = values.get(code)
            return "not reported" if value is None or value == "" else str(value)

        def flag(name: str, code: int, meaning: str) -> None:
            value = values.get(code)
            if value is None:
                self.add("SqlInfo", name, Status.UNKNOWN, "not reported")
            else:
                self.add("SqlInfo", name, Status.YES if value else Status.NO, meaning)

        name = text(sql.FLIGHT_SQL_SERVER_NAME)
        version = values.get(sql.FLIGHT_SQL_SERVER_VERSION)
        version = f" {version}" if version else " (version not reported)"
        self.add("SqlInfo", "server", Status.INFO, f"{name}{version}")
        self.add("SqlInfo", "Arrow version", Status.INFO, text(sql.FLIGHT_SQL_SERVER_ARROW_VERSION))
        flag("read-only", sql.FLIGHT_SQL_SERVER_READ_ONLY, "FLIGHT_SQL_SERVER_READ_ONLY")
        flag("SQL", sql.FLIGHT_SQL_SERVER_SQL, "FLIGHT_SQL_SERVER_SQL")
        flag("Substrait", sql.FLIGHT_SQL_SERVER_SUBSTRAIT, "FLIGHT_SQL_SERVER_SUBSTRAIT")
        flag("cancel (SqlInfo)", sql.FLIGHT_SQL_SERVER_CANCEL, "FLIGHT_SQL_SERVER_CANCEL")
        flag(
            "bulk ingestion",
            sql.FLIGHT_SQL_SERVER_BULK_INGESTION,
            "FLIGHT_SQL_SERVER_BULK_INGESTION (not probed: it writes)",
        )
        quote = values.get(sql.SQL_IDENTIFIER_QUOTE_CHAR)
        case = values.get(sql.SQL_IDENTIFIER_CASE)
        dialect = f"quote {quote!r}" if quote else "quote not reported"
        if isinstance(case, int):
            dialect += f", identifiers {_enum_name(sql.SqlSupportedCaseSensitivity, case)}"
        keywords = values.get(sql.SQL_KEYWORDS)
        if isinstance(keywords, list):
            dialect += f", {len(keywords)} keywords"
        self.add("SqlInfo", "dialect", Status.INFO, dialect)
        named = values.get(sql.SQL_NAMED_PARAMETERS_SUPPORTED)
        if named is not None:
            verdict = Status.YES if named else Status.NO
            self.add("SqlInfo", "named parameters", verdict, "SQL_NAMED_PARAMETERS_SUPPORTED")

    async def _prepared(self, names: list[str] | None) -> None:
        """Prepared statements; ``names`` are the columns the query really has."""
        prepared = await self.attempt(lambda: self._prepare(QUERY))
        if not prepared.ok:
            status = self._sql_verdict(prepared)
            self.add("Flight SQL", "prepared statements", status, self.describe(prepared))
            self.add("Flight SQL", "dataset_schema", Status.SKIPPED, "no prepared statement")
            self.add("Flight SQL", "parameter binding", Status.SKIPPED, "no prepared statement")
            return
        statement = prepared.value
        await self.attempt(lambda: statement.close(timeout=self.timeout))
        self.add("Flight SQL", "prepared statements", Status.YES, f"{QUERY!r} prepared")
        schema: pa.Schema | None = statement.dataset_schema
        if schema is None:
            self.add("Flight SQL", "dataset_schema", Status.NO, "missing")
        elif (names is not None and schema.names != names) or is_placeholder_schema(schema):
            # Known placeholders (the scan's own test) count even when the query's real
            # names could not be read.
            real = f", the query's are {names}" if names is not None else ""
            self.add(
                "Flight SQL",
                "dataset_schema",
                Status.NO,
                f"placeholder: names {schema.names}{real}",
            )
        else:
            self.add("Flight SQL", "dataset_schema", Status.YES, f"names {schema.names}")
        await self._binding()

    async def _prepare(self, query: str) -> AsyncPreparedStatement:
        return await self.sql.prepare(query, timeout=self.timeout)

    async def _begin(self) -> AsyncTransaction:
        return await self.sql.begin_transaction(timeout=self.timeout)

    async def _binding(self) -> None:
        prepared = await self.attempt(lambda: self._prepare(BOUND_QUERY))
        if not prepared.ok:
            self.add(
                "Flight SQL",
                "parameter binding",
                Status.UNKNOWN,
                f"{BOUND_QUERY!r} did not prepare ({self.describe(prepared)})",
            )
            return
        statement = prepared.value
        try:
            bound = await self.attempt(lambda: statement.query([1], timeout=self.timeout))
        finally:
            await self.attempt(lambda: statement.close(timeout=self.timeout))
        if bound.ok:
            values = bound.value.column(0).to_pylist() if bound.value.num_columns else []
            status = Status.YES if values == [1] else Status.NO
            self.add(
                "Flight SQL", "parameter binding", status, f"{BOUND_QUERY!r} with 1 -> {values}"
            )
        else:
            code = bound.code
            status = Status.UNKNOWN if code in NO_ANSWER or code in REFUSED else Status.NO
            self.add("Flight SQL", "parameter binding", status, self.describe(bound))

    async def _transactions(self, values: SqlInfoValues) -> None:
        level = values.get(sql.FLIGHT_SQL_SERVER_TRANSACTION)
        if level is None and values.get(sql.SQL_TRANSACTIONS_SUPPORTED) is False:
            level = sql.SQL_SUPPORTED_TRANSACTION_NONE
        if level == sql.SQL_SUPPORTED_TRANSACTION_NONE:
            self.add("Flight SQL", "transactions", Status.NO, "SqlInfo says none")
            return
        began = await self.attempt(self._begin)
        if not began.ok:
            self.add("Flight SQL", "transactions", self._sql_verdict(began), self.describe(began))
            return
        ended = await self.attempt(lambda: began.value.rollback(timeout=self.timeout))
        said = "SqlInfo: " + (
            _enum_name(sql.SqlSupportedTransaction, level) if isinstance(level, int) else "silent"
        )
        if ended.ok:
            self.add("Flight SQL", "transactions", Status.YES, f"begin and rollback; {said}")
        else:
            self.add(
                "Flight SQL", "transactions", Status.UNKNOWN, f"rollback: {self.describe(ended)}"
            )


def _enum_name(enum: Any, value: int) -> str:
    try:
        return str(enum.Name(value))
    except ValueError:
        return str(value)

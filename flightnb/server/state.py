"""Server-side state: open transactions, prepared statements and their bound parameters.

Each transaction owns a dedicated DuckDB connection (DuckDB ties a transaction to a
connection); requests naming the transaction run on it one at a time.

DuckDB aborts a transaction when one of its statements fails at run time, and refuses every
later statement until a rollback. Clients such as ADBC keep using the transaction id after an
error (a notebook user simply runs the next cell), so the server rolls the aborted transaction
back at once, begins a new one under the same id, and says so in the error. A failed COMMIT
likewise leaves the id usable. An id is forgotten only by a successful EndTransaction.

Prepared statements keep their SQL text and the parameter rows last bound with DoPut; DuckDB
re-plans them on each execution, which is cheap next to moving the data.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from flightnb.server.errors import invalid, not_found

__all__ = [
    "KeptResults",
    "Parameters",
    "PreparedStatement",
    "PreparedStatements",
    "Transaction",
    "Transactions",
    "parameter_names",
    "parameter_rows",
]

Parameters = list[Any] | dict[str, Any] | None
"""One set of values for ``con.sql(query, params=...)``; None when the SQL takes none."""


def parameter_names(con: duckdb.DuckDBPyConnection, query: str) -> list[str]:
    """The parameter names of the last statement of ``query``, in binding order.

    ``?`` and ``$1`` markers are named by position ("1", "2", ...) and sort numerically;
    ``$name`` markers keep their names.
    """
    statements = con.extract_statements(query)
    if not statements:
        raise invalid("the query contains no SQL statement")
    names = list(statements[-1].named_parameters)
    return sorted(names, key=lambda n: (0, int(n), "") if n.isdigit() else (1, 0, n))


def parameter_rows(names: list[str], values: pa.Table | None) -> list[Parameters]:
    """Turn bound Arrow parameters into one DuckDB parameter set per row.

    Positional parameters take the columns in order; named parameters take the column of the
    same name. A statement without parameters runs once, whatever was bound.
    """
    if not names:
        return [None]
    if values is None or values.num_rows == 0:
        raise invalid(f"the statement takes {len(names)} parameter(s) but none were bound")
    if all(name.isdigit() for name in names):
        if values.num_columns != len(names):
            raise invalid(
                f"the statement takes {len(names)} parameter(s) but {values.num_columns} "
                "column(s) were bound"
            )
        columns = [values.column(i).to_pylist() for i in range(values.num_columns)]
        return [list(row) for row in zip(*columns, strict=True)]
    missing = [name for name in names if name not in values.column_names]
    if missing:
        raise invalid(f"no bound column for parameter(s) {', '.join(missing)}")
    columns_by_name = {name: values.column(name).to_pylist() for name in names}
    return [{name: columns_by_name[name][i] for name in names} for i in range(values.num_rows)]


@dataclass
class Transaction:
    """An open transaction and the connection it lives on."""

    id: bytes
    connection: duckdb.DuckDBPyConnection
    lock: threading.Lock = field(default_factory=threading.Lock)


class Transactions:
    """The open transactions, by opaque id."""

    def __init__(self, database: duckdb.DuckDBPyConnection, new_connection_lock: threading.Lock):
        self._database = database
        self._new_connection_lock = new_connection_lock
        self._open: dict[bytes, Transaction] = {}
        self._lock = threading.Lock()

    def begin(self) -> bytes:
        """Start a transaction on a fresh connection; returns its id."""
        with self._new_connection_lock:
            connection = self._database.cursor()
        try:
            connection.execute("BEGIN TRANSACTION")
        except BaseException:
            connection.close()
            raise
        transaction = Transaction(secrets.token_bytes(16), connection)
        with self._lock:
            self._open[transaction.id] = transaction
        return transaction.id

    def get(self, transaction_id: bytes) -> Transaction:
        """The open transaction with this id (NOT_FOUND otherwise)."""
        with self._lock:
            transaction = self._open.get(bytes(transaction_id))
        if transaction is None:
            raise not_found(f"unknown or finished transaction {bytes(transaction_id).hex()}")
        return transaction

    def end(self, transaction_id: bytes, *, commit: bool) -> None:
        """Commit or roll back, then forget the transaction and close its connection.

        When DuckDB refuses the commit, its transaction is over, but the client still holds
        the id: a new transaction begins under it and the error is raised.
        """
        transaction = self.get(transaction_id)
        with transaction.lock:
            con = transaction.connection
            try:
                if commit:
                    con.commit()
                else:
                    con.rollback()
            except duckdb.Error:
                with suppress(duckdb.Error):
                    con.rollback()
                con.execute("BEGIN TRANSACTION")
                raise
            with self._lock:
                self._open.pop(transaction.id, None)
            con.close()

    @contextmanager
    def using(self, transaction_id: bytes) -> Iterator[duckdb.DuckDBPyConnection]:
        """Hold the transaction's connection for one request.

        A DuckDB error that aborted the transaction rolls it back and begins a new one under
        the same id; the error raised says so.
        """
        transaction = self.get(transaction_id)
        with transaction.lock:
            try:
                yield transaction.connection
            except Exception as exc:  # a DuckDB error, or a cancellation that interrupted it
                if not _restart_if_aborted(transaction.connection):
                    raise
                if not isinstance(exc, duckdb.Error):
                    raise
                note = (
                    "(this error aborted the transaction: it was rolled back, and the "
                    "transaction goes on, empty)"
                )
                raise type(exc)(f"{str(exc).rstrip()}\n{note}") from None

    def close(self) -> None:
        """Roll back every open transaction."""
        with self._lock:
            transactions, self._open = list(self._open.values()), {}
        for transaction in transactions:
            with transaction.lock:
                with suppress(duckdb.Error):
                    transaction.connection.rollback()
                transaction.connection.close()


def _restart_if_aborted(con: duckdb.DuckDBPyConnection) -> bool:
    """Roll back and restart a transaction an error aborted; True if it was aborted."""
    try:
        con.execute("SELECT 1").fetchall()
        return False
    except duckdb.TransactionException:
        pass
    with suppress(duckdb.Error):
        con.rollback()
    con.execute("BEGIN TRANSACTION")
    return True


@dataclass
class PreparedStatement:
    """A prepared statement: its SQL, parameters and the rows last bound to it."""

    handle: bytes
    query: str
    parameter_names: list[str]
    transaction_id: bytes | None
    bound: pa.Table | None = None

    def parameter_sets(self) -> list[Parameters]:
        """One DuckDB parameter set per bound row (one empty set without parameters)."""
        return parameter_rows(self.parameter_names, self.bound)


class PreparedStatements:
    """The open prepared statements, by opaque handle."""

    def __init__(self) -> None:
        self._open: dict[bytes, PreparedStatement] = {}
        self._lock = threading.Lock()

    def add(
        self, query: str, parameter_names: list[str], transaction_id: bytes | None
    ) -> PreparedStatement:
        """Register a statement; returns it with a fresh handle."""
        statement = PreparedStatement(
            secrets.token_bytes(16), query, parameter_names, transaction_id
        )
        with self._lock:
            self._open[statement.handle] = statement
        return statement

    def get(self, handle: bytes) -> PreparedStatement:
        """The statement with this handle (NOT_FOUND otherwise)."""
        with self._lock:
            statement = self._open.get(bytes(handle))
        if statement is None:
            raise not_found(f"unknown or closed prepared statement {bytes(handle).hex()}")
        return statement

    def close(self, handle: bytes) -> None:
        """Forget a statement; closing an unknown handle is an error."""
        with self._lock:
            if self._open.pop(bytes(handle), None) is None:
                raise not_found(f"unknown or closed prepared statement {bytes(handle).hex()}")


class KeptResults:
    """Results too large for a ticket, kept until fetched once; the oldest go first."""

    def __init__(self, limit: int = 64) -> None:
        self._limit = limit
        self._kept: OrderedDict[bytes, pa.Table] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, table: pa.Table) -> bytes:
        """Store a result; returns its key."""
        key = secrets.token_bytes(16)
        with self._lock:
            self._kept[key] = table
            while len(self._kept) > self._limit:
                self._kept.popitem(last=False)
        return key

    def take(self, key: bytes) -> pa.Table:
        """The result under ``key``, forgotten as it is handed out (NOT_FOUND otherwise)."""
        with self._lock:
            table = self._kept.pop(bytes(key), None)
        if table is None:
            raise not_found("the statement result was already fetched or expired")
        return table

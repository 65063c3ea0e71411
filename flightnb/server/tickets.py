"""The tickets the embedded server hands out and redeems, as values.

A ticket is opaque to clients, so the server alone decides its format. Three shapes arrive:

* **Statement tickets**: a Flight SQL ``TicketStatementQuery`` packed in an ``Any``, whose
  ``statement_handle`` starts with one byte naming the kind:

  ``Q`` + JSON ``{"sql", "txn", "nonce"}``
      A read-only SELECT, run when the ticket is redeemed (:class:`QueryTicket`).
  ``P`` + handle
      A prepared statement with the parameters last bound to it (:class:`PreparedTicket`).
  ``I`` + Arrow IPC stream
      The result of a statement that already ran, carried inline (:class:`InlineTicket`).
  ``K`` + key
      A larger result kept on the server until fetched once (:class:`KeptTicket`).
  ``T`` + JSON ``{"path", "rows", "nonce"}``
      One endpoint of a table flight: the table, and a ``[start, stop)`` range of DuckDB
      ``rowid`` values or null for all rows (:class:`TableTicket`).

  The nonce makes the tickets of each GetFlightInfo unique, so cancelling one flight never
  cancels a later run of the same SQL.
* **Metadata tickets**: the Flight SQL command itself (``CommandGetTables``, ...), answered
  afresh on each DoGet (:class:`CommandTicket`).
* **Table names**: any other ticket is read as UTF-8 text naming a table, ``table``,
  ``schema.table`` or ``catalog.schema.table``, so ``do_get(b"trips")`` reads all of
  ``trips`` (a :class:`TableTicket` without range).

Examples
--------
>>> decode_ticket(b"trips")
TableTicket(path=('trips',), rows=None, nonce='')
>>> ticket = TableTicket(("main", "trips"), rows=(0, 500), nonce="ab")
>>> decode_ticket(encode_ticket(ticket)) == ticket
True
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from flightnb._proto import FlightSql_pb2 as sql
from flightnb.protocol.commands import CommandDecodeError, pack, unpack

__all__ = [
    "CommandTicket",
    "InlineTicket",
    "KeptTicket",
    "PreparedTicket",
    "QueryTicket",
    "StatementTicket",
    "TableTicket",
    "Ticket",
    "TicketError",
    "decode_ticket",
    "encode_ticket",
    "new_nonce",
    "parse_table_name",
]

_QUERY, _PREPARED, _INLINE, _KEPT, _TABLE = b"Q", b"P", b"I", b"K", b"T"


class TicketError(ValueError):
    """Bytes that are no ticket of this server."""


def new_nonce() -> str:
    """A short random string that makes a ticket unique."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class QueryTicket:
    """A read-only SELECT to run when redeemed, inside ``transaction_id`` if set."""

    query: str
    transaction_id: bytes | None = None
    nonce: str = ""


@dataclass(frozen=True)
class PreparedTicket:
    """A prepared statement, run with the parameters last bound to it."""

    handle: bytes


@dataclass(frozen=True)
class InlineTicket:
    """A result that already exists, as an Arrow IPC stream inside the ticket."""

    ipc: bytes


@dataclass(frozen=True)
class KeptTicket:
    """A result kept on the server under ``key`` until it is fetched once."""

    key: bytes


@dataclass(frozen=True)
class TableTicket:
    """A table, or the rows whose DuckDB ``rowid`` lies in ``[start, stop)``."""

    path: tuple[str, ...]
    rows: tuple[int, int] | None = None
    nonce: str = ""


@dataclass(frozen=True)
class CommandTicket:
    """A Flight SQL metadata command (``CommandGetTables``, ...), answered on each DoGet."""

    command: Message


StatementTicket = QueryTicket | PreparedTicket | InlineTicket | KeptTicket | TableTicket
Ticket = StatementTicket | CommandTicket


def parse_table_name(text: str) -> tuple[str, ...]:
    """``"table"``, ``"schema.table"`` or ``"catalog.schema.table"`` as its parts."""
    parts = tuple(text.split("."))
    if not 1 <= len(parts) <= 3 or not all(part.strip() for part in parts):
        raise TicketError(f"{text!r} is not a table name: [catalog.[schema.]]table")
    return parts


def _handle(kind: bytes, payload: bytes) -> bytes:
    return pack(sql.TicketStatementQuery(statement_handle=kind + payload))


def encode_ticket(ticket: Ticket) -> bytes:
    """The bytes of a ticket, for a FlightEndpoint."""
    if isinstance(ticket, CommandTicket):
        return pack(ticket.command)
    if isinstance(ticket, QueryTicket):
        txn = ticket.transaction_id.hex() if ticket.transaction_id else None
        state = {"sql": ticket.query, "txn": txn, "nonce": ticket.nonce}
        return _handle(_QUERY, json.dumps(state).encode())
    if isinstance(ticket, PreparedTicket):
        return _handle(_PREPARED, ticket.handle)
    if isinstance(ticket, InlineTicket):
        return _handle(_INLINE, ticket.ipc)
    if isinstance(ticket, KeptTicket):
        return _handle(_KEPT, ticket.key)
    rows = list(ticket.rows) if ticket.rows is not None else None
    table = {"path": list(ticket.path), "rows": rows, "nonce": ticket.nonce}
    return _handle(_TABLE, json.dumps(table).encode())


def _json(payload: bytes) -> dict[str, Any]:
    try:
        state = json.loads(payload)
    except ValueError as exc:
        raise TicketError("malformed statement ticket") from exc
    if not isinstance(state, dict):
        raise TicketError("malformed statement ticket")
    return state


def _statement(handle: bytes) -> StatementTicket:
    kind, payload = handle[:1], handle[1:]
    if kind == _PREPARED:
        return PreparedTicket(payload)
    if kind == _INLINE:
        return InlineTicket(payload)
    if kind == _KEPT:
        return KeptTicket(payload)
    if kind == _QUERY:
        state = _json(payload)
        txn = state.get("txn")
        if not isinstance(state.get("sql"), str):
            raise TicketError("malformed statement ticket")
        return QueryTicket(
            state["sql"], bytes.fromhex(txn) if txn else None, state.get("nonce", "")
        )
    if kind == _TABLE:
        state = _json(payload)
        path, rows = state.get("path"), state.get("rows")
        if not isinstance(path, list) or not all(isinstance(p, str) for p in path):
            raise TicketError("malformed table ticket")
        if rows is not None and not (
            isinstance(rows, list) and len(rows) == 2 and all(isinstance(r, int) for r in rows)
        ):
            raise TicketError("malformed table ticket")
        return TableTicket(
            tuple(path), (rows[0], rows[1]) if rows is not None else None, state.get("nonce", "")
        )
    raise TicketError("malformed statement ticket")


def decode_ticket(data: bytes) -> Ticket:
    """What a ticket asks for; :class:`TicketError` for bytes that mean nothing here."""
    data = bytes(data)
    try:
        message = unpack(data)
    except CommandDecodeError:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise TicketError(
                "not a ticket of this server: neither a Flight SQL ticket nor a table name"
            ) from None
        if not text.isprintable():
            raise TicketError(
                "not a ticket of this server: neither a Flight SQL ticket nor a table name"
            ) from None
        return TableTicket(parse_table_name(text))
    if isinstance(message, sql.TicketStatementQuery):
        return _statement(message.statement_handle)
    return CommandTicket(message)

"""Server errors as gRPC statuses, decided in one place.

A handler raises a :class:`ServerError` (through :func:`invalid`, :func:`not_found`,
:func:`already_exists`, :func:`unsupported`, :func:`cancelled`) or lets a DuckDB, Arrow or
request error escape; the Flight service (:mod:`flightnb.server.service`) passes whatever
escapes through :func:`flight_error` once and sends the status code and the one-line message
alone: no traceback, no server paths, on every client (pyarrow.flight, ADBC, flightnb).

==========================================  =========================================
raised                                      status
==========================================  =========================================
``invalid`` / bad commands, tickets, SQL     INVALID_ARGUMENT
``not_found`` / DuckDB "does not exist"      NOT_FOUND
``already_exists``                           ALREADY_EXISTS
``unsupported`` / DuckDB NotSupported        UNIMPLEMENTED
``cancelled`` / DuckDB interrupt             CANCELLED
``unauthenticated``                          UNAUTHENTICATED
``denied`` / DuckDB permission errors        PERMISSION_DENIED
``exhausted`` (a limit of the server)        RESOURCE_EXHAUSTED
``too_slow`` (the query time limit)          DEADLINE_EXCEEDED
DuckDB internal errors, out of memory        INTERNAL
DuckDB transaction and I/O errors            UNKNOWN
anything else (a bug of the server)          INTERNAL, naming the exception's class
==========================================  =========================================

Errors in ``pyarrow.flight``'s classes (``FlightCancelledError``, ...), Arrow's
(``ArrowInvalid``, ...) and Python's ``KeyError``, ``ValueError`` and ``NotImplementedError``
map to the status pyarrow.flight would send for them, so a backend written in that style keeps
its codes.
"""

from __future__ import annotations

import duckdb
import grpc
import pyarrow as pa
import pyarrow.flight as flight

from flightnb.errors import FlightDecodeError
from flightnb.protocol.commands import CommandDecodeError
from flightnb.server.tickets import TicketError

__all__ = [
    "ServerError",
    "already_exists",
    "cancelled",
    "denied",
    "exhausted",
    "flight_error",
    "invalid",
    "not_found",
    "too_slow",
    "unauthenticated",
    "unsupported",
]

_Code = grpc.StatusCode


class ServerError(Exception):
    """An error to answer a call with: a gRPC status code and a one-line message.

    Parameters
    ----------
    code : grpc.StatusCode
        The status the client receives.
    message : str
        What went wrong, as the client shows it.
    """

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


def invalid(message: str) -> ServerError:
    """An INVALID_ARGUMENT error for a bad request."""
    return ServerError(_Code.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServerError:
    """A NOT_FOUND error, e.g. for an unknown table, statement or transaction handle."""
    return ServerError(_Code.NOT_FOUND, message)


def already_exists(message: str) -> ServerError:
    """An ALREADY_EXISTS error: the thing to create exists."""
    return ServerError(_Code.ALREADY_EXISTS, message)


def unsupported(message: str) -> ServerError:
    """An UNIMPLEMENTED error for a call, command or option this server does not offer."""
    return ServerError(_Code.UNIMPLEMENTED, message)


def cancelled(message: str) -> ServerError:
    """A CANCELLED error: the work was stopped before it finished."""
    return ServerError(_Code.CANCELLED, message)


def unauthenticated(message: str) -> ServerError:
    """An UNAUTHENTICATED error: the call carries no credential, or a wrong one."""
    return ServerError(_Code.UNAUTHENTICATED, message)


def denied(message: str) -> ServerError:
    """A PERMISSION_DENIED error: the sandbox refuses what the statement would do."""
    return ServerError(_Code.PERMISSION_DENIED, message)


def exhausted(message: str) -> ServerError:
    """A RESOURCE_EXHAUSTED error: the call went past one of the server's limits."""
    return ServerError(_Code.RESOURCE_EXHAUSTED, message)


def too_slow(message: str) -> ServerError:
    """A DEADLINE_EXCEEDED error: the query ran past the server's time limit."""
    return ServerError(_Code.DEADLINE_EXCEEDED, message)


# Most specific first: the classes overlap (e.g. InterruptException is a DatabaseError).
_MAPPING: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (duckdb.InterruptException, _Code.CANCELLED),
    (duckdb.PermissionException, _Code.PERMISSION_DENIED),
    (duckdb.NotSupportedError, _Code.UNIMPLEMENTED),
    (duckdb.InternalError, _Code.INTERNAL),
    (duckdb.OutOfMemoryException, _Code.INTERNAL),
    (duckdb.TransactionException, _Code.UNKNOWN),
    (duckdb.IOException, _Code.UNKNOWN),
    # The user's SQL or data is at fault: syntax, unknown names, types, constraints.
    (duckdb.ProgrammingError, _Code.INVALID_ARGUMENT),
    (duckdb.DataError, _Code.INVALID_ARGUMENT),
    (duckdb.IntegrityError, _Code.INVALID_ARGUMENT),
    (duckdb.DependencyException, _Code.INVALID_ARGUMENT),
    (duckdb.SequenceException, _Code.INVALID_ARGUMENT),
    (duckdb.Error, _Code.UNKNOWN),
    (CommandDecodeError, _Code.INVALID_ARGUMENT),
    (TicketError, _Code.INVALID_ARGUMENT),
    (FlightDecodeError, _Code.INVALID_ARGUMENT),
    # pyarrow.flight's and Arrow's classes, as pyarrow.flight's server sends them.
    (flight.FlightCancelledError, _Code.CANCELLED),
    (flight.FlightUnauthenticatedError, _Code.UNAUTHENTICATED),
    (flight.FlightUnauthorizedError, _Code.PERMISSION_DENIED),
    (flight.FlightTimedOutError, _Code.DEADLINE_EXCEEDED),
    (flight.FlightUnavailableError, _Code.UNAVAILABLE),
    (flight.FlightInternalError, _Code.INTERNAL),
    (flight.FlightServerError, _Code.UNKNOWN),
    (pa.ArrowNotImplementedError, _Code.UNIMPLEMENTED),
    (pa.ArrowKeyError, _Code.NOT_FOUND),
    (pa.ArrowInvalid, _Code.INVALID_ARGUMENT),
    (pa.ArrowTypeError, _Code.INVALID_ARGUMENT),
    (pa.ArrowMemoryError, _Code.RESOURCE_EXHAUSTED),
    # Python's own, as pyarrow.flight's server maps them.
    (NotImplementedError, _Code.UNIMPLEMENTED),
    (KeyError, _Code.NOT_FOUND),
    (ValueError, _Code.INVALID_ARGUMENT),
)


def _text(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return text.rstrip() or type(exc).__name__


def flight_error(exc: BaseException) -> ServerError:
    """The :class:`ServerError` to answer with for ``exc``.

    A ServerError passes unchanged. DuckDB's catalog errors for a missing object ("... does
    not exist") become NOT_FOUND; other DuckDB, Arrow and pyarrow.flight errors map by class
    (see the module docstring). An unexpected exception, a bug of the server, becomes
    INTERNAL with its class and message.
    """
    if isinstance(exc, ServerError):
        return exc
    if isinstance(exc, duckdb.CatalogException) and "does not exist" in str(exc):
        return not_found(_text(exc))
    for source, code in _MAPPING:
        if isinstance(exc, source):
            return ServerError(code, _text(exc))
    return ServerError(_Code.INTERNAL, f"internal server error: {type(exc).__name__}: {exc}")

"""DuckDB and request errors as Flight errors, translated in one place.

Every RPC handler of :class:`~flightnb.server.dispatch.FlightSqlServerBase` passes what it
raises through :func:`flight_error`, once, at its top, and raises the result ``from None``, so
no DuckDB or server frame is chained to it. The message is DuckDB's (or the server's) own text.

pyarrow.flight decides the gRPC status from the exception's class:

==========================================  =========================================
raised                                      status (message sent)
==========================================  =========================================
``flight.FlightCancelledError``             CANCELLED (``"<message>. Detail: Cancelled"``)
``flight.FlightUnauthorizedError``          PERMISSION_DENIED
``flight.FlightInternalError``              INTERNAL
``flight.FlightServerError``                UNKNOWN (``"<message>. Detail: Failed"``)
``pa.ArrowInvalid``                         INVALID_ARGUMENT
``pa.ArrowKeyError``                        NOT_FOUND
``pa.ArrowNotImplementedError``             UNIMPLEMENTED
==========================================  =========================================

A limit of pyarrow.flight (verified with pyarrow 26): only ``flight.Flight*Error`` classes
travel without a Python traceback, and none of them maps to INVALID_ARGUMENT, NOT_FOUND,
ALREADY_EXISTS or UNIMPLEMENTED. For those codes the server raises the Arrow exceptions above,
and pyarrow appends ``". Detail: Python exception: Traceback ..."`` to the message; raising
``from None`` at the handler's top keeps that to pyarrow's frame and the handler's. The clean
message also travels alone in the ``x-arrow-status-message-bin`` trailer, and flightnb's client
shows only it. No Python exception reaches ALREADY_EXISTS, so "already exists" is
INVALID_ARGUMENT.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.flight as flight

from flightnb.server.tickets import TicketError
from flightnb.sql.commands import CommandDecodeError

__all__ = ["NotFound", "already_exists", "flight_error", "invalid", "not_found", "unsupported"]


class NotFound(pa.ArrowKeyError):  # type: ignore[misc]
    """NOT_FOUND, with the message as given (``KeyError`` would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def invalid(message: str) -> pa.ArrowInvalid:
    """An INVALID_ARGUMENT error for a bad request."""
    return pa.ArrowInvalid(message)


def not_found(message: str) -> NotFound:
    """A NOT_FOUND error, e.g. for an unknown table, statement or transaction handle."""
    return NotFound(message)


def already_exists(message: str) -> pa.ArrowInvalid:
    """The thing to create exists (INVALID_ARGUMENT: pyarrow.flight cannot send ALREADY_EXISTS)."""
    return pa.ArrowInvalid(message)


def unsupported(message: str) -> pa.ArrowNotImplementedError:
    """An UNIMPLEMENTED error for a command or option this server does not offer."""
    return pa.ArrowNotImplementedError(message)


# Most specific first: the classes overlap (e.g. InterruptException is a DatabaseError).
_MAPPING: tuple[tuple[type[BaseException], type[Exception]], ...] = (
    (duckdb.InterruptException, flight.FlightCancelledError),
    (duckdb.PermissionException, flight.FlightUnauthorizedError),
    (duckdb.NotSupportedError, pa.ArrowNotImplementedError),
    (duckdb.InternalError, flight.FlightInternalError),
    (duckdb.OutOfMemoryException, flight.FlightInternalError),
    (duckdb.TransactionException, flight.FlightServerError),
    (duckdb.IOException, flight.FlightServerError),
    # The user's SQL or data is at fault: syntax, unknown names, types, constraints.
    (duckdb.ProgrammingError, pa.ArrowInvalid),
    (duckdb.DataError, pa.ArrowInvalid),
    (duckdb.IntegrityError, pa.ArrowInvalid),
    (duckdb.DependencyException, pa.ArrowInvalid),
    (duckdb.SequenceException, pa.ArrowInvalid),
    (duckdb.Error, flight.FlightServerError),
    (CommandDecodeError, pa.ArrowInvalid),
    (TicketError, pa.ArrowInvalid),
)


def _text(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return text.rstrip() or type(exc).__name__


def flight_error(exc: Exception) -> Exception:
    """The exception to raise for ``exc``: a Flight or Arrow error with a clean message.

    Flight and Arrow errors pass unchanged, stripped of their traceback. DuckDB's catalog
    errors for a missing object ("... does not exist") become NOT_FOUND; its other errors
    map by class. An unexpected
    exception (a bug of the server) becomes INTERNAL with its class and message.
    """
    if isinstance(exc, flight.FlightError | pa.ArrowException):
        # Raised again without the frames it came through: pyarrow formats them into the
        # message of every non-Flight error.
        passed: Exception = exc.with_traceback(None)
        return passed
    if isinstance(exc, duckdb.CatalogException) and "does not exist" in str(exc):
        return not_found(_text(exc))
    for source, target in _MAPPING:
        if isinstance(exc, source):
            mapped: Exception = target(_text(exc))
            return mapped
    internal: Exception = flight.FlightInternalError(
        f"internal server error: {type(exc).__name__}: {exc}"
    )
    return internal

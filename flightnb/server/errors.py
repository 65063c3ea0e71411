"""DuckDB and request errors as Flight errors, translated in one place.

pyarrow.flight turns the exception a handler raises into the call's gRPC status:
``pa.ArrowInvalid`` becomes INVALID_ARGUMENT, ``pa.ArrowKeyError`` NOT_FOUND,
``pa.ArrowNotImplementedError`` UNIMPLEMENTED and each ``flight.Flight*Error`` its own code.
The message is DuckDB's, unchanged, so clients can show what the database said.

pyarrow.flight appends a Python traceback (". Detail: Python exception: ...") to the message of
every error raised as a non-Flight exception, so INVALID_ARGUMENT, NOT_FOUND and UNIMPLEMENTED
errors carry one; ``flight.Flight*Error`` exceptions do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa
import pyarrow.flight as flight

from flightnb.sql.commands import CommandDecodeError

__all__ = ["invalid", "map_errors", "not_found", "unsupported"]

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
)


def invalid(message: str) -> pa.ArrowInvalid:
    """An INVALID_ARGUMENT error for a bad request."""
    return pa.ArrowInvalid(message)


def not_found(message: str) -> pa.ArrowKeyError:
    """A NOT_FOUND error, e.g. for an unknown statement or transaction handle."""
    return pa.ArrowKeyError(message)


def unsupported(message: str) -> pa.ArrowNotImplementedError:
    """An UNIMPLEMENTED error for a command or option this server does not offer."""
    return pa.ArrowNotImplementedError(message)


@contextmanager
def map_errors() -> Iterator[None]:
    """Re-raise DuckDB and command decoding errors as the matching Flight error."""
    try:
        yield
    except (flight.FlightError, pa.ArrowException):
        raise
    except Exception as exc:
        for source, target in _MAPPING:
            if isinstance(exc, source):
                # pyarrow sends the traceback of a non-Flight exception along with its
                # message; dropping the chained DuckDB frames keeps that detail short and
                # keeps server paths out of it.
                raise target(str(exc)) from None
        raise

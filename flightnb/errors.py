"""The exceptions flightnb raises.

Every error of the public API is a :class:`FlightError`. The names follow ``pyarrow.flight`` so
code written against it reads the same. The classes say whose fault an error is: the caller's
(:class:`FlightUsageError`, found before or without asking a server), the data's or the
machine's (decode and sink errors), or the server's (one class per gRPC status)::

    FlightError
    ├── FlightUsageError             the caller's mistake, found before any call (a base only)
    │   ├── FlightArgumentError      ValueError: a bad URI, to=, keyword mix, closed object
    │   │   └── ConversionArgumentError  a bad to=, dtype_backend=, ... (flightnb.convert)
    │   │       └── UnsupportedTypeError  a column the target library cannot hold
    │   └── FlightArgumentTypeError  TypeError: a value of a type flightnb cannot use
    ├── FlightDecodeError            the server's bytes are not a valid Flight/Arrow stream
    ├── FlightSinkError              a sink could not write its file (flightnb.functions.sinks)
    ├── FlightClientClosedError      the client was closed before or during the call
    ├── FlightCancelledError         CANCELLED: the call was cancelled (by us or the server)
    ├── FlightTimedOutError          DEADLINE_EXCEEDED: the deadline passed
    ├── FlightUnavailableError       UNAVAILABLE: cannot connect, TLS mismatch, server went away
    ├── FlightUnauthenticatedError   UNAUTHENTICATED: no or bad credentials
    ├── FlightUnauthorizedError      PERMISSION_DENIED: credentials lack the right
    ├── FlightInvalidArgumentError   INVALID_ARGUMENT, OUT_OF_RANGE: the server refused the request
    ├── FlightNotFoundError          NOT_FOUND
    ├── FlightAlreadyExistsError     ALREADY_EXISTS
    ├── FlightNotImplementedError    UNIMPLEMENTED: the server lacks this call or command
    │   └── FlightCapabilityError    ... and flightnb's fallback for it cannot apply here
    ├── FlightResourceExhaustedError RESOURCE_EXHAUSTED: e.g. a message over a size limit
    ├── FlightInternalError          INTERNAL, DATA_LOSS
    └── FlightServerError            UNKNOWN and every other status a server sends

A test walks every module of the package and checks this tree against the exception classes
defined there, so it stays complete.

gRPC status codes are translated to these classes in exactly one place,
:func:`flightnb.transport.errors.translate_rpc_error`, called only by the call seam
(:mod:`flightnb.transport.calls`).

A caller's mistake is never a :class:`FlightInvalidArgumentError`: that class means a server
answered INVALID_ARGUMENT, so ``except FlightInvalidArgumentError`` catches exactly what the
server refused. Local checks raise :class:`FlightArgumentError` (a :class:`ValueError`) or
:class:`FlightArgumentTypeError` (a :class:`TypeError`); catch :class:`FlightUsageError` for
both, or :class:`FlightError` for everything flightnb raises.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FlightAlreadyExistsError",
    "FlightArgumentError",
    "FlightArgumentTypeError",
    "FlightCancelledError",
    "FlightCapabilityError",
    "FlightClientClosedError",
    "FlightDecodeError",
    "FlightError",
    "FlightInternalError",
    "FlightInvalidArgumentError",
    "FlightNotFoundError",
    "FlightNotImplementedError",
    "FlightResourceExhaustedError",
    "FlightServerError",
    "FlightTimedOutError",
    "FlightUnauthenticatedError",
    "FlightUnauthorizedError",
    "FlightUnavailableError",
    "FlightUsageError",
    "error_class_for_code",
]


class FlightError(Exception):
    """Base class of every flightnb error.

    Attributes
    ----------
    code : str or None
        The gRPC status code name (``"UNAVAILABLE"``, ...) when the error came from a call.
    message : str
        What went wrong, as the server (or flightnb) said it.
    extra_info : bytes or None
        The binary ``grpc-status-details-bin`` trailer: what ``pyarrow.flight`` calls
        ``extra_info`` (Arrow servers put the error's extra info there).
    arrow_detail : bytes or None
        The ``x-arrow-status-detail-bin`` trailer Arrow C++ servers attach (e.g. the Arrow
        status detail such as ``b"Unauthorized"``).
    arrow_code : int or None
        The ``x-arrow-status`` trailer of Arrow C++ servers: the server-side
        ``arrow::StatusCode`` number (e.g. ``4`` for ``KeyError``) behind the gRPC status.
    arrow_message : str or None
        The ``x-arrow-status-message-bin`` trailer: the server's Arrow status message, sent
        as binary so it arrives byte-exact (decoded as UTF-8, invalid bytes replaced).
    trailers : dict[str, str | bytes]
        Other trailing metadata of the failed call (credentials removed). The Arrow
        trailers above stay in it too, as received.
    detail : str or None
        The server's whole status message when it came from a call. ``message`` drops what
        servers on ``pyarrow.flight`` append to it (``". Detail: Python exception:
        Traceback ..."``, ``". Detail: Failed"``); ``detail`` keeps it.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        extra_info: bytes | None = None,
        arrow_detail: bytes | None = None,
        arrow_code: int | None = None,
        arrow_message: str | None = None,
        trailers: dict[str, str | bytes] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.code = code
        self.extra_info = extra_info
        self.arrow_detail = arrow_detail
        self.arrow_code = arrow_code
        self.arrow_message = arrow_message
        self.trailers = dict(trailers or {})

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code else self.message


class FlightUsageError(FlightError):
    """The caller's own mistake, found by flightnb before (or without) asking a server.

    The base of :class:`FlightArgumentError` and :class:`FlightArgumentTypeError`; it is not
    raised itself. ``code`` is None: no server was involved.
    """


class FlightArgumentError(FlightUsageError, ValueError):
    """An argument has a value flightnb cannot use.

    A bad location URI, a ``to=`` or keyword that is not one of its choices, two keywords
    that exclude each other, an object used after it was closed. It is a :class:`ValueError`,
    as the standard library and pyarrow raise for the same kind of mistake.

    Examples
    --------
    >>> import flightnb
    >>> flightnb.read_flight("grpc://localhost", path="trips")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    flightnb.errors.FlightArgumentError: Flight location 'grpc://localhost' has no port ...
    """


class FlightArgumentTypeError(FlightUsageError, TypeError):
    """An argument is of a type flightnb cannot use (e.g. an int where a ticket goes).

    Examples
    --------
    >>> from flightnb.types import as_ticket
    >>> as_ticket(42)
    Traceback (most recent call last):
    ...
    flightnb.errors.FlightArgumentTypeError: cannot use int as a ticket
    """


class FlightDecodeError(FlightError):
    """The bytes a server sent are not a valid Flight/Arrow IPC stream.

    ``where`` names the part that was wrong (``"data_header"``, ``"data_body"``,
    ``"FlightData"``, ``"stream"``, or the message carrying it: ``"FlightInfo"``,
    ``"SchemaResult"``, ``"Result"``) so a report can point at the server, not at flightnb.
    """

    def __init__(self, message: str, *, where: str = "stream") -> None:
        super().__init__(f"malformed {where}: {message}")
        self.where = where


class FlightClientClosedError(FlightError):
    """A call was made on a closed client, or its client closed while it ran."""


class FlightCancelledError(FlightError):
    """The call was cancelled, by the user, a timeout of ours, or the server."""


class FlightTimedOutError(FlightError):
    """The call's deadline passed before it finished."""


class FlightUnavailableError(FlightError):
    """The server cannot be reached or went away (includes TLS and connection failures)."""


class FlightUnauthenticatedError(FlightError):
    """The server did not accept the credentials, or none were given."""


class FlightUnauthorizedError(FlightError):
    """The credentials are valid but do not allow this call."""


class FlightInvalidArgumentError(FlightError):
    """The server rejected the request's arguments (bad SQL, bad descriptor, ...).

    Only a server's INVALID_ARGUMENT or OUT_OF_RANGE status raises it; flightnb's own checks
    of the caller's arguments raise :class:`FlightUsageError` subclasses instead.
    """


class FlightNotFoundError(FlightError):
    """The named flight, table, statement or session does not exist."""


class FlightAlreadyExistsError(FlightError):
    """The thing to create exists already."""


class FlightNotImplementedError(FlightError):
    """The server does not implement this RPC, action or command."""


class FlightCapabilityError(FlightNotImplementedError):
    """The server lacks a capability this call needs, and flightnb's fallback cannot apply.

    The message is one line naming both, e.g. that the server does not bind parameters and
    that values written into the SQL (as ``scan_flight`` filters are) would work instead.

    Attributes
    ----------
    capability : str
        What the server lacks (``"parameter binding"``, ...).
    fallback : str
        What flightnb does, or what the caller can do, without it.
    """

    def __init__(self, capability: str, fallback: str, *, cause: FlightError | None = None) -> None:
        said = f" (the server said: {cause})" if cause is not None else ""
        super().__init__(
            f"this server does not support {capability}{said}; {fallback}",
            code=cause.code if cause is not None else "UNIMPLEMENTED",
            detail=cause.detail if cause is not None else None,
        )
        self.capability = capability
        self.fallback = fallback

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as what it says (a Dask worker's error travels to the client this way).
        return (_capability_error, (self.capability, self.fallback, self.message, self.code))


def _capability_error(
    capability: str, fallback: str, message: str, code: str | None
) -> FlightCapabilityError:
    error = FlightCapabilityError(capability, fallback)
    error.message, error.code = message, code
    error.args = (message,)
    return error


class FlightResourceExhaustedError(FlightError):
    """A server or transport limit was hit (message size, quota, memory)."""


class FlightInternalError(FlightError):
    """The server reported an internal failure or data loss."""


class FlightServerError(FlightError):
    """The server failed with a status that has no more specific class."""


_CLASS_BY_CODE: dict[str, type[FlightError]] = {
    "CANCELLED": FlightCancelledError,
    "DEADLINE_EXCEEDED": FlightTimedOutError,
    "UNAVAILABLE": FlightUnavailableError,
    "UNAUTHENTICATED": FlightUnauthenticatedError,
    "PERMISSION_DENIED": FlightUnauthorizedError,
    "INVALID_ARGUMENT": FlightInvalidArgumentError,
    "OUT_OF_RANGE": FlightInvalidArgumentError,
    "NOT_FOUND": FlightNotFoundError,
    "ALREADY_EXISTS": FlightAlreadyExistsError,
    "UNIMPLEMENTED": FlightNotImplementedError,
    "RESOURCE_EXHAUSTED": FlightResourceExhaustedError,
    "INTERNAL": FlightInternalError,
    "DATA_LOSS": FlightInternalError,
}


def error_class_for_code(code: str) -> type[FlightError]:
    """The :class:`FlightError` subclass for a gRPC status code name such as ``"NOT_FOUND"``."""
    return _CLASS_BY_CODE.get(code, FlightServerError)

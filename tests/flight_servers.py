"""Reusable ``pyarrow.flight`` servers for the tests.

:class:`FlightTestServer` is a complete Flight service in a few hundred lines, built on
pyarrow's reference implementation so that flightnb is tested against the behaviour real
servers have (Arrow C++ underneath), not against our own idea of the protocol.

What it serves
--------------
Tables are registered by name with :meth:`FlightTestServer.add_table`. A table called
``"a/b"`` is the flight of ``FlightDescriptor.for_path("a", "b")`` and its ticket is
``b"a/b"``. Besides tables:

* flights with several endpoints (:meth:`FlightTestServer.add_flight`), each endpoint a ticket
  and zero or more locations (this server, another server, or none = "same server");
* error paths: the path ``error/<kind>`` (ticket ``b"error/<kind>"``, action type
  ``"error/<kind>"``) makes every call on it fail with the error ``ERRORS[kind]`` builds;
  ``error_after/<kind>`` tickets send two batches first and then fail;
* ``do_put`` stores the uploaded table under the descriptor's path and answers every
  message's ``app_metadata`` with a ``PutResult`` carrying the same bytes;
* ``do_exchange`` echoes: batches come back with their ``app_metadata``, metadata-only
  messages come back as metadata-only messages;
* actions: ``echo`` (returns the body), ``tables`` (one result per table name, sorted),
  ``drop`` (removes the table named by the body), ``error/<kind>``.

Authentication
--------------
With ``users={"name": "password"}`` every call except Handshake needs a token. Two handshakes
are accepted, so both plain gRPC clients and ``pyarrow.flight`` clients can log in:

* a ``HandshakeRequest`` whose ``payload`` is a serialized ``BasicAuth`` message: the token
  comes back as the ``payload`` of the ``HandshakeResponse`` (``ServerAuthHandler`` style);
* an ``authorization: Basic <base64 user:pass>`` header on the Handshake call (what
  ``FlightClient.authenticate_basic_token`` sends): the token comes back in the
  ``authorization: Bearer <token>`` response header.

Later calls present the token as ``authorization: Bearer <token>`` or as ``auth-token-bin``.

Sessions issued on every call
-----------------------------
:class:`SessionFlightServer` behaves as Deephaven does: a call that logs in (an
``authorization`` header equal to its ``login`` value) opens a session, every call is
answered with ``authorization: Bearer <token>``, a new token each time (earlier tokens of
the session stay valid, so concurrent calls do not trip over each other), and tickets only
work in the session that planned them ("must use the original session"). Its
:class:`RotatingSessions` middleware records which session each call used and whether it
carried the newest token.
:class:`CookieSessionFlightServer` binds tickets to sessions the same way, but names the
session with a cookie and issues no credential: a client learns of it only from a refusal.
:func:`add_split_flight` serves a flight of several endpoints on any of them.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pyarrow.flight as flight
from corpus import CASES, case, dictionary_replacement_batches

__all__ = [
    "ERRORS",
    "TEST_USERS",
    "Endpoint",
    "ErrorCase",
    "FlightTestServer",
    "RotatingSessions",
    "SessionCall",
    "SessionFlightServer",
    "multi_batch_dictionary_table",
    "populate",
    "serve_unix",
    "standard_tables",
    "unix_socket_path",
]

#: The credentials :func:`populate`'s callers use for servers with authentication.
TEST_USERS = {"alice": "wonderland", "bob": "builder"}


# --------------------------------------------------------------------------------------------
# Errors on demand
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ErrorCase:
    """An error the server raises, and the gRPC status a client sees for it."""

    make: Callable[[str], BaseException]
    code: grpc.StatusCode


def _flight_error(cls: type[flight.FlightError]) -> Callable[[str], BaseException]:
    return lambda message: cls(message, extra_info=b"extra-info:" + message.encode())


#: ``kind`` -> how to raise it and the status pyarrow turns it into. The message of every error
#: is ``"<kind> raised on purpose"``; the Flight errors also carry ``extra_info``
#: (``b"extra-info:" + message``), which Arrow C++ sends in the ``grpc-status-details-bin``
#: / ``x-arrow-status-detail-bin`` trailers.
ERRORS: dict[str, ErrorCase] = {
    "unavailable": ErrorCase(
        _flight_error(flight.FlightUnavailableError), grpc.StatusCode.UNAVAILABLE
    ),
    "unauthenticated": ErrorCase(
        _flight_error(flight.FlightUnauthenticatedError), grpc.StatusCode.UNAUTHENTICATED
    ),
    "unauthorized": ErrorCase(
        _flight_error(flight.FlightUnauthorizedError), grpc.StatusCode.PERMISSION_DENIED
    ),
    "timed_out": ErrorCase(
        _flight_error(flight.FlightTimedOutError), grpc.StatusCode.DEADLINE_EXCEEDED
    ),
    "cancelled": ErrorCase(_flight_error(flight.FlightCancelledError), grpc.StatusCode.CANCELLED),
    "internal": ErrorCase(_flight_error(flight.FlightInternalError), grpc.StatusCode.INTERNAL),
    "server": ErrorCase(_flight_error(flight.FlightServerError), grpc.StatusCode.UNKNOWN),
    "invalid": ErrorCase(pa.ArrowInvalid, grpc.StatusCode.INVALID_ARGUMENT),
    "not_implemented": ErrorCase(pa.ArrowNotImplementedError, grpc.StatusCode.UNIMPLEMENTED),
    "key_error": ErrorCase(KeyError, grpc.StatusCode.NOT_FOUND),
    "runtime_error": ErrorCase(RuntimeError, grpc.StatusCode.UNKNOWN),
}


def _raise_for(path: str) -> None:
    """Raise the error ``path`` asks for when it names one (``error/<kind>``)."""
    if path.startswith("error/"):
        kind = path.removeprefix("error/")
        if kind not in ERRORS:
            raise flight.FlightServerError(f"unknown error kind {kind!r}")
        raise ERRORS[kind].make(f"{kind} raised on purpose")


# --------------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------------


class _Tokens:
    """Issued bearer tokens, shared by the auth handler and the middleware."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = dict(users)
        self._by_token: dict[str, str] = {}
        self._lock = threading.Lock()

    def login(self, username: str, password: str) -> str:
        if self.users.get(username) != password or not username:
            raise flight.FlightUnauthenticatedError("invalid username or password")
        token = secrets.token_hex(16)
        with self._lock:
            self._by_token[token] = username
        return token

    def user(self, token: str) -> str | None:
        with self._lock:
            return self._by_token.get(token)


class _PayloadAuthHandler(flight.ServerAuthHandler):
    """Handshake with a ``BasicAuth`` payload; the token is sent back as the payload."""

    def __init__(self, tokens: _Tokens) -> None:
        super().__init__()
        self._tokens = tokens

    def authenticate(self, outgoing: Any, incoming: Any) -> None:
        try:
            payload = incoming.read()
        except OSError:  # the client closed its side without sending anything
            payload = None
        if payload is None:
            # Header-based login (or none): the middleware has dealt with it.
            return
        try:
            basic = flight.BasicAuth.deserialize(payload)
        except Exception as exc:
            raise flight.FlightUnauthenticatedError(f"bad BasicAuth payload: {exc}") from None
        outgoing.write(self._tokens.login(basic.username.decode(), basic.password.decode()))

    def is_valid(self, token: bytes) -> str:
        if not token:
            return ""  # no auth-token-bin header; the middleware checks the bearer header
        user = self._tokens.user(token.decode(errors="replace"))
        if user is None:
            raise flight.FlightUnauthenticatedError("unknown token")
        return user


class _IssuedToken(flight.ServerMiddleware):
    def __init__(self, token: str | None) -> None:
        self.token = token

    def sending_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}


class _BearerAuthMiddlewareFactory(flight.ServerMiddlewareFactory):
    """Checks ``authorization`` headers; turns a Basic header on Handshake into a token."""

    def __init__(self, tokens: _Tokens) -> None:
        super().__init__()
        self._tokens = tokens

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> _IssuedToken:
        authorization = _first(headers, "authorization")
        if info.method == flight.FlightMethod.HANDSHAKE:
            if authorization and authorization.lower().startswith("basic "):
                try:
                    decoded = base64.b64decode(authorization[6:]).decode()
                    username, _, password = decoded.partition(":")
                except ValueError:
                    raise flight.FlightUnauthenticatedError(
                        "malformed Basic authorization header"
                    ) from None
                return _IssuedToken(self._tokens.login(username, password))
            return _IssuedToken(None)
        if authorization and authorization.lower().startswith("bearer "):
            if self._tokens.user(authorization[7:].strip()) is not None:
                return _IssuedToken(None)
            raise flight.FlightUnauthenticatedError("unknown bearer token")
        legacy = _first(headers, "auth-token-bin")
        if legacy and self._tokens.user(legacy) is not None:
            return _IssuedToken(None)
        raise flight.FlightUnauthenticatedError("this server needs a token; call Handshake")


def _first(headers: dict[str, list[Any]], name: str) -> str | None:
    values = headers.get(name) or []
    if not values:
        return None
    value = values[0]
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One endpoint of a flight: a ticket and where to redeem it (empty = this server)."""

    ticket: bytes
    locations: tuple[str, ...] = ()
    app_metadata: bytes = b""


@dataclasses.dataclass
class _Entry:
    table: pa.Table
    app_metadata: list[bytes] | None
    max_chunksize: int | None
    delay: float


@dataclasses.dataclass
class _Flight:
    schema: pa.Schema
    endpoints: list[Endpoint]
    ordered: bool
    total_records: int
    app_metadata: bytes


def _path_of(descriptor: flight.FlightDescriptor) -> str:
    if descriptor.descriptor_type == flight.DescriptorType.PATH:
        return "/".join(p.decode() if isinstance(p, bytes) else p for p in descriptor.path)
    return descriptor.command.decode(errors="replace")


class FlightTestServer(flight.FlightServerBase):
    """A Flight server over named tables, with errors, auth and multi-endpoint flights.

    Parameters
    ----------
    location : str
        Where to listen, e.g. ``"grpc://127.0.0.1:0"`` or ``"grpc+unix:///tmp/x.sock"``.
    users : dict[str, str], optional
        Enable authentication with these username/password pairs.
    middleware : dict, optional
        More pyarrow server middleware, by name.
    auth_handler : ServerAuthHandler, optional
        What answers Handshake when ``users`` is not given (pyarrow's default: UNIMPLEMENTED).
    tls_certificates : list of pyarrow.flight.CertKeyPair, optional
        Serve TLS with these (use a ``grpc+tls://`` location); ``location`` then still
        reads ``grpc://``, so build the URI from ``port``.
    """

    def __init__(
        self,
        location: str = "grpc://127.0.0.1:0",
        *,
        users: dict[str, str] | None = None,
        middleware: dict[str, flight.ServerMiddlewareFactory] | None = None,
        auth_handler: flight.ServerAuthHandler | None = None,
        tls_certificates: list[flight.CertKeyPair] | None = None,
    ) -> None:
        self._tokens = _Tokens(users) if users else None
        kwargs: dict[str, Any] = {"middleware": dict(middleware or {})}
        if auth_handler is not None:
            kwargs["auth_handler"] = auth_handler
        if tls_certificates:
            kwargs["tls_certificates"] = tls_certificates
        if self._tokens is not None:
            kwargs["auth_handler"] = _PayloadAuthHandler(self._tokens)
            kwargs["middleware"]["auth"] = _BearerAuthMiddlewareFactory(self._tokens)
        super().__init__(location, **kwargs)
        self._lock = threading.Lock()
        self._tables: dict[str, _Entry] = {}
        self._flights: dict[str, _Flight] = {}
        self.socket_path: Path | None = None
        self.uploads: dict[str, pa.Table] = {}
        self.put_metadata: dict[str, list[bytes]] = {}
        if location.startswith("grpc+unix://"):
            self.location = location
        else:
            host = location.split("://", 1)[1].rsplit(":", 1)[0]
            self.location = f"grpc://{host}:{self.port}"

    # -- registration ------------------------------------------------------------------------

    def add_table(
        self,
        name: str,
        table: pa.Table,
        *,
        app_metadata: list[bytes] | None = None,
        max_chunksize: int | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve ``table`` as flight ``name``.

        ``app_metadata`` pairs one value with each record batch sent (the table is cut into
        that many batches; dictionary-encoded columns are not supported with it, a limit of
        pyarrow's GeneratorStream). ``delay`` sleeps that many seconds before each batch.
        """
        with self._lock:
            self._tables[name] = _Entry(table, app_metadata, max_chunksize, delay)

    def add_flight(
        self,
        name: str,
        endpoints: list[Endpoint],
        *,
        schema: pa.Schema,
        ordered: bool = False,
        total_records: int = -1,
        app_metadata: bytes = b"",
    ) -> None:
        """Serve a flight made of several endpoints (their tickets name tables)."""
        with self._lock:
            self._flights[name] = _Flight(
                schema, list(endpoints), ordered, total_records, app_metadata
            )

    def table(self, name: str) -> pa.Table:
        """The table served, or uploaded, as ``name``."""
        with self._lock:
            if name in self.uploads:
                return self.uploads[name]
            return self._tables[name].table

    # -- FlightInfo --------------------------------------------------------------------------

    def _info(self, name: str) -> flight.FlightInfo:
        _raise_for(name)
        descriptor = flight.FlightDescriptor.for_path(*name.split("/"))
        with self._lock:
            multi = self._flights.get(name)
            entry = self._tables.get(name)
            uploaded = self.uploads.get(name)
        if multi is not None:
            endpoints = [
                flight.FlightEndpoint(e.ticket, list(e.locations), app_metadata=e.app_metadata)
                for e in multi.endpoints
            ]
            return flight.FlightInfo(
                multi.schema,
                descriptor,
                endpoints,
                total_records=multi.total_records,
                total_bytes=-1,
                ordered=multi.ordered,
                app_metadata=multi.app_metadata,
            )
        table = uploaded if uploaded is not None else entry.table if entry else None
        if table is None:
            raise KeyError(f"no flight named {name!r}")
        endpoint = flight.FlightEndpoint(name.encode(), [self.location])
        return flight.FlightInfo(
            table.schema,
            descriptor,
            [endpoint],
            total_records=table.num_rows,
            total_bytes=table.nbytes,
            ordered=True,
            app_metadata=b"info:" + name.encode(),
        )

    def list_flights(self, context: Any, criteria: bytes) -> Iterator[flight.FlightInfo]:
        prefix = criteria.decode() if criteria else ""
        with self._lock:
            names = sorted({*self._tables, *self._flights, *self.uploads})
        for name in names:
            if name.startswith(prefix):
                yield self._info(name)

    def get_flight_info(
        self, context: Any, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        return self._info(_path_of(descriptor))

    def get_schema(self, context: Any, descriptor: flight.FlightDescriptor) -> flight.SchemaResult:
        return flight.SchemaResult(self._info(_path_of(descriptor)).schema)

    # -- data --------------------------------------------------------------------------------

    def do_get(self, context: Any, ticket: flight.Ticket) -> flight.FlightDataStream:
        name = ticket.ticket.decode(errors="replace")
        if name.startswith("error_after/"):
            return self._failing_stream(name.removeprefix("error_after/"))
        _raise_for(name)
        with self._lock:
            entry = self._tables.get(name)
            uploaded = self.uploads.get(name)
        if entry is None and uploaded is not None:
            entry = _Entry(uploaded, None, None, 0.0)
        if entry is None:
            raise KeyError(f"no ticket {name!r}")
        if entry.app_metadata is None and not entry.delay:
            source: pa.Table | pa.RecordBatchReader = entry.table
            if entry.max_chunksize:
                source = pa.RecordBatchReader.from_batches(
                    entry.table.schema, entry.table.to_batches(max_chunksize=entry.max_chunksize)
                )
            return flight.RecordBatchStream(source)
        return flight.GeneratorStream(entry.table.schema, self._generate(entry))

    @staticmethod
    def _generate(entry: _Entry) -> Iterator[Any]:
        table = entry.table
        if entry.app_metadata is not None:
            count = max(1, len(entry.app_metadata))
            size = max(1, -(-table.num_rows // count))
            batches = table.combine_chunks().to_batches(max_chunksize=size)
            for batch, metadata in zip(batches, entry.app_metadata, strict=False):
                if entry.delay:
                    time.sleep(entry.delay)
                yield batch, metadata
            return
        for batch in table.to_batches(max_chunksize=entry.max_chunksize):
            if entry.delay:
                time.sleep(entry.delay)
            yield batch

    @staticmethod
    def _failing_stream(kind: str) -> flight.FlightDataStream:
        table = pa.table({"n": pa.array(range(10), pa.int64())})

        def generate() -> Iterator[pa.RecordBatch]:
            yield from table.to_batches(max_chunksize=5)
            _raise_for(f"error/{kind}")

        return flight.GeneratorStream(table.schema, generate())

    def do_put(
        self,
        context: Any,
        descriptor: flight.FlightDescriptor,
        reader: flight.MetadataRecordBatchReader,
        writer: flight.FlightMetadataWriter,
    ) -> None:
        name = _path_of(descriptor)
        _raise_for(name)
        batches: list[pa.RecordBatch] = []
        received: list[bytes] = []
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            if chunk.data is not None:
                batches.append(chunk.data)
            if chunk.app_metadata is not None:
                received.append(chunk.app_metadata.to_pybytes())
                writer.write(chunk.app_metadata)
        with self._lock:
            self.uploads[name] = pa.Table.from_batches(batches, schema=reader.schema)
            self.put_metadata[name] = received

    def do_exchange(
        self,
        context: Any,
        descriptor: flight.FlightDescriptor,
        reader: flight.MetadataRecordBatchReader,
        writer: flight.MetadataRecordBatchWriter,
    ) -> None:
        _raise_for(_path_of(descriptor))
        started = False
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            if chunk.data is not None:
                if not started:
                    writer.begin(reader.schema)
                    started = True
                if chunk.app_metadata is not None:
                    writer.write_with_metadata(chunk.data, chunk.app_metadata)
                else:
                    writer.write_batch(chunk.data)
            elif chunk.app_metadata is not None:
                writer.write_metadata(chunk.app_metadata)

    # -- actions -----------------------------------------------------------------------------

    def list_actions(self, context: Any) -> list[tuple[str, str]]:
        return [
            ("echo", "Return the action body as the single result"),
            ("tables", "One result per served table name"),
            ("drop", "Remove the table named by the body"),
        ]

    def do_action(self, context: Any, action: flight.Action) -> Iterator[bytes]:
        kind = action.type
        _raise_for(kind)
        body = action.body.to_pybytes() if action.body is not None else b""
        if kind == "echo":
            return iter([body])
        if kind == "tables":
            with self._lock:
                names = sorted({*self._tables, *self.uploads})
            return iter([n.encode() for n in names])
        if kind == "drop":
            with self._lock:
                self._tables.pop(body.decode(), None)
                self.uploads.pop(body.decode(), None)
            return iter([])
        raise pa.ArrowNotImplementedError(f"unknown action {kind!r}")


# --------------------------------------------------------------------------------------------
# Sessions whose token rotates on every call (as Deephaven's)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SessionCall:
    """One call a :class:`RotatingSessions` server saw."""

    method: str
    session: str
    #: How the call authenticated: "login", "latest" (the newest token) or "older".
    presented: str
    #: The names of the headers the call came with.
    headers: frozenset[str] = frozenset()


class _SessionToken(flight.ServerMiddleware):
    def __init__(self, session: str, token: str) -> None:
        self.session = session
        self.token = token

    def sending_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


class RotatingSessions(flight.ServerMiddlewareFactory):
    """Opens a session on a login, and answers every call with a fresh session token.

    Parameters
    ----------
    login : str
        The ``authorization`` value that opens a new session (Deephaven takes
        ``"Anonymous"``; flightnb's ``token="Anonymous"`` sends ``"Bearer Anonymous"``).
    """

    def __init__(self, login: str = "Bearer Anonymous") -> None:
        super().__init__()
        self.login = login
        self._lock = threading.Lock()
        self._sessions: dict[str, str] = {}  # token -> session
        self._latest: dict[str, str] = {}  # session -> newest token
        self.calls: list[SessionCall] = []

    def reset(self) -> None:
        with self._lock:
            self.calls = []

    def expire(self, session: str) -> None:
        """Forget every token of ``session`` (later calls with them are UNAUTHENTICATED)."""
        with self._lock:
            self._sessions = {t: s for t, s in self._sessions.items() if s != session}

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> _SessionToken:
        authorization = _first(headers, "authorization") or ""
        method = str(info.method).rsplit(".", 1)[-1]
        with self._lock:
            token = authorization.removeprefix("Bearer ")
            session = self._sessions.get(token) if authorization.startswith("Bearer ") else None
            if session is not None:
                presented = "latest" if self._latest[session] == token else "older"
            elif authorization == self.login:
                session, presented = secrets.token_hex(4), "login"
            else:
                raise flight.FlightUnauthenticatedError(f"{method}: no session for this call")
            fresh = secrets.token_hex(8)
            self._sessions[fresh] = session
            self._latest[session] = fresh
            self.calls.append(SessionCall(method, session, presented, frozenset(headers)))
        return _SessionToken(session, fresh)


class _SessionHandshake(flight.ServerAuthHandler):
    """Handshake answers one empty response (the middleware has judged the login already)."""

    def authenticate(self, outgoing: Any, incoming: Any) -> None:
        # One message, so the session token travels in headers with it: grpcio sometimes
        # drops the headers of a trailers-only answer to a bidirectional call.
        outgoing.write(b"")

    def is_valid(self, token: bytes) -> str:
        return ""


class SessionFlightServer(FlightTestServer):
    """A :class:`FlightTestServer` behind :class:`RotatingSessions`; tickets are per session.

    The tickets of its flights name the session that planned them; ``do_get`` refuses a
    ticket from another session with PERMISSION_DENIED, as Deephaven refuses a Flight SQL
    ticket: plain ``do_get(b"name")`` tickets work in any session.
    """

    def __init__(
        self, location: str = "grpc://127.0.0.1:0", *, login: str = "Bearer Anonymous"
    ) -> None:
        self.sessions = RotatingSessions(login)
        super().__init__(
            location, middleware={"session": self.sessions}, auth_handler=_SessionHandshake()
        )

    @staticmethod
    def _session(context: Any) -> str:
        middleware = context.get_middleware("session")
        return str(middleware.session)

    def get_flight_info(
        self, context: Any, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        info = super().get_flight_info(context, descriptor)
        session = self._session(context).encode()
        here = self.location.encode()
        endpoints = [
            # Tickets of other servers are theirs: left alone.
            e
            if any(location.uri != here for location in e.locations)
            else flight.FlightEndpoint(session + b":" + e.ticket.ticket, [self.location])
            for e in info.endpoints
        ]
        return flight.FlightInfo(
            info.schema, descriptor, endpoints, info.total_records, info.total_bytes
        )

    def do_get(self, context: Any, ticket: flight.Ticket) -> flight.FlightDataStream:
        session, sep, name = ticket.ticket.partition(b":")
        if sep:
            if session.decode() != self._session(context):
                raise flight.FlightUnauthorizedError("must use the original session")
            ticket = flight.Ticket(name)
        return super().do_get(context, ticket)


class _CookieSession(flight.ServerMiddleware):
    def __init__(self, session: str, fresh: bool) -> None:
        self.session = session
        self.fresh = fresh

    def sending_headers(self) -> dict[str, str]:
        return {"set-cookie": f"flight_session={self.session}"} if self.fresh else {}


class CookieSessions(flight.ServerMiddlewareFactory):
    """Opens a session, named by a cookie it sets, for every call that brings none."""

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> _CookieSession:
        for part in (_first(headers, "cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "flight_session" and value:
                return _CookieSession(value, fresh=False)
        return _CookieSession(secrets.token_hex(4), fresh=True)


class CookieSessionFlightServer(SessionFlightServer):
    """A :class:`SessionFlightServer` whose sessions are cookies and that issues no credential.

    A client learns that its tickets are bound to its session only when another session is
    refused one ("must use the original session"); no login is needed.
    """

    def __init__(self, location: str = "grpc://127.0.0.1:0") -> None:
        FlightTestServer.__init__(self, location, middleware={"session": CookieSessions()})


def add_split_flight(server: FlightTestServer, *, parts: int = 3, rows: int = 10) -> list[int]:
    """Serve the flight ``split``: ``parts`` endpoints of ``rows`` int64 values ``n`` each.

    Returns every value of ``n`` in order (0, 1, ...), what a read of the whole flight holds.
    """
    tables = [
        pa.table({"n": pa.array(range(i * rows, (i + 1) * rows), pa.int64())}) for i in range(parts)
    ]
    for i, table in enumerate(tables):
        server.add_table(f"part/{i}", table)
    server.add_flight(
        "split", [Endpoint(f"part/{i}".encode()) for i in range(parts)], schema=tables[0].schema
    )
    return list(range(parts * rows))


def unix_socket_path() -> Path:
    """A fresh, short path for a unix socket (sun_path is limited to ~100 bytes)."""
    return Path(tempfile.mkdtemp(prefix="fnb-")) / "flight.sock"


def serve_unix(path: Path | None = None, **kwargs: Any) -> FlightTestServer:
    """Start a :class:`FlightTestServer` on a unix socket; its ``socket_path`` says where."""
    path = path or unix_socket_path()
    server = FlightTestServer(f"grpc+unix://{path}", **kwargs)
    server.socket_path = path
    return server


def standard_tables() -> dict[str, pa.Table]:
    """The small tables every standard server serves, by name (see :func:`populate`)."""
    dictionary = multi_batch_dictionary_table()
    numbers = pa.table(
        {
            "n": pa.array(range(10_000), pa.int64()),
            "s": pa.array([f"row {i}" for i in range(10_000)]),
        }
    )
    return {
        "dictionary": dictionary,
        "numbers": numbers,
        "ints": case("ints"),
        "empty": pa.Table.from_batches([], schema=numbers.schema),
        "parts/0": numbers.slice(0, 100),
        "parts/1": numbers.slice(100, 100),
        "parts/2": numbers.slice(200, 100),
    }


def multi_batch_dictionary_table() -> pa.Table:
    """Three batches with a dictionary column whose dictionary changes between batches."""
    return pa.Table.from_batches(dictionary_replacement_batches())


def populate(server: FlightTestServer, *, other: FlightTestServer | None = None) -> None:
    """Register the standard flights on ``server``.

    ``other`` is a second server that the ``multi/other_server`` flight points to (it is
    populated with the same tables first if it has none).
    """
    tables = standard_tables()
    for name, table in tables.items():
        server.add_table(name, table)
    for name, table in CASES:
        server.add_table(f"corpus/{name}", table)
    server.add_table(
        "app_metadata", tables["numbers"].slice(0, 30), app_metadata=[b"first", b"second", b"third"]
    )
    server.add_table("batches_of_1000", tables["numbers"], max_chunksize=1000)
    server.add_table("slow", tables["numbers"], max_chunksize=100, delay=0.05)
    schema = tables["numbers"].schema
    parts = [f"parts/{i}".encode() for i in range(3)]
    server.add_flight(
        "multi/ordered",
        [Endpoint(t, (server.location,)) for t in parts],
        schema=schema,
        ordered=True,
        total_records=300,
    )
    server.add_flight(
        "multi/unordered",
        [Endpoint(t) for t in parts],
        schema=schema,
        ordered=False,
        total_records=300,
    )
    if other is not None:
        with other._lock:
            empty = not other._tables
        if empty:
            for name, table in tables.items():
                other.add_table(name, table)
        server.add_flight(
            "multi/other_server",
            [
                Endpoint(parts[0], (server.location,)),
                Endpoint(parts[1], (other.location,)),
                Endpoint(parts[2], (other.location, server.location)),
            ],
            schema=schema,
            ordered=True,
            total_records=300,
        )

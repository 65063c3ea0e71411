"""Probing a Flight server for what it speaks, safely and within bounded time.

Every probe is one call (or a short sequence) with a deadline; whatever happens becomes a
:class:`~flightnb.doctor.model.Check` row, never an exception. The probes only read: they
never upload (no DoPut into a table, no update statement); the one DoPut they send binds a
parameter to a prepared ``SELECT`` of their own. Requests that must name something use a
made-up path or ticket, so that an answer other than UNIMPLEMENTED shows the RPC exists.

Secrets (the token, the password, header values, and any token the server issues) are
replaced by ``***`` in everything the diagnosis says, server messages included.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import pyarrow as pa

from flightnb._proto import Flight_pb2 as pb
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.client.aio import AsyncFlightClient
from flightnb.client.loop_thread import shared_loop_thread
from flightnb.doctor.model import Check, Diagnosis, Failure, Status
from flightnb.errors import FlightError, FlightTimedOutError
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.sql.commands import pack
from flightnb.sql.results import SqlInfoValues
from flightnb.sql.statements import PreparedStatement, Transaction
from flightnb.transport.auth import CookieJar, Headers, TokenSource, normalize_headers
from flightnb.types import FlightDescriptor, FlightInfo

__all__ = ["DEFAULT_PROBE_SECONDS", "diagnose", "diagnose_async"]

DEFAULT_PROBE_SECONDS = 5.0
"""How long one probe may take before it counts as unanswered."""

#: A path and a ticket no server has: an answer other than UNIMPLEMENTED proves the RPC.
PROBE_NAME = "flightnb-doctor-probe"
#: An action type no server has: how the server answers actions it does not know.
UNKNOWN_ACTION = "flightnb.doctor.no-such-action"
#: The most flights ListFlights is read for.
MAX_FLIGHTS = 100

_NO_ANSWER = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"})
_REFUSED = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
_QUERY = "SELECT 1"
_BOUND_QUERY = "SELECT ?"
_DETAIL_CHARS = 90

T = TypeVar("T")

# What flightnb does when a server lacks something (the "flightnb does" column).
FALLBACKS = {
    "ListFlights": "%flight list and tab completion show nothing; read by path, ticket or SQL",
    "GetFlightInfo": "none: reads need it (SQL queries, paths)",
    "GetSchema": "schemas come from GetFlightInfo or from the first batch",
    "DoGet": "none: every read needs it",
    "DoPut": (
        "uploads narrow polars' large string/binary/list columns to 32-bit forms when the "
        "data fits, for servers that refuse 64-bit offsets"
    ),
    "ListActions": "none needed: actions are called by name",
    "DoExchange": "not used by reads; do_exchange() raises FlightNotImplementedError",
    "PollFlightInfo": "queries are planned with GetFlightInfo (no progress while planning)",
    "CancelFlightInfo": (
        "cancelling a query uses Flight SQL's older CancelQuery action; a cancelled read "
        "closes its streams"
    ),
    "RenewFlightEndpoint": "none: endpoints are read before they expire",
    "GetSessionOptions": "none: session cookies the server sets are still sent back",
    "CloseSession": "none: the server ends idle sessions itself",
    "GetSqlInfo": "sql= and %flight sql are refused in one line; read by path or ticket",
    "SQL query": "none: read by path or ticket",
    "GetSchema (query)": "the scan takes the schema from the first batch",
    "prepared statements": "queries without parameters run unprepared",
    "dataset_schema": "the scan asks GetSchema of the query, else reads the first batch",
    "parameter binding": (
        "the scan's filter pushdown inlines values as typed literals, or filters on the "
        "client; parameters= fails with a one-line error"
    ),
    "transactions": "begin_transaction() raises FlightNotImplementedError; statements autocommit",
}


# What flightnb does about something a server has that needs handling (a "yes" row).
NOTES = {
    "issued tokens": "the newest token a server returns is sent on the next call, as ADBC does",
}


class _TokenWatch(CookieJar):
    """The client's cookie jar, also noting bearer tokens the server sends with its answers.

    Every call's answer headers pass through the jar (see the call seam), so this sees the
    tokens a server issues or rotates on ordinary calls, whatever the call type.
    """

    def __init__(self, jar: CookieJar, seen: Callable[[str], None]) -> None:
        super().__init__()
        self._jar = jar
        self._seen = seen

    def observe(self, metadata: Iterable[tuple[str, object]] | None) -> None:
        pairs = list(metadata or ())
        for key, value in pairs:
            text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            if str(key).lower() == "authorization" and text.lower().startswith("bearer "):
                self._seen(text[7:].strip())
        self._jar.observe(pairs)

    def header(self) -> list[tuple[str, str | bytes]]:
        return self._jar.header()


@dataclass(frozen=True)
class _Outcome:
    """What one probe returned, or the error it ended with."""

    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def code(self) -> str | None:
        """The gRPC status name of a FlightError; None for success or local errors."""
        return self.error.code if isinstance(self.error, FlightError) else None


class _Prober:
    """Runs the probes of one diagnosis on one client and collects their rows."""

    def __init__(self, client: AsyncFlightClient, timeout: float, secrets: Iterable[str]) -> None:
        self.client = client
        self.sql = AsyncFlightSqlClient(client, poll=False)
        self.timeout = timeout
        self.secrets = {s for s in secrets if s}
        self.checks: dict[str, Check] = {}
        self.listed_actions: set[str] | None = None
        self.unknown_action_code: str | None = None
        self.flights: list[FlightInfo] = []
        self.issued: list[str] = []  # bearer tokens the server sent after the login

    # --- plumbing ---------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` without any secret (longest first, so no part of one is left)."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def add(self, group: str, name: str, status: Status, detail: str = "") -> Check:
        """Record a row (replacing an earlier row of that name, in place)."""
        # A fallback answers a gap: a "no", or an upload, which is never probed.
        gap = status is Status.NO or (name == "DoPut" and status is not Status.YES)
        fallback = FALLBACKS.get(name, "") if gap else ""
        if status is Status.YES:
            fallback = NOTES.get(name, "")
        check = Check(group, name, status, self.redact(detail), fallback)
        self.checks[name] = check
        return check

    async def attempt(self, make: Callable[[], Awaitable[T]]) -> _Outcome:
        """Run one probe with its deadline; any failure is returned, not raised."""
        try:
            return _Outcome(await asyncio.wait_for(make(), self.timeout + 1.0))
        except asyncio.TimeoutError:
            error = FlightTimedOutError(
                f"no answer within {self.timeout:g} s", code="DEADLINE_EXCEEDED"
            )
            return _Outcome(error=error)
        except Exception as exc:  # a probe that fails is a row, whatever failed
            return _Outcome(error=exc)

    def describe(self, outcome: _Outcome) -> str:
        """A short, secret-free account of a failed probe: ``CODE: message``."""
        error = outcome.error
        if error is None:
            return ""
        if isinstance(error, FlightError):
            head = error.code or type(error).__name__
            text = f"{head}: {error.message}" if error.message else head
        else:
            text = f"{type(error).__name__}: {error}"
        text = " ".join(self.redact(text).split())
        return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 3] + "..."

    def verdict(self, outcome: _Outcome) -> Status:
        """For an RPC probed with a made-up request: any real answer proves it exists."""
        if outcome.ok:
            return Status.YES
        code = outcome.code
        if code == "UNIMPLEMENTED":
            return Status.NO
        if code is None or code in _NO_ANSWER or code in _REFUSED:
            return Status.UNKNOWN
        return Status.YES

    def rpc(self, group: str, name: str, outcome: _Outcome, success: str) -> Check:
        status = self.verdict(outcome)
        if outcome.ok:
            detail = success
        elif status is Status.YES:
            detail = f"exists (a made-up request got {self.describe(outcome)})"
        else:
            detail = self.describe(outcome)
        return self.add(group, name, status, detail)

    # --- authentication -------------------------------------------------------------------

    async def _first_flights(self) -> list[FlightInfo]:
        flights: list[FlightInfo] = []
        listing = cast(
            AsyncGenerator[FlightInfo, None], self.client.list_flights(timeout=self.timeout)
        )
        try:
            async for info in listing:
                flights.append(info)
                if len(flights) >= MAX_FLIGHTS:
                    break
        finally:
            await listing.aclose()  # ends the call now, not when the generator is collected
        return flights

    async def _anonymous_handshake(self) -> str | None:
        """Log in without credentials, as anonymous schemes expect; the way that worked.

        Tries a bare Handshake, then one with ``authorization: Anonymous`` (Deephaven's
        anonymous scheme). A token the server returns (bearer header or payload) is kept.
        """
        bare = await self.attempt(lambda: self._bare_handshake(None))
        if bare.ok and bare.value:
            return "a bare Handshake"
        anonymous = await self.attempt(lambda: self._bare_handshake("Anonymous"))
        if anonymous.ok and anonymous.value:
            return "Handshake with 'authorization: Anonymous'"
        return None

    async def _bare_handshake(self, authorization: str | None) -> bool:
        extra: list[tuple[str, str | bytes]] = (
            [("authorization", authorization)] if authorization else []
        )
        call = await self.client._calls.bidi(
            "Handshake", timeout=self.timeout, extra_metadata=extra, authorize=False, retry=False
        )
        payloads: list[bytes] = []
        try:
            await call.done_writing()
            while (message := await call.read()) is not None:
                payloads.append(pb.HandshakeResponse.FromString(message).payload)
        finally:
            call.cancel()
        credentials = self.client._calls.credentials
        for key, value in call.response_metadata:
            text = value.decode() if isinstance(value, bytes) else str(value)
            if key.lower() == "authorization" and text.lower().startswith("bearer "):
                self.secrets.add(text[7:].strip())
                credentials.set(text[7:].strip())
                return True
        token = next((p for p in reversed(payloads) if p), None)
        if token is None:
            return False
        self.secrets.add(token.decode(errors="replace"))
        credentials.set(token, header="auth-token-bin")
        return True

    async def login(
        self, username: str | None, password: str | None, has_token: bool
    ) -> tuple[str, Failure | None, str]:
        """Authenticate and make the first call; (auth, failure, reason)."""
        uri = self.client.location.uri
        auth = "bearer token" if has_token else "none"
        if username is not None:
            outcome = await self.attempt(
                lambda: self.client.handshake(username, password or "", timeout=self.timeout)
            )
            if not outcome.ok:
                if outcome.code in _NO_ANSWER or outcome.code is None:
                    return "failed", Failure.UNREACHABLE, self._unreachable(outcome)
                return (
                    "failed",
                    Failure.AUTH,
                    f"{uri} refused the login of {username!r} ({self.describe(outcome)})",
                )
            auth = "basic handshake"
        first = await self.attempt(self._first_flights)
        if username is None and not has_token and await self._refused_anonymously(first):
            how = await self._anonymous_handshake()
            if how is not None:
                auth = "anonymous handshake"
                self.add("connection", "Handshake", Status.YES, f"anonymous: {how}")
                first = await self.attempt(self._first_flights)
        if first.code in _NO_ANSWER or (first.error is not None and first.code is None):
            return "failed", Failure.UNREACHABLE, self._unreachable(first)
        if first.code in _REFUSED:
            hint = (
                "check the credentials"
                if auth != "none"
                else "it wants credentials (a token, or a user and password)"
            )
            return "failed", Failure.AUTH, f"{uri} refused us ({self.describe(first)}); {hint}"
        if "Handshake" not in self.checks:
            if username is not None:
                self.add("connection", "Handshake", Status.YES, "basic: user and password")
            else:
                self.add("connection", "Handshake", Status.SKIPPED, "not needed")
        self._record_flights(first)
        return auth, None, ""

    async def _refused_anonymously(self, first: _Outcome) -> bool:
        """Did the server refuse a call without credentials? Some servers answer a
        listing without them (empty) and refuse only Flight SQL, so ask that too."""
        if first.code in _REFUSED:
            return True
        if not first.ok and first.code in _NO_ANSWER:
            return False
        name = await self.attempt(
            lambda: self.sql.get_sql_info("FLIGHT_SQL_SERVER_NAME", timeout=self.timeout)
        )
        return name.code in _REFUSED

    def watch_tokens(self) -> None:
        """From now on, note the bearer tokens the server sends back (and never show them)."""
        calls = self.client._calls
        calls.cookies = _TokenWatch(calls.cookies, self._issued)

    def _issued(self, token: str) -> None:
        self.secrets.add(token)
        self.issued.append(token)

    def issued_tokens(self) -> None:
        """Did the server send bearer tokens with ordinary answers (after the login)?"""
        if not self.issued:
            self.add("connection", "issued tokens", Status.NO, "no bearer token in the answers")
            return
        distinct = len(set(self.issued))
        kind = "the same token" if distinct == 1 else f"{distinct} different tokens (rotated)"
        detail = f"a bearer token with {len(self.issued)} answers: {kind}"
        self.add("connection", "issued tokens", Status.YES, detail)

    def _unreachable(self, outcome: _Outcome) -> str:
        return f"cannot reach {self.client.location.uri} ({self.describe(outcome)})"

    # --- plain Flight ---------------------------------------------------------------------

    def _record_flights(self, outcome: _Outcome) -> None:
        if outcome.ok:
            self.flights = list(outcome.value)
            count = len(self.flights)
            more = "+" if count >= MAX_FLIGHTS else ""
            first = f" (first: {_name_of(self.flights[0])})" if self.flights else ""
            self.add("Flight", "ListFlights", Status.YES, f"{count}{more} flights{first}")
        else:
            self.add("Flight", "ListFlights", self.verdict(outcome), self.describe(outcome))

    def _descriptor(self) -> tuple[FlightDescriptor, bool]:
        """The first listed flight's descriptor (True), else a made-up path (False)."""
        descriptor = self.flights[0].descriptor if self.flights else None
        if descriptor is not None:
            return descriptor, True
        return FlightDescriptor.for_path(PROBE_NAME), False

    async def flight(self) -> None:
        descriptor, real = self._descriptor()
        info = await self.attempt(
            lambda: self.client.get_flight_info(descriptor, timeout=self.timeout)
        )
        if info.ok:
            endpoints = len(info.value.endpoints)
            detail = f"{endpoints} endpoints, {info.value.total_records} records"
        else:
            detail = ""
        self.rpc("Flight", "GetFlightInfo", info, detail)
        schema = await self.attempt(
            lambda: self.client.get_schema(descriptor, timeout=self.timeout)
        )
        columns = f"{len(schema.value)} columns" if schema.ok else ""
        self.rpc("Flight", "GetSchema", schema, columns)
        if real and info.ok and info.value.endpoints:
            outcome = await self.attempt(lambda: self._first_batch(info.value))
            if outcome.ok:
                self.add("Flight", "DoGet", Status.YES, f"first batch: {outcome.value} rows")
            else:
                self.add("Flight", "DoGet", self.verdict(outcome), self.describe(outcome))
        else:
            self.add("Flight", "DoGet", Status.SKIPPED, "no flight listed to read")
        self.add("Flight", "DoPut", Status.SKIPPED, "not probed: the doctor never uploads")
        actions = await self.attempt(lambda: self.client.list_actions(timeout=self.timeout))
        if actions.ok:
            self.listed_actions = {a.type for a in actions.value}
            names = ", ".join(sorted(self.listed_actions))
            listed = f"{len(actions.value)}: {names}" if names else "0 actions"
            self.add("Flight", "ListActions", Status.YES, listed)
        else:
            self.add("Flight", "ListActions", self.verdict(actions), self.describe(actions))

    async def _first_batch(self, info: FlightInfo) -> int:
        endpoint = info.endpoints[0]
        location = endpoint.locations[0] if endpoint.locations else None
        reader = self.client.do_get(endpoint.ticket, location=location, timeout=self.timeout)
        try:
            chunk = await reader.read_chunk()
        finally:
            reader.cancel()
        return 0 if chunk is None or chunk.data is None else chunk.data.num_rows

    # --- optional RPCs --------------------------------------------------------------------

    async def _action(self, action_type: str, body: bytes) -> list[bytes]:
        return [
            r.body async for r in self.client.do_action(action_type, body, timeout=self.timeout)
        ]

    def _action_row(self, name: str, outcome: _Outcome, success: str) -> Check:
        """An action's row: a reply, a listing, or an answer unlike an unknown action's."""
        listed = self.listed_actions is not None and name in self.listed_actions
        if outcome.ok:
            return self.add("optional RPC", name, Status.YES, success)
        code = outcome.code
        said = self.describe(outcome)
        if code == "UNIMPLEMENTED":
            return self.add("optional RPC", name, Status.NO, said)
        if listed:
            return self.add(
                "optional RPC", name, Status.YES, f"listed (a made-up request got {said})"
            )
        if code is None or code in _NO_ANSWER or code in _REFUSED:
            return self.add("optional RPC", name, Status.UNKNOWN, said)
        if code == self.unknown_action_code:
            return self.add(
                "optional RPC", name, Status.NO, f"answered as to an unknown action ({said})"
            )
        return self.add("optional RPC", name, Status.YES, f"exists (a made-up request got {said})")

    async def optional(self) -> None:
        unknown = await self.attempt(lambda: self._action(UNKNOWN_ACTION, b""))
        self.unknown_action_code = unknown.code
        descriptor, _ = self._descriptor()
        poll = await self.attempt(
            lambda: self.client.poll_flight_info(descriptor, timeout=self.timeout)
        )
        self.rpc("optional RPC", "PollFlightInfo", poll, "answered")
        exchange = await self.attempt(self._exchange)
        self.rpc("optional RPC", "DoExchange", exchange, "answered an empty exchange")
        probe_info = pb.FlightInfo(
            flight_descriptor=pb.FlightDescriptor(type=pb.FlightDescriptor.PATH, path=[PROBE_NAME])
        )
        cancel = pb.CancelFlightInfoRequest(info=probe_info).SerializeToString()
        outcome = await self.attempt(lambda: self._action("CancelFlightInfo", cancel))
        self._action_row("CancelFlightInfo", outcome, "answered")
        endpoint = pb.FlightEndpoint(ticket=pb.Ticket(ticket=PROBE_NAME.encode()))
        renew = pb.RenewFlightEndpointRequest(endpoint=endpoint).SerializeToString()
        outcome = await self.attempt(lambda: self._action("RenewFlightEndpoint", renew))
        self._action_row("RenewFlightEndpoint", outcome, "answered")
        get = pb.GetSessionOptionsRequest().SerializeToString()
        outcome = await self.attempt(lambda: self._action("GetSessionOptions", get))
        self._action_row("GetSessionOptions", outcome, _session_options(outcome.value))

    async def _exchange(self) -> int:
        exchange = await self.client.do_exchange(
            FlightDescriptor.for_path(PROBE_NAME), timeout=self.timeout
        )
        async with exchange:
            await exchange.done_writing()
            chunks = 0
            while await exchange.read_chunk() is not None:
                chunks += 1
        return chunks

    async def close_session(self) -> None:
        """Last of all: end the session the probes may have started (ours alone)."""
        body = pb.CloseSessionRequest().SerializeToString()
        outcome = await self.attempt(lambda: self._action("CloseSession", body))
        status = ""
        if outcome.ok and outcome.value:
            with contextlib.suppress(Exception):
                parsed = pb.CloseSessionResult.FromString(outcome.value[0])
                status = pb.CloseSessionResult.Status.Name(parsed.status)
        self._action_row("CloseSession", outcome, status or "answered")

    # --- Flight SQL -----------------------------------------------------------------------

    async def flight_sql(self) -> None:
        info = await self.attempt(lambda: self.sql.get_sql_info(timeout=self.timeout))
        if not info.ok:
            status = Status.UNKNOWN if info.code in _NO_ANSWER | _REFUSED else Status.NO
            said = self.describe(info)
            detail = said if status is Status.UNKNOWN else f"not a Flight SQL server ({said})"
            self.add("Flight SQL", "GetSqlInfo", status, detail)
            return
        values: SqlInfoValues = info.value
        self.add("Flight SQL", "GetSqlInfo", Status.YES, f"{len(values)} values")
        self._sql_info_rows(values)
        query = await self.attempt(lambda: self.sql.query(_QUERY, timeout=self.timeout))
        if query.ok:
            table: pa.Table = query.value
            self.add(
                "Flight SQL",
                "SQL query",
                Status.YES,
                f"{_QUERY!r}: {table.num_rows} row, columns {table.column_names}",
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
        command = FlightDescriptor.for_command(pack(sql.CommandStatementQuery(query=_QUERY)))
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

    def _sql_verdict(self, outcome: _Outcome) -> Status:
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
        prepared = await self.attempt(lambda: self._prepare(_QUERY))
        if not prepared.ok:
            status = self._sql_verdict(prepared)
            self.add("Flight SQL", "prepared statements", status, self.describe(prepared))
            self.add("Flight SQL", "dataset_schema", Status.SKIPPED, "no prepared statement")
            self.add("Flight SQL", "parameter binding", Status.SKIPPED, "no prepared statement")
            return
        statement = prepared.value
        await self.attempt(lambda: statement.close(timeout=self.timeout))
        self.add("Flight SQL", "prepared statements", Status.YES, f"{_QUERY!r} prepared")
        schema: pa.Schema | None = statement.dataset_schema
        if schema is None:
            self.add("Flight SQL", "dataset_schema", Status.NO, "missing")
        elif names is not None and schema.names != names:
            self.add(
                "Flight SQL",
                "dataset_schema",
                Status.NO,
                f"placeholder: names {schema.names}, the query's are {names}",
            )
        else:
            self.add("Flight SQL", "dataset_schema", Status.YES, f"names {schema.names}")
        await self._binding()

    async def _prepare(self, query: str) -> PreparedStatement:
        return await self.sql.prepare(query, timeout=self.timeout)

    async def _begin(self) -> Transaction:
        return await self.sql.begin_transaction(timeout=self.timeout)

    async def _binding(self) -> None:
        prepared = await self.attempt(lambda: self._prepare(_BOUND_QUERY))
        if not prepared.ok:
            self.add(
                "Flight SQL",
                "parameter binding",
                Status.UNKNOWN,
                f"{_BOUND_QUERY!r} did not prepare ({self.describe(prepared)})",
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
                "Flight SQL", "parameter binding", status, f"{_BOUND_QUERY!r} with 1 -> {values}"
            )
        else:
            code = bound.code
            status = Status.UNKNOWN if code in _NO_ANSWER or code in _REFUSED else Status.NO
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

    # --- the whole run --------------------------------------------------------------------

    async def run(self, username: str | None, password: str | None, has_token: bool) -> Diagnosis:
        started = time.monotonic()
        uri = self.client.location.uri
        auth, failure, reason = await self.login(username, password, has_token)
        if failure is not None:
            return Diagnosis(
                uri,
                auth,
                tuple(self.checks.values()),
                failure=failure,
                reason=self.redact(reason),
                seconds=time.monotonic() - started,
            )
        self.watch_tokens()
        await self.flight()
        await self.optional()
        await self.flight_sql()
        self.issued_tokens()
        await self.close_session()
        return Diagnosis(uri, auth, tuple(self.checks.values()), seconds=time.monotonic() - started)


def _enum_name(enum: Any, value: int) -> str:
    try:
        return str(enum.Name(value))
    except ValueError:
        return str(value)


def _name_of(info: FlightInfo) -> str:
    descriptor = info.descriptor
    if descriptor is not None and descriptor.path:
        return "/".join(
            p.decode(errors="replace") if isinstance(p, bytes) else str(p) for p in descriptor.path
        )
    return "a command"


def _session_options(results: Any) -> str:
    if not results:
        return "answered"
    try:
        parsed = pb.GetSessionOptionsResult.FromString(results[0])
    except Exception:
        return "answered"
    return f"{len(parsed.session_options)} options"


def _header_values(headers: Headers) -> list[str]:
    values = []
    for _name, value in normalize_headers(headers):
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        if len(text) >= 4:
            values.append(text)
    return values


async def diagnose_async(
    location: str | Any,
    *,
    token: str | TokenSource | None = None,
    username: str | None = None,
    password: str | None = None,
    headers: Headers = None,
    timeout: float = DEFAULT_PROBE_SECONDS,
    **client_options: Any,
) -> Diagnosis:
    """Probe the Flight server at ``location``: what it speaks and what flightnb does about gaps.

    Parameters
    ----------
    location : str or Location
        The server, as for :class:`~flightnb.AsyncFlightClient`.
    token : str or callable, optional
        A bearer token (or a callable returning one).
    username, password : str, optional
        Log in with a basic-auth handshake first.
    headers : mapping, optional
        Extra headers for every call (e.g. a database or routing header).
    timeout : float
        Seconds one probe may take; a probe that takes longer is a row saying so.
    **client_options
        TLS options of :class:`~flightnb.AsyncFlightClient`.

    Returns
    -------
    Diagnosis
        One row per capability. When the server cannot be reached or refuses the login,
        ``failure`` and ``reason`` say so; no exception is raised for that.

    Raises
    ------
    FlightInvalidArgumentError
        When ``location`` is not a Flight location.

    Examples
    --------
    >>> diagnosis = await diagnose_async("grpc://127.0.0.1:8815")  # doctest: +SKIP
    >>> diagnosis.supports("parameter binding")  # doctest: +SKIP
    True
    """
    secrets = [t for t in (token, password) if isinstance(t, str)] + _header_values(headers)
    client = AsyncFlightClient(location, token=token, headers=headers, **client_options)
    try:
        prober = _Prober(client, timeout, secrets)
        return await prober.run(username, password, token is not None)
    finally:
        await client.close()


def diagnose(
    location: str | Any,
    *,
    token: str | TokenSource | None = None,
    username: str | None = None,
    password: str | None = None,
    headers: Headers = None,
    timeout: float = DEFAULT_PROBE_SECONDS,
    **client_options: Any,
) -> Diagnosis:
    """Blocking :func:`diagnose_async` (on flightnb's loop thread; works in notebooks too).

    Examples
    --------
    >>> from flightnb.doctor import diagnose, render_text
    >>> print(render_text(diagnose("grpc://127.0.0.1:8815")))  # doctest: +SKIP
    """
    coroutine = diagnose_async(
        location,
        token=token,
        username=username,
        password=password,
        headers=headers,
        timeout=timeout,
        **client_options,
    )
    return shared_loop_thread().run(coroutine)

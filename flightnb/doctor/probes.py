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

import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from flightnb._proto import Flight_pb2 as pb
from flightnb.client.aio import AsyncFlightClient
from flightnb.client.blocking import same_call
from flightnb.client.loop_thread import shared_loop_thread
from flightnb.doctor.model import Check, Diagnosis, Failure, Status
from flightnb.doctor.runner import DEFAULT_PROBE_SECONDS, NO_ANSWER, REFUSED, Outcome
from flightnb.doctor.sql_probes import FlightSqlProbes
from flightnb.transport.auth import CookieJar, Headers, TokenSource, normalize_headers
from flightnb.types import FlightDescriptor, FlightInfo

if TYPE_CHECKING:
    from flightnb.types import LocationLike

__all__ = ["DEFAULT_PROBE_SECONDS", "diagnose", "diagnose_async"]

#: A path and a ticket no server has: an answer other than UNIMPLEMENTED proves the RPC.
PROBE_NAME = "flightnb-doctor-probe"
#: An action type no server has: how the server answers actions it does not know.
UNKNOWN_ACTION = "flightnb.doctor.no-such-action"
#: The most flights ListFlights is read for.
MAX_FLIGHTS = 100


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


class _Prober(FlightSqlProbes):
    """All the probes of one diagnosis, in order: login, plain Flight, optional RPCs, SQL."""

    def __init__(self, client: AsyncFlightClient, timeout: float, secrets: Iterable[str]) -> None:
        super().__init__(client, timeout, secrets)
        self.listed_actions: set[str] | None = None
        self.unknown_action_code: str | None = None
        self.flights: list[FlightInfo] = []
        self.issued: list[str] = []  # bearer tokens the server sent after the login

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
        self, username: str | None, password: str | None, has_token: bool, given: str | None
    ) -> tuple[str, Failure | None, str]:
        """Authenticate and make the first call; (auth, failure, reason).

        ``given`` names a login the client already holds (it then counts as a token).
        """
        uri = self.client.location.uri
        auth = given or ("bearer token" if has_token else "none")
        has_token = has_token or given is not None
        if username is not None:
            outcome = await self.attempt(
                lambda: self.client.handshake(username, password or "", timeout=self.timeout)
            )
            if not outcome.ok:
                if outcome.code in NO_ANSWER or outcome.code is None:
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
        if first.code in NO_ANSWER or (first.error is not None and first.code is None):
            return "failed", Failure.UNREACHABLE, self._unreachable(first)
        if first.code in REFUSED:
            hint = (
                "check the credentials"
                if auth != "none"
                else "it wants credentials (a token, or a user and password)"
            )
            return "failed", Failure.AUTH, f"{uri} refused us ({self.describe(first)}); {hint}"
        held = self.client._calls.credentials.current
        if held is not None:  # a token from a handshake or a runtime file: never shown
            value = held.reveal()
            self.secrets.add(value.decode(errors="replace") if isinstance(value, bytes) else value)
        if "Handshake" not in self.checks:
            if username is not None:
                self.add("connection", "Handshake", Status.YES, "basic: user and password")
            else:
                self.add("connection", "Handshake", Status.SKIPPED, "not needed")
        self._record_flights(first)
        return auth, None, ""

    async def _refused_anonymously(self, first: Outcome) -> bool:
        """Did the server refuse a call without credentials? Some servers answer a
        listing without them (empty) and refuse only Flight SQL, so ask that too."""
        if first.code in REFUSED:
            return True
        if not first.ok and first.code in NO_ANSWER:
            return False
        name = await self.attempt(
            lambda: self.sql.get_sql_info("FLIGHT_SQL_SERVER_NAME", timeout=self.timeout)
        )
        return name.code in REFUSED

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

    def _unreachable(self, outcome: Outcome) -> str:
        return f"cannot reach {self.client.location.uri} ({self.describe(outcome)})"

    # --- plain Flight ---------------------------------------------------------------------

    def _record_flights(self, outcome: Outcome) -> None:
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

    def _action_row(self, name: str, outcome: Outcome, success: str) -> Check:
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
        if code is None or code in NO_ANSWER or code in REFUSED:
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

    # --- the whole run --------------------------------------------------------------------

    async def run(
        self,
        username: str | None,
        password: str | None,
        has_token: bool,
        given: str | None = None,
    ) -> Diagnosis:
        started = time.monotonic()
        uri = self.client.location.uri
        auth, failure, reason = await self.login(username, password, has_token, given)
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
    location: LocationLike,
    *,
    token: str | TokenSource | None = None,
    username: str | None = None,
    password: str | None = None,
    headers: Headers = None,
    timeout: float = DEFAULT_PROBE_SECONDS,
    login_from: AsyncFlightClient | None = None,
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
    login_from : AsyncFlightClient, optional
        Use the login this client holds (a notebook connection's token, from its own
        handshake), instead of logging in again.
    **client_options
        TLS options of :class:`~flightnb.AsyncFlightClient`.

    Returns
    -------
    Diagnosis
        One row per capability. When the server cannot be reached or refuses the login,
        ``failure`` and ``reason`` say so; no exception is raised for that.

    Raises
    ------
    FlightArgumentError
        When ``location`` is not a Flight location.

    Examples
    --------
    >>> diagnosis = await diagnose_async("grpc://127.0.0.1:8815")
    >>> diagnosis.supports("parameter binding")
    True
    """
    secrets = [t for t in (token, password) if isinstance(t, str)] + _header_values(headers)
    client = AsyncFlightClient(location, token=token, headers=headers, **client_options)
    given = None
    if token is None and client._calls.credentials.kind == "token":
        # No credential given, yet the client holds one: the token of this user's own
        # server on this machine, found in its runtime file.
        given = "this user's local server token"
    if login_from is not None:
        client.adopt_credentials(login_from)
        held = client._calls.credentials.current
        if held is not None:
            value = held.reveal()
            secrets.append(value.decode(errors="replace") if isinstance(value, bytes) else value)
            given = "the connection's login"
    try:
        prober = _Prober(client, timeout, secrets)
        return await prober.run(username, password, token is not None, given)
    finally:
        await client.close()


@same_call(diagnose_async)
def diagnose(location: LocationLike, **options: Any) -> Diagnosis:
    """Blocking :func:`diagnose_async` (on flightnb's loop thread; works in notebooks too).

    Examples
    --------
    >>> from flightnb.doctor import diagnose, render_text
    >>> table = render_text(diagnose("grpc://127.0.0.1:8815"))
    >>> "parameter binding" in table
    True
    """
    return shared_loop_thread().run(diagnose_async(location, **options))

"""The asyncio Flight client, on ``grpc.aio``. Every FlightService RPC, zero-copy reads."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import pyarrow as pa
from google.protobuf.message import Message

from flightnb._proto import Flight_pb2 as pb
from flightnb.client.operations import AsyncFlightOperations
from flightnb.client.streams import (
    AsyncFlightExchange,
    AsyncFlightPutWriter,
    AsyncFlightStreamReader,
)
from flightnb.errors import (
    FlightDecodeError,
    FlightInternalError,
    FlightNotImplementedError,
    FlightUnauthenticatedError,
)
from flightnb.transport.auth import (
    Credentials,
    Headers,
    TokenSource,
    basic_auth_header,
    normalize_headers,
)
from flightnb.transport.calls import CallSeam, is_lost_status
from flightnb.transport.channels import RECONNECT_WAIT_SECONDS, ChannelConfig, ChannelPool
from flightnb.transport.errors import parse_response
from flightnb.transport.grpc_options import GrpcOptions, check_grpc_options
from flightnb.transport.locations import ChannelTarget, is_reuse_connection, parse_location
from flightnb.transport.runtime_tokens import runtime_token_source
from flightnb.types import (
    Action,
    ActionType,
    CancelStatus,
    FlightDescriptor,
    FlightEndpoint,
    FlightInfo,
    Location,
    PollInfo,
    Result,
    SessionOptionValue,
    as_action,
    as_descriptor,
    as_endpoint,
    as_info,
    as_location,
    as_ticket,
    descriptor_to_proto,
    endpoint_from_proto,
    endpoint_to_proto,
    info_from_proto,
    info_to_proto,
    poll_info_from_proto,
    read_ipc_schema,
    session_value_from_proto,
    session_value_to_proto,
)

if TYPE_CHECKING:
    import pyarrow.flight as paf

    from flightnb.types import LocationLike, TicketLike

__all__ = [
    "RECONNECT_WAIT_SECONDS",
    "AsyncFlightClient",
    "ClientKeywords",
    "ClientOptions",
    "ClientState",
    "Headers",
    "TokenSource",
]

M = TypeVar("M", bound=Message)


def _credentials(token: str | TokenSource | None, metadata: list[tuple[str, Any]]) -> Credentials:
    """The client's login from ``token=`` and an ``authorization`` header in ``headers=``."""
    given = [value for key, value in metadata if key == "authorization"]
    if given and token is not None:
        raise ValueError("give the credential once: token= or an authorization header, not both")
    if len(given) > 1:
        raise ValueError("headers= has more than one authorization header")
    return Credentials(token, authorization=str(given[0]) if given else None)


class ClientState(enum.Enum):
    """Where a client is in its life: a closed client never opens again."""

    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


class ClientOptions(TypedDict, total=False):
    """The :class:`AsyncFlightClient` keywords a one-call helper passes on to its client.

    ``read_flight(uri, ..., token=...)`` makes a client for ``uri`` with these; ``timeout``
    is left out, since each helper's own ``timeout=`` bounds the whole call. For type
    checkers (``**client_options: Unpack[ClientOptions]``); a test keeps it in step with
    the client's parameters.
    """

    token: str | TokenSource | None
    headers: Headers
    tls_root_certs: bytes | None
    cert_chain: bytes | None
    private_key: bytes | None
    override_hostname: str | None
    disable_server_verification: bool
    max_receive_message_size: int
    max_send_message_size: int
    validate: bool
    align_buffers: bool
    grpc_options: GrpcOptions | None


class ClientKeywords(ClientOptions, total=False):
    """Every keyword :class:`AsyncFlightClient` takes: a SQL client passes them on."""

    timeout: float | None


class AsyncFlightClient(AsyncFlightOperations):
    """An Arrow Flight client on ``grpc.aio``.

    Every FlightService RPC, named as in pyarrow.flight, and the one-call operations of
    :class:`~flightnb.client.operations.AsyncFlightOperations` (``read_flight``,
    ``open_flight``, ``write_flight``, the sinks...).

    Parameters
    ----------
    location : str or Location
        ``grpc://host:port``, ``grpc+tcp://``, ``grpc+tls://`` or ``grpc+unix:///path``.
        pyarrow.flight ``Location`` objects work too.
    token : str or callable, optional
        Token sent in the ``authorization`` header of every call: a bare token as
        ``Bearer <token>``, a value with a space in it (``"Basic ..."``, ``"Bearer ..."``) as
        it is, as ADBC's ``authorization_header`` option. A callable (sync, or async)
        returning a token string is called before the first call and again when the server
        answers UNAUTHENTICATED (token expired): the call is then retried once with the new
        token, if it failed before any data arrived. Keep a sync callable quick (it runs on
        the event loop), or make it ``async``. A credential the server issues or rotates on
        any call (an ``authorization`` response header or trailer, as Deephaven sends) is
        used from then on, as ADBC does; a call given its own ``authorization`` header in
        ``headers=`` sends that instead and adopts nothing. Without a token or an
        ``authorization`` header, a client of a loopback or unix-socket location uses the
        token of a server of the same OS user running there (flightnb's embedded server),
        once it checked that server is still the user's (see
        :mod:`flightnb.transport.runtime_tokens`).
    headers : mapping, optional
        Extra headers for every call. An ``authorization`` header here is the client's first
        credential, like ``token=`` with a complete value (give one or the other).
    timeout : float, optional
        Default per-call timeout in seconds.
    tls_root_certs, cert_chain, private_key : bytes, optional
        PEM root certificates to trust, and a client certificate and key for mutual TLS.
    override_hostname : str, optional
        Name to check the server's certificate against instead of the URI's host.
    disable_server_verification : bool
        Accept any certificate the server presents (for testing against self-signed servers).
    max_receive_message_size, max_send_message_size : int
        Largest message accepted / sent; -1 (default) is unlimited.
    validate : bool
        Fully validate every received batch (costs a pass over the data).
    align_buffers : bool
        True (default): every received buffer starts at a 64-byte boundary, at the cost of
        one copy of the data. False: buffers point into the received messages, unaligned, as
        pyarrow.flight's do; no copy, so a read whose result is used briefly is faster, but
        polars copies such buffers before use and every batch keeps its message alive.
    grpc_options : mapping or sequence of (str, int or str) pairs, optional
        Extra gRPC channel arguments, as pyarrow.flight's ``generic_options``; values are
        ints or strs (anything else raises TypeError). They are merged over flightnb's own
        arguments, and where both name one, yours wins. Useful ones: keepalive for an idle
        notebook behind a NAT or proxy that drops quiet connections
        (``{"grpc.keepalive_time_ms": 30_000, "grpc.keepalive_timeout_ms": 10_000,
        "grpc.keepalive_permit_without_calls": 1, "grpc.http2.max_pings_without_data": 0}``),
        an HTTP CONNECT proxy (``"grpc.http_proxy": "http://proxy:3128"``, or
        ``"grpc.enable_http_proxy": 0`` to ignore ``https_proxy`` in the environment), the
        per-stream receive window (``"grpc.http2.lookahead_bytes"``). The client page of
        the docs lists them with flightnb's values.

    Examples
    --------
    >>> async with AsyncFlightClient("grpc://127.0.0.1:8815") as client:
    ...     info = await client.get_flight_info(FlightDescriptor.for_path("trips"))
    ...     table = await client.do_get(info.endpoints[0].ticket).read_all()
    """

    def __init__(
        self,
        location: LocationLike,
        *,
        token: str | TokenSource | None = None,
        headers: Headers = None,
        timeout: float | None = None,
        tls_root_certs: bytes | None = None,
        cert_chain: bytes | None = None,
        private_key: bytes | None = None,
        override_hostname: str | None = None,
        disable_server_verification: bool = False,
        max_receive_message_size: int = -1,
        max_send_message_size: int = -1,
        validate: bool = False,
        align_buffers: bool = True,
        grpc_options: GrpcOptions | None = None,
    ) -> None:
        self.location = as_location(location)
        self._target = parse_location(self.location)
        metadata = normalize_headers(headers)
        self._validate = validate
        self._align_buffers = align_buffers
        self._state = ClientState.UNOPENED
        if token is None and not any(key == "authorization" for key, _ in metadata):
            token = runtime_token_source(self._target)
        self._calls = CallSeam(
            self._target,
            ChannelPool(
                ChannelConfig(
                    tls_root_certs=tls_root_certs,
                    cert_chain=cert_chain,
                    private_key=private_key,
                    override_hostname=override_hostname,
                    disable_server_verification=disable_server_verification,
                    max_receive_message_size=max_receive_message_size,
                    max_send_message_size=max_send_message_size,
                    extra_options=check_grpc_options(grpc_options),
                )
            ),
            _credentials(token, metadata),
            headers=[(key, value) for key, value in metadata if key != "authorization"],
            timeout=timeout,
        )

    def _flight_calls(self) -> AsyncFlightClient:
        return self

    def __repr__(self) -> str:
        auth = self._calls.credentials.kind
        return f"AsyncFlightClient({self.location.uri!r}, auth={auth}, state={self.state.value})"

    @property
    def timeout(self) -> float | None:
        """Default per-call timeout in seconds (None: no deadline)."""
        return self._calls.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self._calls.timeout = value

    @property
    def issued_credential(self) -> bool:
        """Whether the server issued the credential this client's calls carry now.

        True after a server answered a call with an ``authorization`` value other than the
        client's login (a session, as Deephaven opens one per client): tickets it returned
        may be good in this client's session only. Never the value itself.
        """
        return self._calls.credentials.issued

    def adopt_credentials(self, other: AsyncFlightClient) -> None:
        """Use the login (token, token callable, cookies) another client holds.

        For a second client of the same server on another event loop, e.g. a notebook's
        background reads after ``%flight connect --user``.
        """
        self._calls.credentials.adopt(other._calls.credentials)
        self._calls.cookies = other._calls.cookies

    # --- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> AsyncFlightClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every channel; the client cannot be used afterwards."""
        self._state = ClientState.CLOSED
        await self._calls.channels.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called; a closed client never reopens."""
        return self._state is ClientState.CLOSED

    @property
    def state(self) -> ClientState:
        """Unopened (no call yet), opened, or closed."""
        if self._state is ClientState.UNOPENED and len(self._calls.channels):
            self._state = ClientState.OPENED
        return self._state

    def _target_of(self, location: Location | str | None) -> ChannelTarget | None:
        """The channel target of an endpoint location; None means this client's server."""
        if location is None:
            return None
        location = as_location(location)
        if is_reuse_connection(location):
            return None
        return parse_location(location)

    async def _connect_ahead(self, location: Location | str | None) -> None:
        """Start connecting to an endpoint location a read will call soon (no call yet)."""
        target = self._target_of(location)
        if target is not None:
            await self._calls.channels.connect_ahead(target)

    async def _unary(
        self,
        method: str,
        request: Message,
        response_type: type[M],
        *,
        timeout: float | None,
        headers: Headers,
    ) -> M:
        raw = await self._calls.unary(
            method, request.SerializeToString(), timeout=timeout, headers=headers
        )
        return parse_response(response_type, raw)

    async def _stream(
        self,
        method: str,
        request: Message,
        response_type: type[M],
        *,
        timeout: float | None,
        headers: Headers,
    ) -> AsyncIterator[M]:
        stream = self._calls.server_stream(
            method, request.SerializeToString(), timeout=timeout, headers=headers
        )
        try:
            while (message := await stream.read()) is not None:
                yield parse_response(response_type, message)
        finally:
            stream.cancel()

    # --- authentication ----------------------------------------------------------------

    async def handshake(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> None:
        """Log in with the Handshake RPC and keep the credential the server returns.

        Three schemes, as servers use them:

        - ``handshake(username, password)``, Basic: sends both conventions servers use, an
          ``authorization: Basic`` header and a ``BasicAuth`` handshake payload. The server
          must return a credential.
        - ``handshake(token="...")``, token only: the token goes out in the
          ``authorization`` header (a bare token as ``Bearer <token>``, a value with a
          scheme, like ``"Anonymous"`` or ``"Basic ..."``... as it is; see ``token=`` of the
          client) and becomes the client's credential; a server may exchange it for a
          session token.
        - ``handshake()``, anonymous or with the client's own credential: sends what the
          client would send on any call (nothing, or its ``token=``).

        A returned ``authorization`` header or trailer becomes the client's credential (kept
        verbatim, as ADBC does); otherwise a returned payload is sent as ``auth-token-bin``.
        Token and anonymous handshakes keep their credential when the server returns none,
        or has no Handshake at all (UNIMPLEMENTED): its calls then take the credential as is.
        """
        if username is None:
            if password is not None:
                raise ValueError("handshake(password=...) needs a username too")
            await self._token_handshake(token, timeout=timeout, headers=headers)
            return
        if token is not None:
            raise ValueError("handshake() takes a username and password, or a token, not both")
        if password is None:
            raise ValueError("handshake(username) needs a password too")
        try:
            responses, metadata = await self._handshake_call(
                username, password, send_payload=True, timeout=timeout, headers=headers
            )
        except FlightInternalError as exc:
            if not is_lost_status(exc):
                raise
            # grpcio loses the server's status when a write races the server's early
            # rejection (e.g. a bad password judged from the header alone). A header-only
            # handshake writes nothing, so the server's real answer comes through.
            responses, metadata = await self._handshake_call(
                username, password, send_payload=False, timeout=timeout, headers=headers
            )
        if not self._keep_returned(responses, metadata):
            raise FlightUnauthenticatedError(
                "the server accepted the handshake but returned no token", code="UNAUTHENTICATED"
            )

    async def _token_handshake(
        self, token: str | None, *, timeout: float | None, headers: Headers
    ) -> None:
        """A Handshake that carries the client's credential (``token`` first, if given)."""
        credentials = self._calls.credentials
        if token is not None:
            if not isinstance(token, str) or not token.strip():
                raise ValueError("handshake(token=...) takes a non-empty string")
            credentials.set(token)
        await credentials.ensure()
        call = await self._calls.bidi("Handshake", timeout=timeout, headers=headers, retry=False)
        try:
            await call.done_writing()
            responses: list[bytes] = []
            while (message := await call.read()) is not None:
                responses.append(parse_response(pb.HandshakeResponse, message).payload)
        except FlightNotImplementedError:
            # No Handshake (pyarrow's servers without an auth handler): nothing to exchange,
            # the credential goes with every call as it is.
            return
        finally:
            call.cancel()
        self._keep_returned(responses, call.response_metadata)

    def _keep_returned(self, responses: list[bytes], metadata: list[tuple[str, Any]]) -> bool:
        """Take the credential a handshake returned; False if it returned none."""
        credentials = self._calls.credentials
        for key, value in metadata:
            text = (value.decode() if isinstance(value, bytes) else str(value)).strip()
            if key.lower() == "authorization" and text:
                credentials.rotate(text)
                return True
        token = next((r for r in reversed(responses) if r), None)
        if token is None:
            return False
        credentials.set(token, header="auth-token-bin")
        return True

    async def _handshake_call(
        self,
        username: str,
        password: str,
        *,
        send_payload: bool,
        timeout: float | None,
        headers: Headers,
    ) -> tuple[list[bytes], list[tuple[str, Any]]]:
        """One Handshake RPC: the response payloads and all response metadata."""
        call = await self._calls.bidi(
            "Handshake",
            timeout=timeout,
            headers=headers,
            extra_metadata=[("authorization", basic_auth_header(username, password))],
            authorize=False,  # the handshake is the login: no old token beside it
            retry=False,
        )
        try:
            if send_payload:
                payload = pb.BasicAuth(username=username, password=password).SerializeToString()
                await call.write(pb.HandshakeRequest(payload=payload).SerializeToString())
            await call.done_writing()
            responses: list[bytes] = []
            while (message := await call.read()) is not None:
                responses.append(parse_response(pb.HandshakeResponse, message).payload)
        finally:
            call.cancel()
        return responses, call.response_metadata

    # --- metadata RPCs -------------------------------------------------------------------

    async def list_flights(
        self, criteria: bytes = b"", *, timeout: float | None = None, headers: Headers = None
    ) -> AsyncIterator[FlightInfo]:
        """The flights the server offers."""
        async for message in self._stream(
            "ListFlights",
            pb.Criteria(expression=criteria),
            pb.FlightInfo,
            timeout=timeout,
            headers=headers,
        ):
            yield info_from_proto(message)

    async def get_flight_info(
        self,
        descriptor: FlightDescriptor | paf.FlightDescriptor,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> FlightInfo:
        """Plan a flight: its schema and the endpoints that serve it."""
        # Reconnections to the other locations this client read from overlap the plan.
        self._calls.channels.wake_idle(self._target)
        message = await self._unary(
            "GetFlightInfo",
            descriptor_to_proto(as_descriptor(descriptor)),
            pb.FlightInfo,
            timeout=timeout,
            headers=headers,
        )
        return info_from_proto(message)

    async def poll_flight_info(
        self,
        descriptor: FlightDescriptor | paf.FlightDescriptor,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> PollInfo:
        """Start or continue a long-running query; poll again with ``result.descriptor``."""
        self._calls.channels.wake_idle(self._target)  # as get_flight_info does
        message = await self._unary(
            "PollFlightInfo",
            descriptor_to_proto(as_descriptor(descriptor)),
            pb.PollInfo,
            timeout=timeout,
            headers=headers,
        )
        return poll_info_from_proto(message)

    async def get_schema(
        self,
        descriptor: FlightDescriptor | paf.FlightDescriptor,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> pa.Schema:
        """The schema of a flight."""
        message = await self._unary(
            "GetSchema",
            descriptor_to_proto(as_descriptor(descriptor)),
            pb.SchemaResult,
            timeout=timeout,
            headers=headers,
        )
        schema = read_ipc_schema(message.schema)
        if schema is None:
            raise FlightDecodeError("GetSchema returned no schema", where="SchemaResult")
        return schema

    # --- data RPCs -----------------------------------------------------------------------

    def do_get(
        self,
        ticket: TicketLike,
        *,
        location: Location | str | None = None,
        schema: pa.Schema | None = None,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> AsyncFlightStreamReader:
        """Stream the data behind a ticket.

        ``location`` picks the endpoint location to fetch from (default: this server).
        ``schema`` is used if the server sends no schema message. The call starts on the
        first read of the returned reader.
        """
        request = pb.Ticket(ticket=as_ticket(ticket).ticket).SerializeToString()
        stream = self._calls.server_stream(
            "DoGet", request, target=self._target_of(location), timeout=timeout, headers=headers
        )
        return AsyncFlightStreamReader(
            stream, schema=schema, validate=self._validate, align_buffers=self._align_buffers
        )

    async def do_put(
        self,
        descriptor: FlightDescriptor | paf.FlightDescriptor,
        schema: pa.Schema | None = None,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> AsyncFlightPutWriter:
        """Start an upload; write batches to the returned writer, then ``close()`` it.

        If the server rejects the upload as UNAUTHENTICATED before answering anything,
        while the client still holds everything it wrote (the first MiB), the upload is
        replayed once with a refreshed token (see ``token=``).
        """
        call = await self._calls.bidi("DoPut", timeout=timeout, headers=headers)
        writer = AsyncFlightPutWriter(
            call, descriptor_to_proto(as_descriptor(descriptor)).SerializeToString()
        )
        if schema is not None:
            await writer.begin(schema)
        return writer

    async def do_exchange(
        self,
        descriptor: FlightDescriptor | paf.FlightDescriptor,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> AsyncFlightExchange:
        """Open a bidirectional data stream.

        Replayed once with a refreshed token, like :meth:`do_put`, when the server rejects
        it as UNAUTHENTICATED before sending anything.
        """
        call = await self._calls.bidi("DoExchange", timeout=timeout, headers=headers)
        return AsyncFlightExchange(
            call,
            descriptor_to_proto(as_descriptor(descriptor)).SerializeToString(),
            validate=self._validate,
            align_buffers=self._align_buffers,
        )

    # --- actions -------------------------------------------------------------------------

    async def do_action(
        self,
        action: Action | str | paf.Action,
        body: bytes | str | None = None,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> AsyncIterator[Result]:
        """Run an action; yields its results."""
        action = as_action(action, body)
        async for message in self._stream(
            "DoAction",
            pb.Action(type=action.type, body=action.body),
            pb.Result,
            timeout=timeout,
            headers=headers,
        ):
            yield Result(message.body)

    async def _action_result(
        self, action_type: str, body: bytes, *, timeout: float | None, headers: Headers
    ) -> bytes:
        results = [
            r.body
            async for r in self.do_action(action_type, body, timeout=timeout, headers=headers)
        ]
        if not results:
            raise FlightDecodeError(f"the {action_type} action returned no result", where="Result")
        return results[0]

    async def list_actions(
        self, *, timeout: float | None = None, headers: Headers = None
    ) -> list[ActionType]:
        """The actions the server offers."""
        return [
            ActionType(m.type, m.description)
            async for m in self._stream(
                "ListActions", pb.Empty(), pb.ActionType, timeout=timeout, headers=headers
            )
        ]

    async def cancel_flight_info(
        self,
        info: FlightInfo | paf.FlightInfo,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> CancelStatus:
        """Ask the server to cancel a running flight (its endpoints become invalid)."""
        body = pb.CancelFlightInfoRequest(info=info_to_proto(as_info(info))).SerializeToString()
        raw = await self._action_result("CancelFlightInfo", body, timeout=timeout, headers=headers)
        return CancelStatus(parse_response(pb.CancelFlightInfoResult, raw).status)

    async def renew_flight_endpoint(
        self,
        endpoint: FlightEndpoint | paf.FlightEndpoint,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> FlightEndpoint:
        """Extend an endpoint's expiration time; returns the renewed endpoint."""
        request = pb.RenewFlightEndpointRequest(endpoint=endpoint_to_proto(as_endpoint(endpoint)))
        raw = await self._action_result(
            "RenewFlightEndpoint", request.SerializeToString(), timeout=timeout, headers=headers
        )
        return endpoint_from_proto(parse_response(pb.FlightEndpoint, raw))

    async def set_session_options(
        self,
        options: Mapping[str, SessionOptionValue],
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> dict[str, str]:
        """Set session options; returns the options the server refused, with the reason."""
        request = pb.SetSessionOptionsRequest()
        for name, value in options.items():
            request.session_options[name].CopyFrom(session_value_to_proto(value))
        raw = await self._action_result(
            "SetSessionOptions", request.SerializeToString(), timeout=timeout, headers=headers
        )
        result = parse_response(pb.SetSessionOptionsResult, raw)
        return {
            name: pb.SetSessionOptionsResult.ErrorValue.Name(error.value)
            for name, error in result.errors.items()
        }

    async def get_session_options(
        self, *, timeout: float | None = None, headers: Headers = None
    ) -> dict[str, SessionOptionValue]:
        """The current session's options."""
        raw = await self._action_result(
            "GetSessionOptions",
            pb.GetSessionOptionsRequest().SerializeToString(),
            timeout=timeout,
            headers=headers,
        )
        result = parse_response(pb.GetSessionOptionsResult, raw)
        return {k: session_value_from_proto(v) for k, v in result.session_options.items()}

    async def close_session(self, *, timeout: float | None = None, headers: Headers = None) -> str:
        """End the server session; returns ``"CLOSED"``, ``"CLOSING"`` or ``"NOT_CLOSEABLE"``."""
        raw = await self._action_result(
            "CloseSession",
            pb.CloseSessionRequest().SerializeToString(),
            timeout=timeout,
            headers=headers,
        )
        status = parse_response(pb.CloseSessionResult, raw).status
        return pb.CloseSessionResult.Status.Name(status)

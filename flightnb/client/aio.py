"""The asyncio Flight client, on ``grpc.aio``. Every FlightService RPC, zero-copy reads."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any

import grpc
import grpc.aio
import pyarrow as pa

from flightnb._proto import Flight_pb2 as pb
from flightnb.client.auth import CookieJar, Metadata, Secret, basic_auth_header, normalize_headers
from flightnb.client.streams import FlightExchange, FlightPutWriter, FlightStreamReader
from flightnb.errors import (
    FlightClientClosedError,
    FlightDecodeError,
    FlightInternalError,
    FlightUnauthenticatedError,
)
from flightnb.transport.channels import ChannelConfig, open_channel
from flightnb.transport.errors import map_grpc_errors, parse_response, write_message
from flightnb.transport.locations import ChannelTarget, is_reuse_connection, parse_location
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

__all__ = ["AsyncFlightClient"]

_SERVICE = "/arrow.flight.protocol.FlightService/"
# What grpcio reports when it dropped the server's status after a failed write.
_LOST_STATUS = "Internal error from Core"
Headers = Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]] | None
#: A callable returning a fresh bearer token (sync, or async returning an awaitable).
TokenSource = Callable[[], "str | Awaitable[str]"]
_NO_MESSAGE = object()
#: How long a call waits for a channel that lost its server to connect again (see
#: ``AsyncFlightClient._await_reconnect``); the channels' reconnect backoff is at most 1 s.
RECONNECT_WAIT_SECONDS = 2.0
_CONNECTED_ONCE = (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.IDLE)


class ClientState(enum.Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


def _identity(data: bytes) -> bytes:
    return data


class _StartedCall:
    """A DoGet call whose first message ``start()`` has read already.

    Hands that message out first, then the rest of the stream; at the end the cookies in the
    call's trailers go to the client's jar.
    """

    __slots__ = ("_call", "_cookies", "_first")

    def __init__(self, call: Any, first: Any, cookies: CookieJar) -> None:
        self._call = call
        self._first = first
        self._cookies = cookies

    async def read(self) -> Any:
        message, self._first = self._first, _NO_MESSAGE
        if message is _NO_MESSAGE:
            try:
                message = await self._call.read()
            except grpc.aio.AioRpcError as exc:
                self._cookies.observe(exc.trailing_metadata())
                raise
        if message is grpc.aio.EOF:
            self._cookies.observe(await self._call.trailing_metadata())
        return message

    def cancel(self) -> bool:
        return bool(self._call.cancel())

    def done(self) -> bool:
        return bool(self._call.done())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class AsyncFlightClient:
    """An Arrow Flight client on ``grpc.aio``.

    Parameters
    ----------
    location : str or Location
        ``grpc://host:port``, ``grpc+tcp://``, ``grpc+tls://`` or ``grpc+unix:///path``.
        pyarrow.flight ``Location`` objects work too.
    token : str or callable, optional
        Bearer token sent as ``authorization: Bearer ...`` on every call. A callable (sync,
        or async) returning a token string is called before the first call and again when
        the server answers UNAUTHENTICATED (token expired): the call is then retried once
        with the new token, if it failed before any data arrived. Keep a sync callable quick
        (it runs on the event loop), or make it ``async``.
    headers : mapping, optional
        Extra headers for every call.
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

    Examples
    --------
    >>> async with AsyncFlightClient("grpc://127.0.0.1:8815") as client:  # doctest: +SKIP
    ...     info = await client.get_flight_info(FlightDescriptor.for_path("trips"))
    ...     table = await client.do_get(info.endpoints[0].ticket).read_all()
    """

    def __init__(
        self,
        location: str | Location | Any,
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
    ) -> None:
        self.location = as_location(location)
        self._target = parse_location(self.location)
        self._config = ChannelConfig(
            tls_root_certs=tls_root_certs,
            cert_chain=cert_chain,
            private_key=private_key,
            override_hostname=override_hostname,
            disable_server_verification=disable_server_verification,
            max_receive_message_size=max_receive_message_size,
            max_send_message_size=max_send_message_size,
        )
        self._token_source: TokenSource | None = token if callable(token) else None
        self._token: Secret | None = Secret(token) if token and not callable(token) else None
        self._token_lock = asyncio.Lock()
        self._token_header = "authorization"
        self._headers = normalize_headers(headers)
        self.timeout = timeout
        self._validate = validate
        self._cookies = CookieJar()
        self._channels: dict[str, grpc.aio.Channel] = {}
        # Targets whose channel has had a connection: only those wait for a reconnect.
        self._reconnectable: set[str] = set()
        self._state = ClientState.UNOPENED

    def __repr__(self) -> str:
        auth = "token" if self._token or self._token_source else "none"
        return f"AsyncFlightClient({self.location.uri!r}, auth={auth}, state={self._state.value})"

    def adopt_credentials(self, other: AsyncFlightClient) -> None:
        """Use the login (token, token callable, cookies) another client holds.

        For a second client of the same server on another event loop, e.g. a notebook's
        background reads after ``%flight connect --user``.
        """
        if other._token is not None or other._token_source is not None:
            self._token, self._token_header = other._token, other._token_header
            self._token_source = other._token_source
        self._cookies = other._cookies

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
        channels, self._channels = self._channels, {}
        self._reconnectable.clear()
        for channel in channels.values():
            await channel.close()

    @property
    def closed(self) -> bool:
        return self._state is ClientState.CLOSED

    async def _channel(self, target: ChannelTarget | None = None) -> grpc.aio.Channel:
        if self._state is ClientState.CLOSED:
            raise FlightClientClosedError("the client is closed")
        if self._token is None and self._token_source is not None:
            await self._refresh_token(None)  # the first token of a token callable
        target = target or self._target
        channel = self._channels.get(target.target)
        if channel is None:
            channel = await open_channel(target, self._config)
            self._channels[target.target] = channel
            self._state = ClientState.OPENED
        else:
            await self._await_reconnect(target.target, channel)
        return channel

    async def _await_reconnect(self, key: str, channel: grpc.aio.Channel) -> None:
        """Before a call, give a channel that lost its server a moment to connect again.

        Once a connection attempt has failed (a call made while the server restarts), grpc
        fails every call at once until its reconnect backoff expires, so the first call
        after the server is back would fail with UNAVAILABLE. A channel that has been
        connected before waits up to :data:`RECONNECT_WAIT_SECONDS` (bounded by the client's
        ``timeout``) for the channel to be ready, then the call goes out; if the server is
        still away, it fails as before. Nothing is sent twice. A channel that never
        connected (wrong address, server not up) does not wait: it fails fast.
        """
        state = channel.get_state()
        if state in _CONNECTED_ONCE:
            # IDLE on a channel we have used: it had a connection that the server closed.
            self._reconnectable.add(key)
            return
        if state is not grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            return  # CONNECTING: grpc queues the call until the attempt resolves
        if key not in self._reconnectable:
            return
        wait = RECONNECT_WAIT_SECONDS
        if self.timeout is not None:
            wait = min(wait, self.timeout)
        # Still away after that: the call goes out and fails with UNAVAILABLE.
        with suppress(asyncio.TimeoutError):
            await asyncio.wait_for(channel.channel_ready(), wait)

    async def channel_for(self, location: Location | str | None) -> grpc.aio.Channel:
        """The (cached) channel for an endpoint location; None or reuse means this server."""
        return await self._channel(self._target_of(location))

    def _target_of(self, location: Location | str | None) -> ChannelTarget:
        if location is None:
            return self._target
        location = as_location(location)
        if is_reuse_connection(location):
            return self._target
        return parse_location(location)

    @contextmanager
    def _errors(self, target: ChannelTarget | None = None) -> Iterator[None]:
        """Map grpc errors of calls on ``target`` (default: this server), with TLS hints.

        A failed call's cookies are kept too: a server may set one while rejecting a call.
        """
        target = target or self._target
        if self._config.override_hostname:
            # The name the certificate was checked against, for "does not match host ...".
            target = dataclasses.replace(target, host=self._config.override_hostname)
        with map_grpc_errors(target):
            try:
                yield
            except grpc.aio.AioRpcError as exc:
                self._cookies.observe(exc.initial_metadata())
                self._cookies.observe(exc.trailing_metadata())
                raise

    async def _refresh_token(self, rejected: Secret | None) -> bool:
        """Replace the ``rejected`` token with one from the token callable; False without one.

        Concurrent calls rejected with the same token share one refresh: whoever comes
        second finds the token already replaced and just retries.
        """
        if self._token_source is None:
            return False
        async with self._token_lock:
            if self._token is rejected:
                value = self._token_source()
                if inspect.isawaitable(value):
                    value = await value
                if not isinstance(value, str) or not value:
                    raise FlightUnauthenticatedError(
                        "the token callable returned no token", code="UNAUTHENTICATED"
                    )
                self._token, self._token_header = Secret(value), "authorization"
        return True

    def _metadata(self, headers: Headers) -> Metadata:
        metadata = list(self._headers)
        if self._token is not None:
            value = self._token.reveal()
            if self._token_header == "authorization":
                text = value.decode() if isinstance(value, bytes) else value
                metadata.append(("authorization", f"Bearer {text}"))
            else:
                metadata.append((self._token_header, value))
        metadata.extend(self._cookies.header())
        metadata.extend(normalize_headers(headers))
        return metadata

    def _timeout(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else timeout

    async def _unary(
        self,
        method: str,
        request: Any,
        response_type: Any,
        *,
        timeout: float | None,
        headers: Headers,
    ) -> Any:
        for retry in (False, True):
            channel = await self._channel()
            token = self._token
            call = channel.unary_unary(
                _SERVICE + method,
                request_serializer=type(request).SerializeToString,
                response_deserializer=None,  # parsed below: grpc turns a parse failure into None
            )(request, metadata=self._metadata(headers), timeout=self._timeout(timeout))
            try:
                with self._errors():
                    response = await call
                    self._cookies.observe(await call.initial_metadata())
                    self._cookies.observe(await call.trailing_metadata())
            except FlightUnauthenticatedError:
                if retry or not await self._refresh_token(token):
                    raise
                continue
            return parse_response(response_type, response)
        raise AssertionError("unreachable")

    async def _stream(
        self,
        method: str,
        request: Any,
        response_type: Any,
        *,
        timeout: float | None,
        headers: Headers,
    ) -> AsyncIterator[Any]:
        for retry in (False, True):
            channel = await self._channel()
            token = self._token
            call = channel.unary_stream(
                _SERVICE + method,
                request_serializer=type(request).SerializeToString,
                response_deserializer=None,  # parsed below: grpc turns a parse failure into None
            )(request, metadata=self._metadata(headers), timeout=self._timeout(timeout))
            received = False
            try:
                with self._errors():
                    self._cookies.observe(await call.initial_metadata())
                    while (message := await call.read()) is not grpc.aio.EOF:
                        received = True
                        yield parse_response(response_type, message)
                    self._cookies.observe(await call.trailing_metadata())
                return
            except FlightUnauthenticatedError:
                # Retried only before the first message: the caller has seen nothing yet.
                if received or retry or not await self._refresh_token(token):
                    raise
            finally:
                call.cancel()

    # --- authentication ----------------------------------------------------------------

    async def handshake(
        self,
        username: str,
        password: str,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> None:
        """Authenticate with a username and password and keep the token the server returns.

        Sends both conventions servers use: an ``authorization: Basic`` header and a
        ``BasicAuth`` handshake payload. A returned ``authorization: Bearer`` header becomes
        the client's token; otherwise a returned payload is sent as ``auth-token-bin``.
        """
        try:
            responses, metadata = await self._handshake_call(
                username, password, send_payload=True, timeout=timeout, headers=headers
            )
        except FlightInternalError as exc:
            if exc.trailers or _LOST_STATUS not in exc.message:
                raise
            # grpcio loses the server's status when a write races the server's early
            # rejection (e.g. a bad password judged from the header alone). A header-only
            # handshake writes nothing, so the server's real answer comes through.
            responses, metadata = await self._handshake_call(
                username, password, send_payload=False, timeout=timeout, headers=headers
            )
        self._cookies.observe(metadata)
        for key, value in metadata:
            text = value.decode() if isinstance(value, bytes) else str(value)
            if key.lower() == "authorization" and text.lower().startswith("bearer "):
                self._token, self._token_header = Secret(text[7:]), "authorization"
                return
        token = next((r for r in reversed(responses) if r), None)
        if token is None:
            raise FlightUnauthenticatedError(
                "the server accepted the handshake but returned no token", code="UNAUTHENTICATED"
            )
        self._token, self._token_header = Secret(token), "auth-token-bin"

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
        channel = await self._channel()
        call = channel.stream_stream(
            _SERVICE + "Handshake",
            request_serializer=pb.HandshakeRequest.SerializeToString,
            response_deserializer=None,
        )(
            metadata=[
                *self._metadata(headers),
                ("authorization", basic_auth_header(username, password)),
            ],
            timeout=self._timeout(timeout),
        )
        if send_payload:
            payload = pb.BasicAuth(username=username, password=password).SerializeToString()
            await write_message(call, pb.HandshakeRequest(payload=payload))
        responses: list[bytes] = []
        with self._errors():
            await call.done_writing()
            while (message := await call.read()) is not grpc.aio.EOF:
                responses.append(parse_response(pb.HandshakeResponse, message).payload)
            metadata = [
                *(await call.initial_metadata() or ()),
                *(await call.trailing_metadata() or ()),
            ]
        return responses, metadata

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
        descriptor: FlightDescriptor | Any,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> FlightInfo:
        """Plan a flight: its schema and the endpoints that serve it."""
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
        descriptor: FlightDescriptor | Any,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> PollInfo:
        """Start or continue a long-running query; poll again with ``result.descriptor``."""
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
        descriptor: FlightDescriptor | Any,
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
        ticket: Any,
        *,
        location: Location | str | None = None,
        schema: pa.Schema | None = None,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> FlightStreamReader:
        """Stream the data behind a ticket.

        ``location`` picks the endpoint location to fetch from (default: this server).
        ``schema`` is used if the server sends no schema message. The call starts on the
        first read of the returned reader.
        """
        request = pb.Ticket(ticket=as_ticket(ticket).ticket)

        async def start() -> Any:
            target = self._target_of(location)
            for retry in (False, True):
                channel = await self._channel(target)
                token = self._token
                call = channel.unary_stream(
                    _SERVICE + "DoGet",
                    request_serializer=pb.Ticket.SerializeToString,
                    response_deserializer=None,  # raw bytes: the codec reads them without copies
                )(request, metadata=self._metadata(headers), timeout=self._timeout(timeout))
                try:
                    with self._errors(target):
                        self._cookies.observe(await call.initial_metadata())
                        # The first message is read here, so that a rejection before any data
                        # (an expired token) can still be retried.
                        first = await call.read()
                except FlightUnauthenticatedError:
                    if retry or not await self._refresh_token(token):
                        raise
                    continue
                except BaseException:
                    call.cancel()  # e.g. cancelled while waiting: the reader has no call yet
                    raise
                return _StartedCall(call, first, self._cookies)
            raise AssertionError("unreachable")

        return FlightStreamReader(start, schema=schema, validate=self._validate)

    async def do_put(
        self,
        descriptor: FlightDescriptor | Any,
        schema: pa.Schema | None = None,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> FlightPutWriter:
        """Start an upload; write batches to the returned writer, then ``close()`` it."""
        channel = await self._channel()
        call = channel.stream_stream(
            _SERVICE + "DoPut",
            request_serializer=_identity,
            response_deserializer=None,  # FlightPutWriter.read_result parses
        )(metadata=self._metadata(headers), timeout=self._timeout(timeout))
        writer = FlightPutWriter(
            call, descriptor_to_proto(as_descriptor(descriptor)).SerializeToString()
        )
        if schema is not None:
            await writer.begin(schema)
        return writer

    async def do_exchange(
        self,
        descriptor: FlightDescriptor | Any,
        *,
        timeout: float | None = None,
        headers: Headers = None,
    ) -> FlightExchange:
        """Open a bidirectional data stream."""
        channel = await self._channel()
        call = channel.stream_stream(
            _SERVICE + "DoExchange",
            request_serializer=_identity,
            response_deserializer=None,
        )(metadata=self._metadata(headers), timeout=self._timeout(timeout))
        return FlightExchange(
            call,
            descriptor_to_proto(as_descriptor(descriptor)).SerializeToString(),
            validate=self._validate,
        )

    # --- actions -------------------------------------------------------------------------

    async def do_action(
        self,
        action: Action | str | Any,
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
        self, info: FlightInfo | Any, *, timeout: float | None = None, headers: Headers = None
    ) -> CancelStatus:
        """Ask the server to cancel a running flight (its endpoints become invalid)."""
        body = pb.CancelFlightInfoRequest(info=info_to_proto(as_info(info))).SerializeToString()
        raw = await self._action_result("CancelFlightInfo", body, timeout=timeout, headers=headers)
        return CancelStatus(parse_response(pb.CancelFlightInfoResult, raw).status)

    async def renew_flight_endpoint(
        self,
        endpoint: FlightEndpoint | Any,
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

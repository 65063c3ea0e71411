"""The Flight service on gRPC: requests decoded, answers encoded, errors sent as statuses.

:class:`FlightServer` listens on a location and serves ``arrow.flight.protocol.FlightService``
with gRPC's threaded server. Each RPC's protobuf request is decoded here, handed to one
overridable method with plain types (a ``pyarrow.flight.FlightDescriptor``, ticket bytes, an
:class:`~flightnb.server.calls.Upload` ...), and the answer is encoded with flightnb's own
FlightData codec. Whatever a method raises goes through
:func:`flightnb.server.errors.flight_error` and reaches the client as its status code and
one-line message, with nothing appended.

==================  ===========================================================
RPC                 method (default: UNIMPLEMENTED)
==================  ===========================================================
ListFlights         ``list_flights(call, criteria) -> iterable of FlightInfo``
GetFlightInfo       ``get_flight_info(call, descriptor) -> FlightInfo``
GetSchema           ``get_schema(call, descriptor) -> pa.Schema``
DoGet               ``do_get(call, ticket) -> BatchStream``
DoPut               ``do_put(call, descriptor, upload) -> bytes or None`` (a PutResult)
DoAction            ``do_action(call, kind, body) -> iterable of bytes``
ListActions         ``list_actions(call) -> list of (type, description)``
Handshake           ``auth.handshake`` (see :class:`~flightnb.server.auth.ServerAuth`)
PollFlightInfo      UNIMPLEMENTED
DoExchange          UNIMPLEMENTED
==================  ===========================================================

Every call but Handshake passes :class:`~flightnb.server.guard.CallGuard` first: it is
authenticated when the server was given ``auth``, and counted against its caller's
``max_calls_per_client``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
import pyarrow as pa
import pyarrow.flight as flight

from flightnb._proto import Flight_pb2
from flightnb.codec.decoder import FlightDataDecoder
from flightnb.codec.encoder import FlightDataEncoder
from flightnb.codec.wire import parse_flight_data
from flightnb.errors import FlightArgumentTypeError
from flightnb.server.auth import ServerAuth
from flightnb.server.calls import BatchStream, ServerCall, Upload
from flightnb.server.errors import ServerError, flight_error, invalid, unsupported
from flightnb.server.guard import CallGuard, CallSlots
from flightnb.transport.locations import ChannelTarget, parse_location

__all__ = ["FlightServer", "parse_listen_location"]

_SERVICE = "arrow.flight.protocol.FlightService"
# Threads answering calls: each open DoGet or DoPut holds one for as long as it streams.
_MAX_WORKERS = 128
# How long shutdown() lets running calls finish before cancelling them.
_SHUTDOWN_GRACE_SECONDS = 1.0
_OPTIONS = (
    ("grpc.max_send_message_length", -1),
    # Without this a second server on a port in use would share it silently.
    ("grpc.so_reuseport", 0),
    # Request headers beyond 16 KiB are refused by gRPC before any handler sees them.
    ("grpc.max_metadata_size", 16 * 1024),
    # gRPC cancels calls at random, any client's, once more than 1000 wait for the server to
    # take them (the defaults); a flood of one client's calls would cancel another's. Let
    # them wait: each is answered in turn, a flood's by its client's call limit.
    ("grpc.server.max_pending_requests", 10_000),
    ("grpc.server.max_pending_requests_hard_limit", 20_000),
)
#: The largest message a client may send (one FlightData of an upload, one request).
DEFAULT_MAX_MESSAGE_BYTES = 256 << 20
#: Calls one client (one token or login) may have running at once.
DEFAULT_MAX_CALLS_PER_CLIENT = 32

_T = TypeVar("_T")


def parse_listen_location(location: str) -> ChannelTarget:
    """Where to listen for a location URI, read as the clients read it.

    ``grpc://``, ``grpc+tcp://`` and ``grpc+tls://`` with ``host:port`` (port 0 picks a free
    one; IPv6 hosts in brackets), and ``grpc+unix://`` or ``unix://`` with a socket path.

    Raises
    ------
    FlightArgumentError
        (a ``ValueError``) For another scheme, a TCP location without a port, or a socket
        location without a path.
    """
    if not isinstance(location, str):
        raise FlightArgumentTypeError(
            f"a listen location is a URI string, not {type(location).__name__}"
        )
    return parse_location(location)


def _credentials(tls_certificates: Sequence[Any]) -> grpc.ServerCredentials:
    pairs = []
    for pair in tls_certificates:
        cert, key = (pair.cert, pair.key) if hasattr(pair, "cert") else pair
        pairs.append((_pem(key), _pem(cert)))
    return grpc.ssl_server_credentials(pairs)


def _pem(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


class FlightServer:
    """A Flight server on gRPC; subclasses override the RPC methods they answer.

    The server listens as soon as it is constructed; :meth:`serve` blocks until
    :meth:`shutdown`.

    Parameters
    ----------
    location : str, default "grpc://127.0.0.1:0"
        ``grpc://host:port`` (port 0 picks a free one, see :attr:`port`),
        ``grpc+tls://host:port`` with ``tls_certificates``, or ``grpc+unix:///socket/path``
        (also ``unix:///socket/path``), read by :func:`parse_listen_location`.
    tls_certificates : sequence of (cert, key), optional
        PEM certificate chains and private keys, for ``grpc+tls``
        (``pyarrow.flight.CertKeyPair`` works too).
    auth : ServerAuth, optional
        Who may call; without it every call is served.
    max_calls_per_client : int, default 32
        Calls one caller (one token, one login; everyone when there is no ``auth``) may have
        running at once; more are answered RESOURCE_EXHAUSTED.
    max_message_bytes : int, default 256 MiB
        The largest message a client may send; a larger one fails its call
        (RESOURCE_EXHAUSTED) before it is held in memory.

    Attributes
    ----------
    auth : ServerAuth
        Who may call (a disabled ``ServerAuth`` without ``auth``).
    call_slots : CallSlots
        The running calls of each caller.

    Raises
    ------
    ValueError
        For a location it cannot listen on.
    OSError
        When the address cannot be bound (e.g. the port is in use).
    """

    def __init__(
        self,
        location: str = "grpc://127.0.0.1:0",
        *,
        tls_certificates: Sequence[Any] | None = None,
        auth: ServerAuth | None = None,
        max_calls_per_client: int = DEFAULT_MAX_CALLS_PER_CLIENT,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        listen = parse_listen_location(location)
        address, tls = listen.target, listen.tls
        if tls and not tls_certificates:
            raise ValueError("grpc+tls needs tls_certificates=[(cert_pem, key_pem)]")
        self.auth = auth if auth is not None else ServerAuth(enabled=False)
        self.call_slots = CallSlots(max_calls_per_client)
        self._workers = ThreadPoolExecutor(_MAX_WORKERS, thread_name_prefix="flightnb-server")
        self._server = grpc.server(
            self._workers,
            handlers=[_Servicer(self).handler()],
            interceptors=[CallGuard(self.auth, self.call_slots)],
            # No maximum_concurrent_rpcs: gRPC's refusal reaches clients as a bare CANCELLED.
            # The per-client limit bounds each caller; refusals are quick, so a flood waits
            # briefly for a worker thread rather than holding one.
            options=(*_OPTIONS, ("grpc.max_receive_message_length", max_message_bytes)),
        )
        try:
            if tls:
                assert tls_certificates is not None
                port = self._server.add_secure_port(address, _credentials(tls_certificates))
            else:
                port = self._server.add_insecure_port(address)
        except RuntimeError:
            port = 0  # grpc's message only says "Failed to bind"
        if not port:
            raise OSError(f"cannot listen on {location}: the address is in use or not available")
        #: The address listened on, as parsed (:attr:`port` has the port a 0 became).
        self.listen = listen
        self._port = port if listen.socket_path is None else -1
        self._socket_path = listen.socket_path
        self._server.start()
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        """The TCP port listened on (-1 for a unix socket)."""
        return self._port

    def serve(self) -> None:
        """Block until :meth:`shutdown` (Ctrl-C raises KeyboardInterrupt here)."""
        self._server.wait_for_termination()

    def shutdown(self) -> None:
        """Stop listening; running calls get a moment to finish, then are cancelled."""
        if self._stopped:
            return
        self._stopped = True
        self._server.stop(_SHUTDOWN_GRACE_SECONDS).wait()
        self._workers.shutdown(wait=False)
        if self._socket_path is not None and os.path.exists(self._socket_path):
            os.unlink(self._socket_path)

    def __enter__(self) -> FlightServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    # ------------------------------------------------------------------ RPC methods

    def list_flights(self, call: ServerCall, criteria: bytes) -> Iterable[flight.FlightInfo]:
        """The flights available; ``criteria`` is the client's opaque filter."""
        raise unsupported("ListFlights is not supported by this server")

    def get_flight_info(
        self, call: ServerCall, descriptor: flight.FlightDescriptor
    ) -> flight.FlightInfo:
        """Plan the flight a descriptor names."""
        raise unsupported("GetFlightInfo is not supported by this server")

    def get_schema(self, call: ServerCall, descriptor: flight.FlightDescriptor) -> pa.Schema:
        """The schema of the flight a descriptor names."""
        raise unsupported("GetSchema is not supported by this server")

    def do_get(self, call: ServerCall, ticket: bytes) -> BatchStream:
        """The stream a ticket redeems."""
        raise unsupported("DoGet is not supported by this server")

    def do_put(
        self, call: ServerCall, descriptor: flight.FlightDescriptor, upload: Upload
    ) -> bytes | None:
        """Take an upload; returns the ``app_metadata`` of the one PutResult, or None."""
        raise unsupported("DoPut is not supported by this server")

    def do_action(self, call: ServerCall, kind: str, body: bytes) -> Iterable[bytes]:
        """Run an action; returns the bodies of its results."""
        raise unsupported(f"unknown action {kind!r}")

    def list_actions(self, call: ServerCall) -> list[tuple[str, str]]:
        """The actions :meth:`do_action` takes, as (type, description)."""
        return []


class _Servicer:
    """Decodes each Flight RPC's request for a :class:`FlightServer` and encodes its answer."""

    def __init__(self, server: FlightServer) -> None:
        self._server = server

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler serving the Flight service with this servicer."""
        unary, stream = grpc.unary_unary_rpc_method_handler, grpc.unary_stream_rpc_method_handler
        bidi = grpc.stream_stream_rpc_method_handler
        return grpc.method_handlers_generic_handler(
            _SERVICE,
            {
                "Handshake": bidi(self._handshake),
                "ListFlights": stream(self._list_flights),
                "GetFlightInfo": unary(self._get_flight_info),
                "PollFlightInfo": unary(self._unimplemented("PollFlightInfo")),
                "GetSchema": unary(self._get_schema),
                "DoGet": stream(self._do_get),
                "DoPut": bidi(self._do_put),
                "DoExchange": bidi(self._unimplemented("DoExchange")),
                "DoAction": stream(self._do_action),
                "ListActions": stream(self._list_actions),
            },
        )

    @staticmethod
    def _answer(context: grpc.ServicerContext, work: Callable[[], _T]) -> _T:
        try:
            return work()
        except Exception as exc:
            error = flight_error(exc)
            context.abort(error.code, error.message)
            raise  # unreachable: abort raises

    @staticmethod
    def _stream(context: grpc.ServicerContext, messages: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from messages
        except Exception as exc:
            error = flight_error(exc)
            context.abort(error.code, error.message)
        finally:
            close = getattr(messages, "close", None)
            if close is not None:
                close()

    def _handshake(
        self, requests: Iterator[bytes], context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        headers = ServerCall(context).headers
        # One request is enough for every login; reading no further bounds the call.
        first = next(requests, None)
        payload = Flight_pb2.HandshakeRequest.FromString(first).payload if first else b""
        try:
            answer, response_headers = self._server.auth.handshake(headers, payload)
        except ServerError as exc:
            context.abort(exc.code, exc.message)
        if response_headers:
            context.send_initial_metadata(response_headers)
        if not answer:
            return iter(())
        return iter([Flight_pb2.HandshakeResponse(payload=answer).SerializeToString()])

    @staticmethod
    def _unimplemented(name: str) -> Callable[[Any, grpc.ServicerContext], Any]:
        """A handler of any kind (unary or streaming) that answers UNIMPLEMENTED."""

        def answer(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{name} is not supported by this server")

        return answer

    def _list_flights(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        def infos() -> Iterator[bytes]:
            criteria = Flight_pb2.Criteria.FromString(request).expression
            for info in self._server.list_flights(ServerCall(context), criteria):
                yield info.serialize()

        return self._stream(context, infos())

    def _get_flight_info(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        def work() -> bytes:
            descriptor = flight.FlightDescriptor.deserialize(request)
            info: bytes = self._server.get_flight_info(ServerCall(context), descriptor).serialize()
            return info

        return self._answer(context, work)

    def _get_schema(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        def work() -> bytes:
            descriptor = flight.FlightDescriptor.deserialize(request)
            schema = self._server.get_schema(ServerCall(context), descriptor)
            result = Flight_pb2.SchemaResult(schema=schema.serialize().to_pybytes())
            return result.SerializeToString()

        return self._answer(context, work)

    def _do_get(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        def messages() -> Iterator[bytes]:
            ticket = Flight_pb2.Ticket.FromString(request).ticket
            stream = self._server.do_get(ServerCall(context), ticket)
            batches = iter(stream.batches)
            try:
                encoder = FlightDataEncoder(stream.schema)
                yield encoder.schema_message()
                for batch in batches:
                    yield from encoder.encode_batch(batch)
            finally:
                close = getattr(batches, "close", None)
                if close is not None:
                    close()

        return self._stream(context, messages())

    def _do_put(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        def results() -> Iterator[bytes]:
            first = next(requests, None)
            if first is None:
                raise invalid("DoPut sent no message: the first one carries the FlightDescriptor")
            parts = parse_flight_data(first)
            if not len(parts.descriptor):
                raise invalid("the first DoPut message carries no FlightDescriptor")
            descriptor = flight.FlightDescriptor.deserialize(bytes(parts.descriptor))
            decoder = FlightDataDecoder()
            events = decoder.receive_parts(parts.data_header, parts.data_body, parts.app_metadata)
            upload = Upload(decoder, list(events), requests)
            answer = self._server.do_put(ServerCall(context), descriptor, upload)
            if answer is not None:
                yield Flight_pb2.PutResult(app_metadata=answer).SerializeToString()

        return self._stream(context, results())

    def _do_action(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        def results() -> Iterator[bytes]:
            action = Flight_pb2.Action.FromString(request)
            for body in self._server.do_action(ServerCall(context), action.type, action.body):
                yield Flight_pb2.Result(body=body).SerializeToString()

        return self._stream(context, results())

    def _list_actions(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        def actions() -> Iterator[bytes]:
            for kind, description in self._server.list_actions(ServerCall(context)):
                yield Flight_pb2.ActionType(type=kind, description=description).SerializeToString()

        return self._stream(context, actions())

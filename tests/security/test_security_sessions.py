"""Credentials a server issues or rotates on any call are sent on the next call, as ADBC does.

Deephaven answers every call with ``authorization: Bearer <session>`` and wants it back:
:class:`flight_servers.SessionFlightServer` behaves the same way (a new token on every
call, tickets bound to their session), so these tests fail for a client that keeps only
its own token. A raw grpc.aio server covers what pyarrow's middleware cannot send
(credentials in trailers, handshake answers of each kind) and records what the client sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as paflight
import pytest
import test_security_auth as auth
from flight_servers import Endpoint, FlightTestServer, SessionCall, SessionFlightServer
from raw_server import RawFlightServer

import flightnb
from flightnb import AsyncFlightClient, FlightClient, FlightDescriptor
from flightnb._proto import Flight_pb2 as pb

TABLE = pa.table({"n": pa.array(range(100), pa.int64()), "s": [str(i) for i in range(100)]})


@pytest.fixture(scope="module")
def server() -> Iterator[SessionFlightServer]:
    server = SessionFlightServer()
    server.add_table("t", TABLE)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture
def calls(server: SessionFlightServer) -> list[SessionCall]:
    server.sessions.reset()
    return server.sessions.calls


def _info_then_get(client: FlightClient) -> None:
    info = client.get_flight_info(FlightDescriptor.for_path("t"))
    assert client.do_get(info.endpoints[0].ticket).read_all().equals(TABLE)


CALLS = {
    **auth.CALLS,  # every call type: unary, server streams, uploads and exchanges
    **auth.UPLOADS,
    "GetFlightInfo+DoGet": _info_then_get,
}


def _one_session(calls: list[SessionCall]) -> None:
    """All calls in the session the first one opened, each with the newest token."""
    assert calls and calls[0].presented == "login", calls
    assert {c.session for c in calls} == {calls[0].session}, calls
    assert [c.presented for c in calls[1:]] == ["latest"] * (len(calls) - 1), calls


@pytest.mark.parametrize("first", list(CALLS))
def test_a_token_issued_by_any_call_is_sent_by_every_later_call(
    server: SessionFlightServer, calls: list[SessionCall], first: str
) -> None:
    with FlightClient(server.location, token="Anonymous") as client:
        CALLS[first](client)  # the server issues the session's first token here
        for call in CALLS.values():
            call(client)
        assert "Bearer" not in repr(client) and calls[0].session not in repr(client)
    _one_session(calls)
    assert {c.method for c in calls} >= {
        "GET_FLIGHT_INFO", "GET_SCHEMA", "LIST_FLIGHTS", "DO_ACTION", "LIST_ACTIONS",
        "DO_GET", "DO_PUT", "DO_EXCHANGE",
    }  # fmt: skip


def test_without_adopting_the_token_the_ticket_is_refused(
    server: SessionFlightServer, calls: list[SessionCall]
) -> None:
    """The server is as strict as Deephaven: a call in another session cannot redeem it."""
    with FlightClient(server.location, token="Anonymous") as client:
        info = client.get_flight_info(FlightDescriptor.for_path("t"))
        with pytest.raises(flightnb.FlightUnauthorizedError, match="original session"):
            # Its own login header: a session of its own, and nothing adopted.
            client.do_get(
                info.endpoints[0].ticket, headers={"authorization": "Bearer Anonymous"}
            ).read_all()
        client.do_get(info.endpoints[0].ticket).read_all()
    first, explicit, last = calls
    assert explicit.presented == "login" and explicit.session != first.session
    assert (last.session, last.presented) == (first.session, "latest")


def test_async_client_concurrent_calls_stay_in_one_session(
    server: SessionFlightServer, calls: list[SessionCall]
) -> None:
    async def main() -> None:
        async with AsyncFlightClient(server.location, token="Anonymous") as client:
            info = await client.get_flight_info(FlightDescriptor.for_path("t"))
            tables = await asyncio.gather(
                *(client.do_get(info.endpoints[0].ticket).read_all() for _ in range(4))
            )
            assert all(t.equals(TABLE) for t in tables)
            writer = await client.do_put(FlightDescriptor.for_path("up"), TABLE.schema)
            async with writer:
                await writer.write_table(TABLE)

    asyncio.run(main())
    assert {c.session for c in calls} == {calls[0].session}
    # Concurrent calls may carry a token an answer has just replaced; the server accepts those.
    assert all(c.presented in ("latest", "older") for c in calls[1:]), calls


def test_one_call_helpers_keep_the_session(
    server: SessionFlightServer, calls: list[SessionCall]
) -> None:
    import flightnb.polars

    table = flightnb.read_flight(server.location, path="t", token="Anonymous")
    assert table.equals(TABLE)
    _one_session(calls)
    server.sessions.reset()
    frame = flightnb.polars.read_flight(server.location, path="t", token="Anonymous")
    assert frame.to_arrow().cast(TABLE.schema).equals(TABLE)
    _one_session(server.sessions.calls)


def test_sql_client_shares_the_flight_clients_session(
    server: SessionFlightServer, calls: list[SessionCall]
) -> None:
    from flightnb.sql import FlightSqlClient

    with FlightSqlClient(server.location, token="Anonymous") as sql_client:
        flight_client = sql_client.flight_client
        _info_then_get(flight_client)
        auth.UPLOADS["DoPut"](flight_client)
    _one_session(calls)


def test_a_token_callable_logs_in_again_when_the_issued_token_expires(
    server: SessionFlightServer, calls: list[SessionCall]
) -> None:
    asked: list[int] = []

    def login() -> str:
        asked.append(1)
        return "Anonymous"

    with FlightClient(server.location, token=login) as client:
        _info_then_get(client)
        server.sessions.expire(calls[0].session)
        _info_then_get(client)  # rejected, the callable asked, the call retried
    assert len(asked) == 2
    first, second = calls[0].session, calls[-1].session
    assert first != second
    assert [c.presented for c in calls if c.session == second] == ["login", "latest"]


class _IssueAlways(paflight.ServerMiddlewareFactory):
    """Answers every call with a token of its own, and checks none."""

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> paflight.ServerMiddleware:
        return _Issued()


class _Issued(paflight.ServerMiddleware):
    def sending_headers(self) -> dict[str, str]:
        return {"authorization": "Bearer from-the-other-server"}


def test_a_token_from_an_endpoint_on_another_server_is_not_adopted(
    server: SessionFlightServer, calls: list[SessionCall]
) -> None:
    with FlightTestServer(middleware={"issue": _IssueAlways()}) as other:
        other.add_table("remote", TABLE)
        server.add_flight(
            "elsewhere", [Endpoint(b"remote", (other.location,))], schema=TABLE.schema
        )
        with FlightClient(server.location, token="Anonymous") as client:
            assert client.read_flight(FlightDescriptor.for_path("elsewhere")).equals(TABLE)
            _info_then_get(client)
    _one_session(calls)


# --- a raw server: trailers, handshakes, what goes on the wire -----------------------------


class _Recorder:
    """Records the ``authorization`` of every call; answers as its attributes say."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.token_bin: list[bytes | None] = []
        self.trailer: str | None = None  # sent as an authorization trailer by every call
        self.handshake_header: str | None = None
        self.handshake_payload: bytes = b""

    def _record(self, method: str, context: Any) -> None:
        metadata = dict(context.invocation_metadata())
        self.seen.append((method, metadata.get("authorization")))
        self.token_bin.append(metadata.get("auth-token-bin"))
        if self.trailer is not None:
            context.set_trailing_metadata((("authorization", self.trailer),))

    async def GetFlightInfo(self, request: pb.FlightDescriptor, context: Any) -> pb.FlightInfo:
        self._record("GetFlightInfo", context)
        return pb.FlightInfo(flight_descriptor=request, total_records=-1, total_bytes=-1)

    async def DoAction(self, request: pb.Action, context: Any) -> Any:
        self._record("DoAction", context)
        yield pb.Result(body=request.body)

    async def Handshake(self, requests: Any, context: Any) -> Any:
        self._record("Handshake", context)
        async for _ in requests:
            pass
        if self.handshake_header is not None:
            await context.send_initial_metadata((("authorization", self.handshake_header),))
        # Always one response: grpcio may drop the headers of a bidirectional call that ends
        # without a message (its initial-metadata batch fails once the status is in).
        yield pb.HandshakeResponse(payload=self.handshake_payload)


@pytest.fixture
def recorder() -> Iterator[tuple[str, _Recorder]]:
    backend = _Recorder()
    names = ("GetFlightInfo", "DoAction", "Handshake")
    with RawFlightServer({name: getattr(backend, name) for name in names}) as raw:
        yield raw.location, backend


def test_a_token_in_trailers_is_adopted(recorder: tuple[str, _Recorder]) -> None:
    location, backend = recorder
    backend.trailer = "Bearer from-trailer"
    with FlightClient(location) as client:
        client.get_flight_info(FlightDescriptor.for_path("t"))
        backend.trailer = "Bearer rotated"
        list(client.do_action("echo", b"x"))
        client.get_flight_info(FlightDescriptor.for_path("t"))
    assert backend.seen == [
        ("GetFlightInfo", None),
        ("DoAction", "Bearer from-trailer"),
        ("GetFlightInfo", "Bearer rotated"),
    ]


@pytest.mark.parametrize(
    ("options", "sent"),
    [
        ({"token": "abc"}, "Bearer abc"),
        ({"token": "Bearer abc"}, "Bearer abc"),
        ({"token": "Basic YTpi"}, "Basic YTpi"),
        ({"headers": {"Authorization": "Anonymous"}}, "Anonymous"),
        ({}, None),
    ],
)
def test_token_is_sent_as_adbc_sends_its_authorization_header(
    recorder: tuple[str, _Recorder], options: dict[str, Any], sent: str | None
) -> None:
    location, backend = recorder
    with FlightClient(location, **options) as client:
        client.get_flight_info(FlightDescriptor.for_path("t"))
    assert backend.seen == [("GetFlightInfo", sent)]


def test_token_and_an_authorization_header_together_are_refused() -> None:
    with pytest.raises(ValueError, match="token= or an authorization header"):
        FlightClient("grpc://127.0.0.1:1", token="a", headers={"authorization": "Bearer b"})


@pytest.mark.parametrize(
    ("header", "payload", "authorization", "token_bin"),
    [
        ("Bearer session-1", b"", "Bearer session-1", None),
        (None, b"opaque", None, b"opaque"),
        (None, b"", "Bearer key-123", None),  # a token-only server: the token stays
    ],
)
def test_token_handshake_keeps_what_the_server_returns(
    recorder: tuple[str, _Recorder],
    header: str | None,
    payload: bytes,
    authorization: str | None,
    token_bin: bytes | None,
) -> None:
    location, backend = recorder
    backend.handshake_header, backend.handshake_payload = header, payload
    with FlightClient(location) as client:
        client.handshake(token="key-123")
        client.get_flight_info(FlightDescriptor.for_path("t"))
        assert "key-123" not in repr(client) and "session-1" not in repr(client)
    assert backend.seen == [("Handshake", "Bearer key-123"), ("GetFlightInfo", authorization)]
    assert backend.token_bin == [None, token_bin]


def test_anonymous_handshake_sends_no_credential(recorder: tuple[str, _Recorder]) -> None:
    location, backend = recorder
    backend.handshake_header = "Bearer anon-session"
    with FlightClient(location) as client:
        client.handshake()
        client.get_flight_info(FlightDescriptor.for_path("t"))
    assert backend.seen == [("Handshake", None), ("GetFlightInfo", "Bearer anon-session")]


def test_anonymous_handshake_with_a_pyarrow_server(flight_server: Any) -> None:
    """pyarrow's servers accept a Handshake without credentials and return nothing."""
    with FlightClient(flight_server.location) as client:
        client.handshake()
        assert client.list_actions()
        assert "auth=none" in repr(client)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("alice",), {}, "needs a password"),
        ((), {"password": "x"}, "needs a username"),
        (("alice", "x"), {"token": "t"}, "not both"),
        ((), {"token": " "}, "non-empty"),
    ],
)
def test_handshake_bad_arguments(
    args: tuple[str, ...], kwargs: dict[str, Any], message: str
) -> None:
    with FlightClient("grpc://127.0.0.1:1") as client:
        with pytest.raises(ValueError, match=message):
            client.handshake(*args, **kwargs)


def test_a_rejected_handshake_is_unauthenticated(server: SessionFlightServer) -> None:
    with FlightClient(server.location) as client:
        with pytest.raises(flightnb.FlightUnauthenticatedError):
            client.handshake(token="wrong")


def test_handshake_opens_the_session_later_calls_use(
    server: SessionFlightServer, calls: list[SessionCall]
) -> None:
    with FlightClient(server.location) as client:
        client.handshake(token="Anonymous")
        _info_then_get(client)
    _one_session(calls)
    assert calls[0].method == "HANDSHAKE"

"""Token refresh on UNAUTHENTICATED, and session cookies kept across every kind of call.

Servers here are small ``pyarrow.flight`` servers (Arrow C++ underneath, like real Flight
services) plus one raw grpc.aio server for cookies that only arrive in trailers.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from raw_server import RawFlightServer

import flightnb
from flightnb import AsyncFlightClient, FlightClient, FlightDescriptor
from flightnb._proto import Flight_pb2 as pb
from flightnb.codec import FlightDataEncoder
from flightnb.transport.calls import REPLAY_LIMIT_BYTES

TABLE = pa.table({"n": pa.array(range(100), pa.int64())})


def _header(headers: dict[str, list[Any]], name: str) -> str | None:
    values = headers.get(name) or []
    if not values:
        return None
    value = values[0]
    return value.decode() if isinstance(value, bytes) else str(value)


class _Service(paflight.FlightServerBase):
    """Serves TABLE as flight ``t`` (ticket ``t``); ticket ``fail_after_data`` sends one
    batch and then fails UNAUTHENTICATED; action ``echo`` echoes."""

    def get_flight_info(self, context: Any, descriptor: Any) -> paflight.FlightInfo:
        endpoint = paflight.FlightEndpoint(b"t", [])
        return paflight.FlightInfo(TABLE.schema, descriptor, [endpoint], TABLE.num_rows, -1)

    def get_schema(self, context: Any, descriptor: Any) -> paflight.SchemaResult:
        return paflight.SchemaResult(TABLE.schema)

    def list_flights(self, context: Any, criteria: bytes) -> Iterator[paflight.FlightInfo]:
        yield self.get_flight_info(context, paflight.FlightDescriptor.for_path("t"))

    def do_get(self, context: Any, ticket: paflight.Ticket) -> paflight.FlightDataStream:
        if ticket.ticket == b"fail_after_data":

            def generate() -> Iterator[pa.RecordBatch]:
                yield from TABLE.to_batches()
                raise paflight.FlightUnauthenticatedError("token expired mid-stream")

            return paflight.GeneratorStream(TABLE.schema, generate())
        return paflight.RecordBatchStream(TABLE)

    def do_action(self, context: Any, action: paflight.Action) -> Iterator[bytes]:
        return iter([action.body.to_pybytes()])

    def list_actions(self, context: Any) -> list[tuple[str, str]]:
        return [("echo", "returns the body")]

    def do_put(self, context: Any, descriptor: Any, reader: Any, writer: Any) -> None:
        rows = reader.read_all().num_rows
        writer.write(pa.py_buffer(str(rows).encode()))

    def do_exchange(self, context: Any, descriptor: Any, reader: Any, writer: Any) -> None:
        writer.begin(reader.schema)
        for chunk in reader:
            writer.write_batch(chunk.data)


# --- token refresh -----------------------------------------------------------------------


class _ExpiringTokens(paflight.ServerMiddlewareFactory):
    """Accepts only the bearer tokens in ``valid``; counts rejections per method."""

    def __init__(self) -> None:
        super().__init__()
        self.valid: set[str] = set()
        self.rejected: Counter[str] = Counter()
        self._lock = threading.Lock()

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> None:
        authorization = _header(headers, "authorization") or ""
        with self._lock:
            if authorization.removeprefix("Bearer ") in self.valid:
                return None
            self.rejected[str(info.method).rsplit(".", 1)[-1]] += 1
        raise paflight.FlightUnauthenticatedError("token expired")


@pytest.fixture(scope="module")
def expiring_server() -> Iterator[tuple[str, _ExpiringTokens]]:
    tokens = _ExpiringTokens()
    server = _Service("grpc://127.0.0.1:0", middleware={"auth": tokens})
    try:
        yield f"grpc://127.0.0.1:{server.port}", tokens
    finally:
        server.shutdown()


class _TokenSource:
    """A token callable handing out ``tokens`` in turn (the last one forever); counts calls."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.tokens[min(self.calls, len(self.tokens)) - 1]


@pytest.fixture
def tokens(expiring_server: tuple[str, _ExpiringTokens]) -> _ExpiringTokens:
    server_tokens = expiring_server[1]
    server_tokens.valid = {"new"}
    server_tokens.rejected.clear()
    return server_tokens


def _put(client: FlightClient) -> None:
    with client.do_put(FlightDescriptor.for_path("up"), TABLE.schema) as writer:
        writer.write_table(TABLE)
    assert writer.results in ([], [str(TABLE.num_rows).encode()])  # _CookieService: none


def _exchange(client: FlightClient) -> None:
    with client.do_exchange(FlightDescriptor.for_path("x")) as exchange:
        exchange.write_table(TABLE)
        exchange.done_writing()
        assert exchange.read_all().equals(TABLE)


CALLS = {
    "GetFlightInfo": lambda c: c.get_flight_info(FlightDescriptor.for_path("t")),
    "GetSchema": lambda c: c.get_schema(FlightDescriptor.for_path("t")),
    "ListFlights": lambda c: list(c.list_flights()),
    "DoAction": lambda c: list(c.do_action("echo", b"hi")),
    "ListActions": lambda c: c.list_actions(),
    "DoGet": lambda c: c.do_get(b"t").read_all(),
}
UPLOADS = {"DoPut": _put, "DoExchange": _exchange}


@pytest.mark.parametrize("method", [*CALLS, *UPLOADS])
def test_expired_token_is_refreshed_once_and_the_call_retried(
    expiring_server: tuple[str, _ExpiringTokens], tokens: _ExpiringTokens, method: str
) -> None:
    location = expiring_server[0]
    source = _TokenSource("old", "new")
    call = {**CALLS, **UPLOADS}[method]
    # An upload whose write raced the rejection asks the server once more without data (grpcio
    # lost the status): one more rejection of the same token, never data sent twice.
    probes = (0, 1) if method in UPLOADS else (0,)
    with FlightClient(location, token=source) as client:
        call(client)  # "old" is refused, "new" accepted
        assert source.calls == 2
        assert tokens.rejected[_pyarrow_method(method)] - 1 in probes
        rejected = tokens.rejected[_pyarrow_method(method)]
        call(client)  # "new" is kept
        assert source.calls == 2
        # The server expires "new": the next call refreshes again, once.
        tokens.valid = {"newer"}
        source.tokens.append("newer")
        call(client)
        assert source.calls == 3
        assert tokens.rejected[_pyarrow_method(method)] - rejected - 1 in probes
        assert "newer" not in repr(client) and "auth=token" in repr(client)


def _pyarrow_method(method: str) -> str:
    """pyarrow's FlightMethod name for an RPC name (GetFlightInfo -> GET_FLIGHT_INFO)."""
    return "".join(f"_{ch}" if ch.isupper() else ch.upper() for ch in method).lstrip("_")


def test_a_second_rejection_is_raised(
    expiring_server: tuple[str, _ExpiringTokens], tokens: _ExpiringTokens
) -> None:
    source = _TokenSource("bad")
    with FlightClient(expiring_server[0], token=source) as client:
        for method, call in CALLS.items():
            before = source.calls
            with pytest.raises(flightnb.FlightUnauthenticatedError, match="token expired"):
                call(client)
            assert source.calls - before in (1, 2), method  # 2 on the very first call
            assert tokens.rejected[_pyarrow_method(method)] == 2, method
    assert source.calls == len(CALLS) + 1


@pytest.mark.parametrize("method", list(UPLOADS))
def test_a_second_rejection_of_an_upload_is_raised(
    expiring_server: tuple[str, _ExpiringTokens], tokens: _ExpiringTokens, method: str
) -> None:
    source = _TokenSource("bad")
    with FlightClient(expiring_server[0], token=source) as client:
        with pytest.raises(flightnb.FlightUnauthenticatedError, match="token expired"):
            UPLOADS[method](client)
    assert source.calls == 2  # the first token, one refresh
    # Two calls, and at most one data-free probe after each lost status.
    assert 2 <= tokens.rejected[_pyarrow_method(method)] <= 4


def test_no_retry_after_data_arrived(
    expiring_server: tuple[str, _ExpiringTokens], tokens: _ExpiringTokens
) -> None:
    source = _TokenSource("new")
    with FlightClient(expiring_server[0], token=source) as client:
        reader = client.do_get(b"fail_after_data")
        with pytest.raises(flightnb.FlightUnauthenticatedError, match="mid-stream"):
            reader.read_all()
    assert source.calls == 1


def test_an_upload_too_big_to_replay_is_not_retried(
    expiring_server: tuple[str, _ExpiringTokens], tokens: _ExpiringTokens
) -> None:
    # A first message larger than what the seam holds for a replay: the rejection is raised,
    # nothing is sent twice.
    source = _TokenSource("old", "new")
    with FlightClient(expiring_server[0], token=source) as client:
        with pytest.raises(flightnb.FlightUnauthenticatedError, match="token expired"):
            with client.do_put(FlightDescriptor.for_path("up")) as writer:
                writer.write_metadata(b"x" * (REPLAY_LIMIT_BYTES + 1))
    assert source.calls == 1
    assert tokens.rejected["DO_PUT"] in (1, 2)  # the call, and a data-free probe if it raced


def test_without_a_token_callable_nothing_is_retried(
    expiring_server: tuple[str, _ExpiringTokens], tokens: _ExpiringTokens
) -> None:
    with FlightClient(expiring_server[0], token="old") as client:
        with pytest.raises(flightnb.FlightUnauthenticatedError):
            client.get_flight_info(FlightDescriptor.for_path("t"))
        with pytest.raises(flightnb.FlightUnauthenticatedError):
            client.do_get(b"t").read_all()
    assert tokens.rejected == Counter({"GET_FLIGHT_INFO": 1, "DO_GET": 1})


def test_async_token_callable_and_one_refresh_for_concurrent_calls(
    expiring_server: tuple[str, _ExpiringTokens], tokens: _ExpiringTokens
) -> None:
    handed_out = ["old", "new"]
    calls = 0

    async def fetch_token() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)  # a slow token service: rejected calls queue behind it
        return handed_out[min(calls, len(handed_out)) - 1]

    async def main() -> list[Any]:
        async with AsyncFlightClient(expiring_server[0], token=fetch_token) as client:
            await client.list_actions()  # the first token ("old"), then one refresh
            assert calls == 2
            tokens.valid = {"newer"}
            handed_out.append("newer")
            # Ten calls rejected with the same token share one refresh.
            results = await asyncio.gather(
                *(client.get_flight_info(FlightDescriptor.for_path("t")) for _ in range(5)),
                *(client.do_get(b"t").read_all() for _ in range(5)),
            )
            assert calls == 3
            return results

    results = asyncio.run(main())
    assert results[-1].equals(TABLE)
    assert tokens.rejected["GET_FLIGHT_INFO"] + tokens.rejected["DO_GET"] == 10


def test_token_callable_returning_nothing_is_an_auth_error(
    expiring_server: tuple[str, _ExpiringTokens], tokens: _ExpiringTokens
) -> None:
    with FlightClient(expiring_server[0], token=lambda: "") as client:
        with pytest.raises(flightnb.FlightUnauthenticatedError, match="returned no token"):
            client.list_actions()


# --- session cookies ---------------------------------------------------------------------


class _SetCookie(paflight.ServerMiddleware):
    def __init__(self, session: str) -> None:
        self.session = session

    def sending_headers(self) -> dict[str, str]:
        return {"set-cookie": f"session={self.session}; Path=/; HttpOnly"}


class _SessionCookies(paflight.ServerMiddlewareFactory):
    """Sets a session cookie on the first call; every later call must send it back."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.session: str | None = None
            self.calls: list[tuple[str, str | None]] = []

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> _SetCookie | None:
        cookie = _header(headers, "cookie")
        method = str(info.method).rsplit(".", 1)[-1]
        with self._lock:
            self.calls.append((method, cookie))
            if self.session is None:
                self.session = secrets.token_hex(8)
                return _SetCookie(self.session)
            if cookie is None or f"session={self.session}" not in cookie.split("; "):
                raise paflight.FlightUnauthenticatedError(f"{method} came without the cookie")
        return None


class _CookieService(_Service):
    def get_flight_info(self, context: Any, descriptor: Any) -> paflight.FlightInfo:
        if descriptor.path == [b"missing"]:
            raise KeyError("no flight named missing")
        return super().get_flight_info(context, descriptor)

    def do_put(self, context: Any, descriptor: Any, reader: Any, writer: Any) -> None:
        reader.read_all()

    def do_exchange(self, context: Any, descriptor: Any, reader: Any, writer: Any) -> None:
        writer.begin(reader.schema)
        for chunk in reader:
            writer.write_batch(chunk.data)


@pytest.fixture(scope="module")
def cookie_server() -> Iterator[tuple[str, _SessionCookies]]:
    cookies = _SessionCookies()
    server = _CookieService("grpc://127.0.0.1:0", middleware={"session": cookies})
    try:
        yield f"grpc://127.0.0.1:{server.port}", cookies
    finally:
        server.shutdown()


def _not_found(client: FlightClient) -> None:
    with pytest.raises(flightnb.FlightNotFoundError):
        client.get_flight_info(FlightDescriptor.for_path("missing"))


COOKIE_CALLS = {**CALLS, **UPLOADS, "GetFlightInfo (NOT_FOUND)": _not_found}


@pytest.mark.parametrize(
    "first", ["GetFlightInfo", "DoGet", "DoAction", "ListFlights", "DoPut", "DoExchange"]
)
def test_session_cookie_is_kept_and_sent_by_every_call(
    cookie_server: tuple[str, _SessionCookies], first: str
) -> None:
    location, cookies = cookie_server
    cookies.reset()
    with FlightClient(location) as client:
        COOKIE_CALLS[first](client)  # the server sets the cookie here
        for call in COOKIE_CALLS.values():
            call(client)
        # A client of its own has no cookie: the server refuses it.
        with FlightClient(location) as stranger:
            with pytest.raises(flightnb.FlightUnauthenticatedError, match="without the cookie"):
                stranger.get_flight_info(FlightDescriptor.for_path("t"))
        assert "session" in repr(client.async_client._calls.cookies)
        assert cookies.session is not None and cookies.session not in repr(client)
    sent = [cookie for _, cookie in cookies.calls]
    assert sent[0] is None
    assert all(c == f"session={cookies.session}" for c in sent[1:-1]), cookies.calls
    assert {m for m, _ in cookies.calls} >= {
        "GET_FLIGHT_INFO", "GET_SCHEMA", "DO_GET", "DO_ACTION", "DO_PUT", "DO_EXCHANGE",
        "LIST_FLIGHTS", "LIST_ACTIONS",
    }  # fmt: skip


def test_cookie_set_by_a_rejected_first_call_is_kept(
    cookie_server: tuple[str, _SessionCookies],
) -> None:
    location, cookies = cookie_server
    cookies.reset()
    with FlightClient(location) as client:
        with pytest.raises(flightnb.FlightNotFoundError):
            client.get_flight_info(FlightDescriptor.for_path("missing"))
        client.do_get(b"t").read_all()
    assert [c for _, c in cookies.calls] == [None, f"session={cookies.session}"]


def _flight_data(table: pa.Table) -> list[pb.FlightData]:
    encoder = FlightDataEncoder(table.schema)
    messages = [encoder.schema_message(), *encoder.encode_table(table)]
    return [pb.FlightData.FromString(m) for m in messages]


class _TrailerCookies:
    """A raw grpc server whose calls set cookies only in their trailers."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def _cookie(self, method: str, context: Any) -> None:
        cookie = dict(context.invocation_metadata()).get("cookie", "")
        self.seen.append((method, cookie))

    async def DoGet(self, request: pb.Ticket, context: Any) -> Any:
        self._cookie("DoGet", context)
        context.set_trailing_metadata((("set-cookie", "get=1; Path=/"),))
        for message in _flight_data(TABLE):
            yield message

    async def GetFlightInfo(self, request: pb.FlightDescriptor, context: Any) -> pb.FlightInfo:
        self._cookie("GetFlightInfo", context)
        if list(request.path) == ["missing"]:
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                "no such flight",
                trailing_metadata=(("set-cookie", "failed=3; Path=/"),),
            )
        context.set_trailing_metadata((("set-cookie", "info=2; Path=/"),))
        return pb.FlightInfo(flight_descriptor=request, total_records=-1, total_bytes=-1)

    async def DoAction(self, request: pb.Action, context: Any) -> Any:
        self._cookie("DoAction", context)
        context.set_trailing_metadata((("set-cookie", "get=; Max-Age=0"),))
        yield pb.Result(body=request.body)


def test_cookies_in_trailers_are_kept() -> None:
    backend = _TrailerCookies()
    handlers = {name: getattr(backend, name) for name in ("DoGet", "GetFlightInfo", "DoAction")}
    with RawFlightServer(handlers) as server:
        with FlightClient(server.location) as client:
            assert client.do_get(b"t").read_all().equals(TABLE)
            client.get_flight_info(FlightDescriptor.for_path("t"))
            with pytest.raises(flightnb.FlightNotFoundError):
                client.get_flight_info(FlightDescriptor.for_path("missing"))
            list(client.do_action("echo", b"x"))  # deletes cookie "get"
            client.do_get(b"t").read_all()
    assert backend.seen == [
        ("DoGet", ""),
        ("GetFlightInfo", "get=1"),
        ("GetFlightInfo", "get=1; info=2"),
        ("DoAction", "get=1; info=2; failed=3"),
        ("DoGet", "info=2; failed=3"),
    ]

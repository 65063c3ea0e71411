"""``flightnb doctor`` against pyarrow.flight servers and flightnb's own server.

Every verdict the doctor gives is checked against an independent client (pyarrow.flight,
ADBC, or raw gRPC), and every server is checked to be unchanged afterwards.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from bearer import adbc_connect
from flight_servers import FlightTestServer, populate

from flightnb._proto import Flight_pb2 as pb
from flightnb.doctor import Diagnosis, Failure, Status, diagnose, render_text
from flightnb.errors import FlightArgumentError
from flightnb.server import FlightSqlServer

SERVICE = "/arrow.flight.protocol.FlightService/"
PATH = pb.FlightDescriptor(type=pb.FlightDescriptor.PATH, path=["x"]).SerializeToString()


def raw_status(
    location: str, method: str, request: bytes, *, stream: bool, token: str | None = None
) -> grpc.StatusCode:
    """The status one raw gRPC call ends with (an independent check of the doctor)."""
    target = location.removeprefix("grpc://")
    metadata = [("authorization", f"Bearer {token}")] if token else []
    with grpc.insecure_channel(target) as channel:
        try:
            if stream:
                call = channel.unary_stream(SERVICE + method)
                list(call(request, timeout=10, metadata=metadata))
            else:
                channel.unary_unary(SERVICE + method)(request, timeout=10, metadata=metadata)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def statuses(diagnosis: Diagnosis) -> dict[str, Status]:
    return {check.name: check.status for check in diagnosis.checks}


# --- a plain pyarrow.flight server ---------------------------------------------------------


def test_plain_flight_server(flight_server: FlightTestServer) -> None:
    uploads, tables = dict(flight_server.uploads), sorted(flight_server._tables)
    diagnosis = diagnose(flight_server.location)
    assert diagnosis.answered and diagnosis.auth == "none" and diagnosis.reason == ""
    client = flight.connect(flight_server.location)
    try:
        listed = list(client.list_flights())
        actions = sorted(a.type for a in client.list_actions())
        with pytest.raises(pa.ArrowNotImplementedError):
            list(client.do_action(flight.Action("CancelFlightInfo", b"")))
    finally:
        client.close()
    assert diagnosis.check("ListFlights").detail.startswith(f"{min(len(listed), 100)} flights")
    assert diagnosis.check("ListActions").detail == f"{len(actions)}: {', '.join(actions)}"
    found = statuses(diagnosis)
    for name in ("ListFlights", "GetFlightInfo", "GetSchema", "DoGet", "DoExchange"):
        assert found[name] is Status.YES, name
    for name in ("PollFlightInfo", "CancelFlightInfo", "RenewFlightEndpoint", "GetSqlInfo"):
        assert found[name] is Status.NO, name
    assert raw_status(flight_server.location, "PollFlightInfo", PATH, stream=False) == (
        grpc.StatusCode.UNIMPLEMENTED
    )
    assert found["DoPut"] is Status.SKIPPED and "narrow" in diagnosis.check("DoPut").fallback
    assert not diagnosis.speaks_flight_sql
    # No Flight SQL rows beyond the verdict, and every gap says what flightnb does.
    assert "parameter binding" not in found
    assert all(check.fallback for check in diagnosis.gaps)
    # The probes wrote nothing and dropped nothing.
    assert flight_server.uploads == uploads and sorted(flight_server._tables) == tables


def test_the_table_has_one_row_per_check(flight_server: FlightTestServer) -> None:
    diagnosis = diagnose(flight_server.location)
    text = render_text(diagnosis)
    lines = text.splitlines()
    assert lines[0].startswith(f"flightnb doctor {flight_server.location} (auth: none;")
    assert lines[1].split() == ["group", "check", "status", "detail", "flightnb", "does"]
    column = lines[1].index("check")
    starts = [line[column:].split()[0] for line in lines[3:] if line[:1] != " "]
    assert starts == [check.name.split()[0] for check in diagnosis.checks]


def test_basic_handshake_and_the_password_never_shown(
    auth_flight_server: FlightTestServer,
) -> None:
    diagnosis = diagnose(auth_flight_server.location, username="alice", password="wonderland")
    assert diagnosis.answered and diagnosis.auth == "basic handshake"
    assert diagnosis.check("Handshake").status is Status.YES
    assert diagnosis.supports("ListFlights") is True
    shown = render_text(diagnosis) + str(diagnosis.to_dict()) + repr(diagnosis)
    assert "wonderland" not in shown


@pytest.mark.parametrize(
    ("options", "hint"),
    [
        ({}, "it wants credentials"),
        ({"token": "not-a-token-4f2a"}, "check the credentials"),
        ({"username": "alice", "password": "not-her-password"}, "refused the login of 'alice'"),
    ],
)
def test_refused_logins_are_a_failure_not_an_exception(
    auth_flight_server: FlightTestServer, options: dict[str, str], hint: str
) -> None:
    diagnosis = diagnose(auth_flight_server.location, **options)
    assert diagnosis.failure is Failure.AUTH and not diagnosis.answered
    assert hint in diagnosis.reason and "\n" not in diagnosis.reason
    for secret in ("not-a-token-4f2a", "not-her-password"):
        assert secret not in diagnosis.reason + render_text(diagnosis)


class _EchoingTokenRejecter(flight.ServerMiddlewareFactory):
    """Rejects every call, quoting the credential it got (as careless servers do)."""

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> None:
        got = (headers.get("authorization") or [""])[0]
        raise flight.FlightUnauthenticatedError(f"rejected {got} and x-key {headers.get('x-key')}")


def test_secrets_a_server_echoes_are_redacted() -> None:
    server = flight.FlightServerBase(
        "grpc://127.0.0.1:0", middleware={"reject": _EchoingTokenRejecter()}
    )
    try:
        diagnosis = diagnose(
            f"grpc://127.0.0.1:{server.port}",
            token="s3cret-token-9d1",
            headers={"x-key": "header-secret-77"},
        )
    finally:
        server.shutdown()
    assert diagnosis.failure is Failure.AUTH
    assert "Bearer ***" in diagnosis.reason and "***" in diagnosis.reason
    assert "s3cret-token-9d1" not in diagnosis.reason
    assert "header-secret-77" not in diagnosis.reason


class _RotatingToken(flight.ServerMiddleware):
    def __init__(self, token: str) -> None:
        self.token = token

    def sending_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


class _RotatingTokens(flight.ServerMiddlewareFactory):
    """Answers every call with a new bearer token, as session servers do."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: list[str] = []
        self._lock = threading.Lock()

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> _RotatingToken:
        with self._lock:
            self.issued.append(f"session-{len(self.issued)}-7c1e5a")
            return _RotatingToken(self.issued[-1])


def test_tokens_the_server_issues_are_noticed_and_hidden() -> None:
    tokens = _RotatingTokens()
    server = FlightTestServer()
    rotating = flight.FlightServerBase("grpc://127.0.0.1:0", middleware={"session": tokens})
    try:
        rotating_diagnosis = diagnose(f"grpc://127.0.0.1:{rotating.port}")
        plain_diagnosis = diagnose(server.location)
    finally:
        rotating.shutdown()
        server.shutdown()
    issued = rotating_diagnosis.check("issued tokens")
    assert issued.status is Status.YES and "(rotated)" in issued.detail
    assert "sent on the next call" in issued.fallback
    shown = render_text(rotating_diagnosis) + str(rotating_diagnosis.to_dict())
    assert tokens.issued and not any(token in shown for token in tokens.issued)
    assert plain_diagnosis.check("issued tokens").status is Status.NO


def test_unreachable_server_is_a_failure() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    diagnosis = diagnose(f"grpc://127.0.0.1:{port}", timeout=5)
    assert diagnosis.failure is Failure.UNREACHABLE
    assert diagnosis.reason.startswith(f"cannot reach grpc://127.0.0.1:{port} (UNAVAILABLE")


def test_a_server_that_never_answers_is_bounded() -> None:
    """A socket that accepts but never speaks: the first probe's deadline ends the wait."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        diagnosis = diagnose(f"grpc://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
    assert diagnosis.failure is Failure.UNREACHABLE
    assert "DEADLINE_EXCEEDED" in diagnosis.reason


class _HangingActions(FlightTestServer):
    """ListActions waits until released: one probe that never answers in time."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def list_actions(self, context: Any) -> list[tuple[str, str]]:
        self.release.wait(60)
        return super().list_actions(context)


@pytest.fixture
def hanging_server() -> Iterator[_HangingActions]:
    server = _HangingActions()
    populate(server)
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()


def test_a_probe_that_hangs_is_a_row(hanging_server: _HangingActions) -> None:
    diagnosis = diagnose(hanging_server.location, timeout=0.5)
    assert diagnosis.answered
    hung = diagnosis.check("ListActions")
    assert hung.status is Status.UNKNOWN and "DEADLINE_EXCEEDED" in hung.detail
    assert diagnosis.supports("ListFlights") is True and diagnosis.supports("DoGet") is True


def test_a_bad_location_is_a_typed_error() -> None:
    with pytest.raises(FlightArgumentError, match="scheme"):
        diagnose("http://127.0.0.1:1")


# --- flightnb's own Flight SQL server -------------------------------------------------------


def test_own_server(own_server: FlightSqlServer) -> None:
    pytest.importorskip("adbc_driver_flightsql.dbapi")
    with adbc_connect(own_server, autocommit=True) as conn:
        tables_before = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
        diagnosis = diagnose(own_server.location)
        info = conn.adbc_get_info()
        with conn.cursor() as cursor:
            cursor.execute("SELECT ?", (41,))
            bound = cursor.fetchall()
        tables_after = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
    assert diagnosis.answered and diagnosis.speaks_flight_sql
    # flightnb found the token of this user's own server; the table never shows it.
    assert diagnosis.auth == "this user's local server token"
    assert own_server.token and own_server.token not in render_text(diagnosis)
    found = statuses(diagnosis)
    expected_yes = [
        "ListFlights",
        "GetFlightInfo",
        "GetSchema",
        "DoGet",
        "ListActions",
        "CancelFlightInfo",
        "SQL query",
        "GetSchema (query)",
        "prepared statements",
        "dataset_schema",
        "parameter binding",
        "transactions",
        "GetTables",
    ]
    for name in expected_yes:
        assert found[name] is Status.YES, (name, diagnosis.check(name))
    for name in ("PollFlightInfo", "DoExchange", "RenewFlightEndpoint", "GetSessionOptions"):
        assert found[name] is Status.NO, name
    # What ADBC reads from the same server agrees.
    assert bound == [(41,)]
    assert diagnosis.check("server").detail.startswith(info["vendor_name"])
    assert diagnosis.check("Arrow version").detail == info["vendor_arrow_version"] == pa.__version__
    status = raw_status(
        own_server.location, "PollFlightInfo", PATH, stream=False, token=own_server.token
    )
    assert status == grpc.StatusCode.UNIMPLEMENTED
    # Read-only probes: the same tables before and after.
    assert tables_after == tables_before


def test_own_server_trips_unchanged(own_server: FlightSqlServer) -> None:
    pytest.importorskip("adbc_driver_flightsql.dbapi")
    with adbc_connect(own_server, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(trip_id) FROM trips")
        before = cursor.fetchall()
        diagnose(own_server.location)
        cursor.execute("SELECT count(*), sum(trip_id) FROM trips")
        assert cursor.fetchall() == before

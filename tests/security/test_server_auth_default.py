"""The embedded server lets in its owner, without handing over a token, and nobody else.

As a stranger on the same host: every call without the token, or with a wrong one, is refused;
a stale runtime file, or a port another user listens on, gets no token from the owner's
clients. As the owner: flightnb clients find the token; pyarrow.flight and ADBC pass it as a
bearer header; Basic logins earn a session token. Beyond loopback the server refuses to start
without TLS and credentials.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from adbc_driver_flightsql import dbapi
from bearer import BearerFactory, adbc_connect, pyarrow_client
from certificates import issue, make_ca

import flightnb
from flightnb import FlightClient, FlightSqlClient
from flightnb.errors import FlightUnauthenticatedError
from flightnb.runtime_files import read_entries, runtime_dir, write_entry
from flightnb.server import FlightSqlServer, serve
from flightnb.transport.locations import parse_location
from flightnb.transport.runtime_tokens import runtime_token_source


@pytest.fixture(scope="module")
def server() -> Iterator[FlightSqlServer]:
    server = FlightSqlServer(sample_size=100)
    try:
        yield server
    finally:
        server.shutdown()


def _every_call(client: paflight.FlightClient, options: paflight.FlightCallOptions) -> list[Any]:
    descriptor = paflight.FlightDescriptor.for_path("trips")
    calls = [
        lambda: client.list_actions(options),
        lambda: list(client.list_flights(options=options)),
        lambda: client.get_flight_info(descriptor, options),
        lambda: client.get_schema(descriptor, options),
        lambda: client.do_get(paflight.Ticket(b"trips"), options).read_all(),
        lambda: list(client.do_action(paflight.Action("BeginTransaction", b""), options)),
    ]

    def put() -> None:
        table = pa.table({"n": [1]})
        writer, _ = client.do_put(paflight.FlightDescriptor.for_path("put"), table.schema, options)
        writer.write_table(table)
        writer.close()

    return [*calls, put]


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic YWxpY2U6d3Jvbmc="])
def test_strangers_are_refused_every_call(server: FlightSqlServer, header: str | None) -> None:
    client = paflight.connect(server.location)
    headers = [(b"authorization", header.encode())] if header else []
    options = paflight.FlightCallOptions(headers=headers)
    try:
        for call in _every_call(client, options):
            # pyarrow reports a DoPut's status as a plain OSError when its writer closes.
            with pytest.raises((paflight.FlightUnauthenticatedError, OSError)) as info:
                call()
            assert "unauthenticated" in str(info.value)
            assert "wrong-token" not in str(info.value)
    finally:
        client.close()
    assert "put" not in {row[0] for row in server.database.execute("SHOW TABLES").fetchall()}


def test_the_owner_gets_in_without_handing_over_a_token(server: FlightSqlServer) -> None:
    for location in (server.location, server.location.replace("127.0.0.1", "localhost")):
        with FlightSqlClient(location) as sql:
            assert sql.query("SELECT count(*) AS c FROM trips").column("c").to_pylist() == [100]
    table = flightnb.read_flight(server.location, path="trips", progress=False)
    assert table.num_rows == 100


def test_other_clients_pass_the_token_as_a_bearer_header(server: FlightSqlServer) -> None:
    client = pyarrow_client(server)
    try:
        assert client.do_get(paflight.Ticket(b"trips")).read_all().num_rows == 100
    finally:
        client.close()
    with adbc_connect(server, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM trips")
        assert cursor.fetchone() == (100,)


def test_an_explicit_token_is_used_as_given(server: FlightSqlServer) -> None:
    with FlightClient(server.location, token="not-the-token") as client:
        with pytest.raises(FlightUnauthenticatedError):
            client.list_actions()


def test_the_runtime_file_is_private_and_goes_with_the_server() -> None:
    server = FlightSqlServer()
    path = server.runtime_file
    assert path is not None
    try:
        info = path.stat()
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == os.getuid()
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert str(os.getpid()) in path.name
        assert server.token is not None and server.token in path.read_text()
        assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    finally:
        server.shutdown()
    assert not path.exists()


def test_files_of_dead_servers_are_cleared_by_the_next_server() -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    stale = runtime_dir() / f"flightnb-server-{int(dead.stdout)}-0000.json"
    fd = os.open(stale, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    server = FlightSqlServer()
    try:
        assert not stale.exists()
    finally:
        server.shutdown()


def test_a_file_for_a_dead_server_is_not_believed(tmp_path: Path) -> None:
    """A server that died without removing its file: its port may be anyone's now."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    with socket.socket() as listener:  # the port, bound again by whoever came next
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        path = write_entry(kind="tcp", host="127.0.0.1", port=port, token="canary-stale")
        try:
            entry_pid = int(dead.stdout)
            path.write_text(path.read_text().replace(str(os.getpid()), str(entry_pid)))
            assert runtime_token_source(parse_location(f"grpc://127.0.0.1:{port}")) is None
            client = FlightClient(f"grpc://127.0.0.1:{port}")
            assert "auth=none" in repr(client)
            client.close()
        finally:
            path.unlink()


def _listen_as_nobody(host: str, port: int) -> subprocess.Popen[str]:
    """A listener of another OS user on ``host:port``; it prints a line once it listens."""
    code = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        f"s = socket.socket(socket.AF_INET6 if ':' in {host!r} else socket.AF_INET)\n"
        f"s.bind(({host!r}, {port})); s.listen(); print('listening', flush=True)\n"
        "sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "listening"
    return process


needs_root = pytest.mark.skipif(
    os.getuid() != 0 or not Path("/proc/net/tcp").exists(),
    reason="needs root (to listen as another user) and /proc/net",
)


@needs_root
def test_no_token_for_a_port_another_user_listens_on() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stranger = _listen_as_nobody("127.0.0.1", port)
    path = write_entry(kind="tcp", host="127.0.0.1", port=port, token="canary-harvest")
    try:
        # The file is ours and its process (this one) is alive: only the listener gives it away.
        assert runtime_token_source(parse_location(f"grpc://127.0.0.1:{port}")) is None
    finally:
        path.unlink()
        stranger.kill()
        stranger.communicate()


@needs_root
def test_no_token_when_another_user_listens_beside_the_server(server: FlightSqlServer) -> None:
    """``localhost`` may mean ::1: a stranger there, beside the owner's 127.0.0.1, gets nothing."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        stranger = _listen_as_nobody("::1", server.port)
    except AssertionError:
        pytest.skip("cannot bind ::1 here")
    try:
        target = parse_location(f"grpc://localhost:{server.port}")
        assert runtime_token_source(target) is None
    finally:
        stranger.kill()
        stranger.communicate()
    assert runtime_token_source(parse_location(server.location)) is not None


def test_a_unix_socket_server_is_found(tmp_path: Path) -> None:
    socket_path = tmp_path / "flight.sock"
    server = FlightSqlServer(f"grpc+unix://{socket_path}", sample_size=10)
    try:
        with FlightSqlClient(server.location) as sql:
            assert sql.query("SELECT count(*) AS c FROM trips").column("c").to_pylist() == [10]
    finally:
        server.shutdown()


def test_a_restarted_server_is_found_again() -> None:
    """A client made for one server keeps working when it comes back with a new token."""
    first = FlightSqlServer(sample_size=5)
    port = first.port
    client = FlightClient(first.location)
    try:
        assert client.do_get(b"trips").read_all().num_rows == 5
        first.shutdown()
        second = FlightSqlServer(f"grpc://127.0.0.1:{port}", sample_size=7)
        try:
            assert client.do_get(b"trips").read_all().num_rows == 7
        finally:
            second.shutdown()
    finally:
        client.close()


def test_basic_logins_earn_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    password = secrets.token_urlsafe(12)
    server = FlightSqlServer(sample_size=10, basic_auth=("alice", password))
    try:
        assert server.token is None and server.runtime_file is None
        with FlightClient(server.location) as client:
            with pytest.raises(FlightUnauthenticatedError):
                client.list_actions()
            client.handshake("alice", password)
            assert client.do_get(b"trips").read_all().num_rows == 10
        with FlightClient(server.location) as client:
            with pytest.raises(FlightUnauthenticatedError) as info:
                client.handshake("alice", "wrong")
            assert "wrong" not in str(info.value).replace("wrong user name", "")
        raw = paflight.connect(server.location)
        try:
            header = raw.authenticate_basic_token("alice", password)
            token = header[1].decode().removeprefix("Bearer ")
            options = paflight.FlightCallOptions(headers=[header])
            assert raw.do_get(paflight.Ticket(b"trips"), options).read_all().num_rows == 10
        finally:
            raw.close()
        bearer = paflight.connect(server.location, middleware=[BearerFactory(token)])
        try:
            assert len(bearer.list_actions()) > 0
        finally:
            bearer.close()
        login = {"username": "alice", "password": password}  # Basic without base64 padding
        with dbapi.connect(server.location, db_kwargs=login, autocommit=True) as conn:
            with conn.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM trips")
                assert cursor.fetchone() == (10,)
    finally:
        server.shutdown()


def test_no_auth_only_on_loopback_and_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="without a token"):
        server = FlightSqlServer(auth=False, sample_size=3)
    try:
        assert server.runtime_file is None
        client = paflight.connect(server.location)
        try:
            assert client.do_get(paflight.Ticket(b"trips")).read_all().num_rows == 3
        finally:
            client.close()
    finally:
        server.shutdown()
    with pytest.raises(ValueError, match="beyond this host"):
        FlightSqlServer("grpc://0.0.0.0:0", auth=False)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({}, "without TLS"),
        ({"token": "t0ken"}, "without TLS"),
        ({"tls": True}, "without authentication"),
    ],
)
def test_beyond_loopback_needs_tls_and_credentials(options: dict[str, Any], reason: str) -> None:
    kwargs: dict[str, Any] = {"token": options.get("token")}
    location = "grpc://0.0.0.0:0"
    if options.get("tls"):
        _ca, ca_cert, ca_key = make_ca()
        pair = issue(ca_cert, ca_key, "localhost", dns=("localhost",), ips=("127.0.0.1",))
        kwargs["tls_certificates"] = [(pair.certificate, pair.private_key)]
        location = "grpc+tls://0.0.0.0:0"
    with pytest.raises(ValueError, match=reason) as info:
        FlightSqlServer(location, **kwargs)
    assert "\n" not in str(info.value)


def test_beyond_loopback_with_tls_and_a_token_serves_tls() -> None:
    ca, ca_cert, ca_key = make_ca()
    pair = issue(ca_cert, ca_key, "localhost", dns=("localhost",), ips=("127.0.0.1",))
    token = secrets.token_urlsafe(16)
    server = serve(
        host="0.0.0.0",
        sample_size=4,
        block=False,
        token=token,
        tls_certificates=[(pair.certificate, pair.private_key)],
    )
    try:
        assert server.location.startswith("grpc+tls://0.0.0.0:")
        assert server.runtime_file is None  # the token goes to nobody by file
        location = f"grpc+tls://localhost:{server.port}"
        with FlightClient(location, tls_root_certs=ca.certificate) as client:
            with pytest.raises(FlightUnauthenticatedError):
                client.list_actions()
        with FlightClient(location, token=token, tls_root_certs=ca.certificate) as client:
            assert client.do_get(b"trips").read_all().num_rows == 4
    finally:
        server.shutdown()


def test_the_cli_refuses_the_network_without_tls_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flightnb", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "without TLS" in result.stderr
    assert result.stdout == ""


def test_the_cli_takes_secrets_from_the_environment_not_the_command_line(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(16)
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    env = {**os.environ, "FLIGHTNB_RUNTIME_DIR": str(tmp_path / "runtime")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flightnb",
            "serve",
            "--port",
            "0",
            "--sample-size",
            "3",
            "--token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        location = process.stdout.readline().split()[-1]
        runtime_note = process.stdout.readline()
        assert "runtime" in runtime_note and token not in runtime_note
        cmdline = Path(f"/proc/{process.pid}/cmdline")
        if cmdline.exists():
            assert token not in cmdline.read_text()
        client = paflight.connect(location, middleware=[BearerFactory(token)])
        try:
            assert client.do_get(paflight.Ticket(b"trips")).read_all().num_rows == 3
        finally:
            client.close()
    finally:
        process.send_signal(2)
        out, err = process.communicate(timeout=30)
    assert token not in out + err
    assert not list((tmp_path / "runtime").iterdir())  # removed on shutdown


def test_reprs_show_no_token(server: FlightSqlServer) -> None:
    assert server.token is not None
    for text in (repr(server), str(server), repr(server.auth)):
        assert server.token not in text
    with FlightClient(server.location) as client:
        assert server.token not in repr(client)
    entry = next(e for e in read_entries() if e.port == server.port)
    assert server.token not in repr(entry)


_ATTACKER = """
import json, os, sys
import flightnb  # imported as root: the interpreter's own files are root's alone here
from flightnb.errors import FlightError
from flightnb.transport.locations import parse_location
from flightnb.transport.runtime_tokens import runtime_token_source

location, runtime_file, server_pid = sys.argv[1:4]
try:  # every module a call needs, loaded while the interpreter's files are readable
    flightnb.read_flight(location, sql="SELECT 1", token="warm-up", progress=False)
except FlightError:
    pass
os.setgid(65534)
os.setuid(65534)
seen = {}
try:
    open(runtime_file).read()
    seen["runtime file"] = "read"
except OSError as exc:
    seen["runtime file"] = type(exc).__name__
try:
    open(f"/proc/{server_pid}/environ").read()
    seen["environ"] = "read"
except OSError as exc:
    seen["environ"] = type(exc).__name__
seen["discovered"] = runtime_token_source(parse_location(location)) is not None
for name, query in {
    "no token": None,
    "passwd": "SELECT * FROM read_text('/etc/passwd')",
}.items():
    try:
        flightnb.read_flight(location, sql=query or "SELECT 1", progress=False)
        seen[name] = "served"
    except FlightError as exc:
        seen[name] = exc.code
try:
    flightnb.read_flight(location, sql="SELECT 1", token="guess", progress=False)
    seen["guess"] = "served"
except FlightError as exc:
    seen["guess"] = exc.code
print(json.dumps(seen))
"""


@needs_root
def test_another_user_of_the_host_gets_nothing(server: FlightSqlServer) -> None:
    """An attacker on the same host (uid 65534) tries the runtime file, discovery and calls."""
    assert server.runtime_file is not None
    result = subprocess.run(
        [sys.executable, "-c", _ATTACKER, server.location, str(server.runtime_file),
         str(os.getpid())],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FLIGHTNB_RUNTIME_DIR": str(server.runtime_file.parent)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout)
    assert seen == {
        "runtime file": "PermissionError",
        "environ": "PermissionError",
        "discovered": False,
        "no token": "UNAUTHENTICATED",
        "passwd": "UNAUTHENTICATED",
        "guess": "UNAUTHENTICATED",
    }


def test_a_local_tls_server_is_found_too() -> None:
    ca, ca_cert, ca_key = make_ca()
    pair = issue(ca_cert, ca_key, "localhost", dns=("localhost",), ips=("127.0.0.1",))
    server = FlightSqlServer(
        "grpc+tls://127.0.0.1:0",
        sample_size=6,
        tls_certificates=[(pair.certificate, pair.private_key)],
    )
    try:
        location = f"grpc+tls://localhost:{server.port}"
        with FlightClient(location, tls_root_certs=ca.certificate) as client:
            assert client.do_get(b"trips").read_all().num_rows == 6
    finally:
        server.shutdown()


def test_the_cli_warns_in_one_line_without_auth(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "flightnb", "serve", "--no-auth", "--port", "0",
         "--sample-size", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FLIGHTNB_RUNTIME_DIR": str(tmp_path)},
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().startswith("Flight SQL server listening on grpc://")
        warning = process.stderr.readline()
        assert warning.startswith("flightnb serve: warning: this server accepts every call")
    finally:
        process.send_signal(2)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and err == "" and out == ""
    assert not list(tmp_path.iterdir())  # no token, no runtime file

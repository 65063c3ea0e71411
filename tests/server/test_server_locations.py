"""The server reads its listen location as the clients read theirs: ``unix://`` sockets too.

One parser (:func:`flightnb.transport.locations.parse_location`) serves both sides, so a
location a client connects to is one the server can listen on, and vice versa.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flightnb import FlightArgumentError, FlightSqlClient
from flightnb.server import FlightSqlServer
from flightnb.server.cli import serve_main

SERVE = (sys.executable, "-m", "flightnb", "serve")


@pytest.fixture
def folder() -> Iterator[Path]:
    # Not tmp_path: a unix socket's path must stay short (about 100 bytes).
    with tempfile.TemporaryDirectory(prefix="fnb") as name:
        yield Path(name)


def test_a_unix_location_serves_a_client(folder: Path) -> None:
    token = secrets.token_urlsafe(16)
    server = FlightSqlServer(f"unix://{folder}/s.sock", sample_size=None, token=token)
    try:
        assert server.location == f"grpc+unix://{folder}/s.sock"
        assert server.port == -1
        with FlightSqlClient(f"unix://{folder}/s.sock", token=token) as client:
            assert client.query("SELECT 42 AS n").column("n").to_pylist() == [42]
    finally:
        server.shutdown()
    assert not (folder / "s.sock").exists()


def test_a_unix_socket_is_local_so_its_token_is_published(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLIGHTNB_RUNTIME_DIR", str(folder / "runtime"))
    server = FlightSqlServer(f"unix://{folder}/s.sock", sample_size=None)
    try:
        assert server.runtime_file is not None and server.runtime_file.exists()
        with FlightSqlClient(server.location) as client:  # finds the token by itself
            assert client.query("SELECT 1 AS n").column("n").to_pylist() == [1]
    finally:
        server.shutdown()
    assert not list((folder / "runtime").iterdir())


def test_a_unix_socket_may_go_without_auth_with_a_warning(folder: Path) -> None:
    with pytest.warns(UserWarning, match="without a token"):
        server = FlightSqlServer(f"unix://{folder}/s.sock", sample_size=None, auth=False)
    server.shutdown()


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("http://127.0.0.1:0", "unsupported Flight location scheme 'http'"),
        ("grpc://127.0.0.1", "has no port"),
        ("unix://", "has no socket path"),
        ("arrow-flight-reuse-connection://?", "cannot open a connection of its own"),
    ],
)
def test_a_location_the_client_refuses_is_refused_in_one_line(location: str, message: str) -> None:
    with pytest.raises(FlightArgumentError, match=message) as caught:
        FlightSqlServer(location, sample_size=None)
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)


def test_a_location_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not int"):
        FlightSqlServer(8815, sample_size=None)  # type: ignore[arg-type]


def test_the_command_listens_on_a_unix_location(folder: Path) -> None:
    token = secrets.token_urlsafe(16)
    where = ["--location", f"unix://{folder}/s.sock"]
    process = subprocess.Popen(
        [*SERVE, *where, "--sample-size", "50", "--token-env", "FLIGHTNB_TEST_TOKEN"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FLIGHTNB_TEST_TOKEN": token},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == f"Flight SQL server listening on grpc+unix://{folder}/s.sock"
        with FlightSqlClient(f"unix://{folder}/s.sock", token=token) as client:
            count = client.query("SELECT count(*) AS n FROM trips").column("n").to_pylist()
        assert count == [50]
    finally:
        process.send_signal(2)  # SIGINT, as Ctrl-C
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--location", "grpc://127.0.0.1:0", "--port", "0"], "give --location or --host"),
        (["--location", "http://127.0.0.1:0"], "unsupported Flight location scheme 'http'"),
        (["--location", "grpc+tls://127.0.0.1:0"], "needs --tls-cert and --tls-key"),
    ],
)
def test_the_command_refuses_a_bad_location_in_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve_main([*argv, "--sample-size", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flightnb serve: ") and message in err
    assert "\n" not in err

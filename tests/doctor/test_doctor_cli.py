"""``python -m flightnb doctor`` in a subprocess: the table, exit codes, no secrets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.flight as flight
import pytest
from certificates import issue, make_ca
from flight_servers import FlightTestServer

import flightnb
from flightnb.notebook.quiet import quiet_grpc_on_command_line
from flightnb.server import FlightSqlServer

# The flightnb under test, also in the subprocess (whatever is installed in the venv).
ROOT = Path(flightnb.__file__).resolve().parents[1]


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "flightnb", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        stdin=subprocess.DEVNULL,
    )


def test_prints_one_table_and_exits_0(own_server: FlightSqlServer) -> None:
    done = doctor(own_server.location)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # The subprocess runs as the same user, so it finds the server's token by itself.
    auth = "this user's local server token"
    assert lines[0].startswith(f"flightnb doctor {own_server.location} (auth: {auth};")
    assert own_server.token and own_server.token not in done.stdout + done.stderr
    assert lines[1].split()[:3] == ["group", "check", "status"]
    rows = {line.split()[2] for line in lines[3:] if line.startswith("Flight SQL ")}
    assert {"GetSqlInfo", "SQL", "parameter", "transactions"} <= rows
    assert done.stderr == ""


def test_json_holds_the_same_diagnosis(own_server: FlightSqlServer) -> None:
    done = doctor(own_server.location, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    checks = {c["name"]: c["status"] for c in data["checks"]}
    assert data["answered"] is True and data["auth"] == "this user's local server token"
    assert checks["parameter binding"] == "yes" and checks["PollFlightInfo"] == "no"


def test_unreachable_exits_3_with_one_line() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    done = doctor(f"grpc://127.0.0.1:{port}")
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"flightnb doctor: cannot reach grpc://127.0.0.1:{port}")


def test_auth_exits_4_and_secrets_stay_hidden(auth_flight_server: FlightTestServer) -> None:
    done = doctor(auth_flight_server.location)
    assert done.returncode == 4 and "it wants credentials" in done.stderr
    wrong = doctor(
        auth_flight_server.location,
        "--token-env",
        "DOCTOR_TEST_TOKEN",
        env={"DOCTOR_TEST_TOKEN": "wrong-token-c0ffee"},
    )
    assert wrong.returncode == 4 and "check the credentials" in wrong.stderr
    assert "wrong-token-c0ffee" not in wrong.stdout + wrong.stderr
    good = doctor(
        auth_flight_server.location,
        "--user",
        "alice",
        "--password-env",
        "DOCTOR_TEST_PASSWORD",
        env={"DOCTOR_TEST_PASSWORD": "wonderland"},
    )
    assert good.returncode == 0, good.stderr
    assert "(auth: basic handshake;" in good.stdout
    assert "wonderland" not in good.stdout + good.stderr


def test_credentials_on_the_command_line_are_refused(flight_server: FlightTestServer) -> None:
    done = doctor(flight_server.location, "--header", "authorization=Bearer abc")
    assert done.returncode == 2 and "--header-env" in done.stderr and "abc" not in done.stderr
    missing = doctor(flight_server.location, "--token-env", "DOCTOR_TEST_UNSET_VARIABLE")
    assert missing.returncode == 2 and "DOCTOR_TEST_UNSET_VARIABLE is not set" in missing.stderr
    no_terminal = doctor(flight_server.location, "--user", "alice")
    assert no_terminal.returncode == 2 and "--password-env" in no_terminal.stderr


def test_bad_location_exits_2() -> None:
    done = doctor("http://127.0.0.1:1")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "scheme" in done.stderr


def test_tls_roots_from_a_file(tmp_path: Path) -> None:
    """A TLS server: trusted with --tls-roots, unreachable (one line) with the wrong roots."""
    ca, ca_cert, ca_key = make_ca()
    other_ca, _, _ = make_ca("some other CA")
    keypair = issue(ca_cert, ca_key, "localhost", dns=("localhost",), ips=("127.0.0.1",))
    (tmp_path / "ca.pem").write_bytes(ca.certificate)
    (tmp_path / "other.pem").write_bytes(other_ca.certificate)
    certificate = flight.CertKeyPair(cert=keypair.certificate, key=keypair.private_key)
    server = flight.FlightServerBase("grpc+tls://127.0.0.1:0", tls_certificates=[certificate])
    location = f"grpc+tls://127.0.0.1:{server.port}"
    try:
        trusted = doctor(location, "--tls-roots", str(tmp_path / "ca.pem"))
        untrusted = doctor(location, "--tls-roots", str(tmp_path / "other.pem"), "--timeout", "3")
    finally:
        server.shutdown()
    assert trusted.returncode == 0, trusted.stderr
    assert "ListFlights" in trusted.stdout
    assert untrusted.returncode == 3 and untrusted.stderr.count("\n") == 1
    assert untrusted.stderr.startswith(f"flightnb doctor: cannot reach {location}")


def test_only_the_doctor_command_is_quieted(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process gRPC is already imported, so nothing changes; the TLS test above shows
    the effect in a fresh process (no gRPC log line before the doctor's one line)."""
    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)
    assert not quiet_grpc_on_command_line(["-m", "serve"])
    assert not quiet_grpc_on_command_line(["python", "doctor"])
    assert not quiet_grpc_on_command_line(["-m", "doctor"])  # grpc is imported here
    assert "GRPC_VERBOSITY" not in os.environ


@pytest.mark.parametrize(
    "header",
    [
        "x-api-key=plain",  # a credential by its name alone
        "x-tenant=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",  # a JWT by its value
        "x-tenant=Zq81Lk3vTy0pW9sRb7uXe2Hn",  # a random-looking key by its value
    ],
)
def test_headers_are_judged_as_the_magic_judges_them(
    flight_server: FlightTestServer, header: str
) -> None:
    done = doctor(flight_server.location, "--header", header)
    secret = header.partition("=")[2]
    assert done.returncode == 2 and "--header-env" in done.stderr
    assert secret not in done.stdout + done.stderr

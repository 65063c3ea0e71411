"""``flightnb doctor`` against servers nobody here wrote: roapi (Rust) and Deephaven (Java).

Every verdict is checked with another client: pyarrow.flight for the plain Flight answers,
ADBC's Flight SQL driver for SqlInfo and parameter binding, and a listing before and after
for "the probes changed nothing".
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightnb
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.doctor import Status, diagnose, render_text
from flightnb.protocol.commands import pack

# The flightnb under test, also in the subprocess (whatever is installed in the venv).
ROOT = Path(flightnb.__file__).resolve().parents[1]
# Deephaven's session tokens are UUIDs.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A bound on each probe, generous for a loaded machine (a JVM's first answers are slow);
# Deephaven never answers an empty DoExchange, so each of its diagnoses waits this once.
PROBE_SECONDS = 10.0


def _token_options(server: Any) -> dict[str, Any]:
    token = getattr(server, "token", None)
    return {"token": token} if token else {}


def _call_options(server: Any) -> flight.FlightCallOptions:
    token = getattr(server, "token", None)
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    return flight.FlightCallOptions(headers=headers)


def _table_names(server: Any) -> list[str]:
    """The tables GetTables lists, read with pyarrow.flight (not the client under test)."""
    command = pack(sql.CommandGetTables())
    client = flight.connect(server.location)
    try:
        options = _call_options(server)
        info = client.get_flight_info(flight.FlightDescriptor.for_command(command), options)
        tables = [client.do_get(e.ticket, options).read_all() for e in info.endpoints]
    finally:
        client.close()
    return sorted(name for table in tables for name in table.column("table_name").to_pylist())


def _binding_works(conn: Any) -> bool:
    """Does ADBC get an answer to a query with a bound parameter?"""
    with conn.cursor() as cursor:
        try:
            cursor.execute("SELECT ?", parameters=(1,))
            cursor.fetchall()
        except Exception:
            return False
    return True


# --- roapi ---------------------------------------------------------------------------------


def test_roapi(roapi_server: Any) -> None:
    before = _table_names(roapi_server)
    diagnosis = diagnose(
        roapi_server.location, timeout=PROBE_SECONDS, **_token_options(roapi_server)
    )
    after = _table_names(roapi_server)
    with roapi_server.adbc_connect() as conn:
        vendor = conn.adbc_get_info()["vendor_name"]
        binds = _binding_works(conn)
    assert diagnosis.answered and diagnosis.speaks_flight_sql
    assert diagnosis.check("server").detail.startswith(vendor)
    assert diagnosis.supports("parameter binding") is binds is False
    assert "inlines values" in diagnosis.check("parameter binding").fallback
    assert diagnosis.supports("SQL query") is True
    # Commands are planned, path descriptors are not: GetFlightInfo says both.
    assert diagnosis.supports("GetFlightInfo") is True
    assert "a path got UNIMPLEMENTED" in diagnosis.check("GetFlightInfo").detail
    client = flight.connect(roapi_server.location)
    try:
        with pytest.raises(pa.ArrowNotImplementedError):
            list(client.list_flights(options=_call_options(roapi_server)))
    finally:
        client.close()
    assert diagnosis.supports("ListFlights") is False
    for name in ("PollFlightInfo", "DoExchange", "transactions", "CancelFlightInfo"):
        assert diagnosis.supports(name) is False, name
    assert diagnosis.check("issued tokens").status is Status.NO
    assert after == before


def test_roapi_from_the_command_line(roapi_server: Any) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["--timeout", str(PROBE_SECONDS)]
    token = getattr(roapi_server, "token", None)
    if token:
        env["DOCTOR_ROAPI_TOKEN"] = token
        args += ["--token-env", "DOCTOR_ROAPI_TOKEN"]
    done = subprocess.run(
        [sys.executable, "-m", "flightnb", "doctor", roapi_server.location, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"flightnb doctor {roapi_server.location}")
    assert "parameter binding" in done.stdout


# --- Deephaven -----------------------------------------------------------------------------


def test_deephaven_anonymous(deephaven_server: Any) -> None:
    """No credentials: the doctor finds the anonymous handshake and Deephaven's gaps."""
    diagnosis = diagnose(deephaven_server.location, timeout=PROBE_SECONDS)
    assert diagnosis.answered and diagnosis.auth == "anonymous handshake"
    assert "authorization: Anonymous" in diagnosis.check("Handshake").detail
    issued = diagnosis.check("issued tokens")
    assert issued.status is Status.YES and "sent on the next call" in issued.fallback
    schema = diagnosis.check("dataset_schema")
    assert schema.status is Status.NO and "placeholder" in schema.detail
    assert "GetSchema" in schema.fallback
    assert diagnosis.supports("GetSchema (query)") is True
    assert diagnosis.supports("parameter binding") is False
    assert diagnosis.supports("transactions") is False
    assert diagnosis.supports("PollFlightInfo") is False
    # Session tokens the server handed out are never shown.
    shown = render_text(diagnosis) + str(diagnosis.to_dict())
    assert not _UUID.search(shown)


def test_deephaven_with_token_agrees_with_pyarrow_and_adbc(deephaven_server: Any) -> None:
    token = getattr(deephaven_server, "token", None) or "Anonymous"
    client = flight.connect(deephaven_server.location)
    options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {token}".encode())])
    try:
        listed = list(client.list_flights(options=options))
        actions = sorted(a.type for a in client.list_actions(options=options))
    finally:
        client.close()
    diagnosis = diagnose(deephaven_server.location, token=token, timeout=PROBE_SECONDS)
    assert diagnosis.answered and diagnosis.auth == "bearer token"
    assert diagnosis.check("ListFlights").detail.startswith(f"{min(len(listed), 100)} flights")
    assert diagnosis.check("ListActions").detail == f"{len(actions)}: {', '.join(actions)}"
    assert diagnosis.supports("DoGet") is True
    assert diagnosis.check("issued tokens").status is Status.YES
    with deephaven_server.adbc_connect() as conn:
        assert diagnosis.check("server").detail.startswith(conn.adbc_get_info()["vendor_name"])
        assert diagnosis.supports("parameter binding") is _binding_works(conn) is False
    shown = render_text(diagnosis) + str(diagnosis.to_dict())
    assert token not in shown and not _UUID.search(shown)

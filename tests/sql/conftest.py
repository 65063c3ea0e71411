"""Fixtures for the Flight SQL client tests: one embedded DuckDB server per session.

Fixtures
--------
sql_server : flightnb.server.FlightSqlServer
    On ``grpc://127.0.0.1:<port>`` with the sample ``trips`` (5000 rows) and ``stations``
    tables; DoGet streams batches of 1000 rows. Tests that write create tables of their own
    (``sql_client_helpers.unique_name``).
sql_client : flightnb.FlightSqlClient
    A blocking flightnb Flight SQL client for ``sql_server``, closed after the test.
adbc_conn : adbc_driver_flightsql.dbapi.Connection
    The ADBC Flight SQL driver on the same server (autocommit), the independent client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bearer import adbc_connect

from flightnb import FlightSqlClient
from flightnb.server import FlightSqlServer

SAMPLE_ROWS = 5000
BATCH_ROWS = 1000


@pytest.fixture(scope="session")
def sql_server() -> Iterator[FlightSqlServer]:
    server = FlightSqlServer(sample_size=SAMPLE_ROWS, batch_size=BATCH_ROWS)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture
def sql_client(sql_server: FlightSqlServer) -> Iterator[FlightSqlClient]:
    with FlightSqlClient(sql_server.location) as client:
        yield client


@pytest.fixture
def adbc_conn(sql_server: FlightSqlServer) -> Iterator[Any]:
    conn = adbc_connect(sql_server, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()

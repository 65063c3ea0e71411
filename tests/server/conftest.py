"""Fixtures for the DuckDB Flight SQL server tests: one small server per session."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow.flight as flight
import pytest
from bearer import adbc_connect, pyarrow_client

from flightnb.server import FlightSqlServer

SAMPLE_ROWS = 5000
BATCH_ROWS = 1000


@pytest.fixture(scope="session")
def sql_server() -> Iterator[FlightSqlServer]:
    """A server on 127.0.0.1, a free port, with small sample data and small batches."""
    server = FlightSqlServer(sample_size=SAMPLE_ROWS, batch_size=BATCH_ROWS)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture
def flight_client(sql_server: FlightSqlServer) -> Iterator[flight.FlightClient]:
    """pyarrow's own Flight client, as an independent raw client."""
    client = pyarrow_client(sql_server)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def adbc_conn(sql_server: FlightSqlServer) -> Iterator[object]:
    """An ADBC Flight SQL DB-API connection in autocommit mode."""
    conn = adbc_connect(sql_server, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()

"""Fixtures for the doctor's tests: flightnb's own Flight SQL server, small."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flightnb.server import FlightSqlServer


@pytest.fixture(scope="session")
def own_server() -> Iterator[FlightSqlServer]:
    """flightnb's DuckDB Flight SQL server on 127.0.0.1, a free port, 500 sample rows."""
    server = FlightSqlServer(sample_size=500)
    try:
        yield server
    finally:
        server.shutdown()

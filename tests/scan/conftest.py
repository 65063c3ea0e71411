"""Fixtures of the scan tests: the embedded Flight SQL server with a table of many types.

These tests also run against the newest polars 1.x in CI (see ``.ci/run``).

Fixtures
--------
scan_server : FlightSqlServer
    Sample data (``trips``) and the table ``shapes``: ``id`` (0..N-1), ``i`` (int64 with
    nulls), ``f`` (float64 with nulls and NaN), ``s`` (strings with nulls, mixed case, ``%``
    and ``_``), ``d`` (date), ``ts`` (timestamp), ``dec`` (decimal(10, 2)), ``b`` (bool with
    nulls); 600 rows in batches of 50.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from fallback_servers import NoBindingServer, PlaceholderSchemaServer

from flightnb.server import FlightSqlServer

SHAPES_ROWS = 600
STRINGS = ["apple", "Apple", "APPLE", "banana", "a%b", "a_b", "ab", "", "cherry", None]


def shapes_table() -> pa.Table:
    n = SHAPES_ROWS
    floats = [
        None if k % 11 == 0 else float("nan") if k % 13 == 0 else (k % 50) / 4 for k in range(n)
    ]
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "i": pa.array(
                [None if k % 7 == 0 else (k * 37) % 100 - 50 for k in range(n)], pa.int64()
            ),
            "f": pa.array(floats, pa.float64()),
            "s": pa.array([STRINGS[k % len(STRINGS)] for k in range(n)], pa.string()),
            "d": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=k % 60) for k in range(n)]),
            "ts": pa.array(
                [dt.datetime(2024, 1, 1) + dt.timedelta(hours=k * 5) for k in range(n)],
                pa.timestamp("us"),
            ),
            "dec": pa.array([decimal.Decimal(k % 40) / 4 for k in range(n)], pa.decimal128(10, 2)),
            "b": pa.array([None if k % 5 == 0 else k % 2 == 0 for k in range(n)], pa.bool_()),
        }
    )


def serve_shapes(server: FlightSqlServer) -> FlightSqlServer:
    """``server`` with the ``shapes`` table."""
    server.database.register("shapes_source", shapes_table())
    server.database.execute("CREATE TABLE shapes AS SELECT * FROM shapes_source")
    server.database.unregister("shapes_source")
    return server


@pytest.fixture(scope="session")
def scan_server() -> Iterator[FlightSqlServer]:
    server = serve_shapes(FlightSqlServer(sample_size=5000, batch_size=50, endpoints=3))
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def no_binding_server() -> Iterator[NoBindingServer]:
    server = NoBindingServer(batch_size=50, endpoints=2)
    serve_shapes(server)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture(scope="session")
def placeholder_schema_server() -> Iterator[PlaceholderSchemaServer]:
    server = PlaceholderSchemaServer(batch_size=50)
    serve_shapes(server)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture
def make_shapes_server() -> Iterator[Callable[..., FlightSqlServer]]:
    started: list[FlightSqlServer] = []

    def make(cls: type[FlightSqlServer], **options: Any) -> FlightSqlServer:
        server = cls(**options)
        started.append(server)
        return serve_shapes(server)

    try:
        yield make
    finally:
        for server in started:
            server.shutdown()

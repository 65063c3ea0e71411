"""Fixtures of the third-party server tests: roapi and Deephaven, each a real server process.

Started once per session on 127.0.0.1 with a free port and stopped at its end; a server that
cannot be installed or started fails the run with its log (never skips). See
:mod:`thirdparty_servers` for what each server speaks, how to authenticate, and what it does
not support.

Fixtures
--------
roapi_server : thirdparty_servers.RoapiServer
    roapi 0.12.7, Flight SQL only, no authentication. ``.location``
    (``grpc://127.0.0.1:<port>``), ``.port``, ``.tables`` (``trips``: 5000 rows of
    ``trip_id`` int64, ``passengers`` int64, ``fare`` float64, ``vendor`` string, ``paid``
    bool, ``pickup`` timestamp[us], ``day`` date32, nulls in all but ``trip_id``, served from
    Parquet; ``zones``: 5 rows, ``zone_id`` int64, ``name`` string, served from CSV),
    ``.process``, ``.log_path``; ``.flight_client()``, ``.adbc_connect()``,
    ``.adbc_query(sql)``.
deephaven_server : thirdparty_servers.DeephavenServer
    Deephaven Community Core 42.7, anonymous authentication. ``.location``, ``.port``,
    ``.token`` (``"Anonymous"``), ``.headers``, ``.tables`` (``trips`` as for roapi but with
    ``pickup`` timestamp[ns, tz=UTC]; ``zones``; ``numbers``, computed by Deephaven: ``I``
    int32, ``L`` int64, ``S`` string, ``N`` int32 with nulls), ``.ticket(name)``
    (``b"s/<name>"``), ``.path(name)`` (``["scope", name]``), ``.process``, ``.log_path``;
    ``.flight_client()`` (authenticates and follows the session), ``.adbc_connect()``,
    ``.adbc_query(sql)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from thirdparty_servers import DeephavenServer, RoapiServer, start_deephaven, start_roapi


@pytest.fixture(scope="session")
def roapi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoapiServer]:
    server = start_roapi(tmp_path_factory.mktemp("roapi"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def deephaven_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeephavenServer]:
    server = start_deephaven(tmp_path_factory.mktemp("deephaven"))
    try:
        yield server
    finally:
        server.stop()

"""A server restarted on the same port: the same client object keeps working.

Each test starts a pyarrow.flight server on a fixed free port, reads, shuts it down, starts a
new server on that port and reads again with the client it already had (async and sync).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from flight_servers import FlightTestServer, standard_tables

import flightnb
from flightnb import AsyncFlightClient, FlightClient, FlightDescriptor

pytestmark = pytest.mark.timeout(60)

TABLES = standard_tables()
EXPECTED = TABLES["numbers"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Restartable:
    """A server on one fixed port that can be stopped and started again."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.location = f"grpc://127.0.0.1:{self.port}"
        self.server: FlightTestServer | None = None

    def start(self) -> None:
        assert self.server is None
        # The port was free a moment ago; a lingering socket of the previous server can
        # refuse the bind for a moment, so try a few times.
        for attempt in range(50):
            try:
                server = FlightTestServer(self.location)
                break
            except OSError:
                if attempt == 49:
                    raise
                time.sleep(0.05)
        for name, table in TABLES.items():
            server.add_table(name, table)
        self.server = server

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server = None


@pytest.fixture
def restartable() -> Iterator[Restartable]:
    server = Restartable()
    server.start()
    try:
        yield server
    finally:
        if server.server is not None:
            server.stop()


def _async_read(client: AsyncFlightClient) -> Callable[[], Any]:
    return lambda: client.do_get(b"numbers").read_all()


# --- restart while idle -------------------------------------------------------------------------


def test_async_client_survives_restart_while_idle(restartable: Restartable) -> None:
    async def main() -> None:
        async with AsyncFlightClient(restartable.location, timeout=10) as client:
            assert (await client.do_get(b"numbers").read_all()).equals(EXPECTED)
            restartable.stop()
            await asyncio.sleep(0.2)  # idle while the server is away
            restartable.start()
            assert (await client.do_get(b"numbers").read_all()).equals(EXPECTED)
            info = await client.get_flight_info(FlightDescriptor.for_path("numbers"))
            assert info.total_records == EXPECTED.num_rows

    asyncio.run(main())


def test_sync_client_survives_restart_while_idle(restartable: Restartable) -> None:
    with FlightClient(restartable.location, timeout=10) as client:
        assert client.do_get(b"numbers").read_all().equals(EXPECTED)
        restartable.stop()
        time.sleep(0.2)
        restartable.start()
        assert client.do_get(b"numbers").read_all().equals(EXPECTED)
        assert client.get_schema(FlightDescriptor.for_path("numbers")).equals(EXPECTED.schema)


def test_several_restarts_in_a_row(restartable: Restartable) -> None:
    with FlightClient(restartable.location, timeout=10) as client:
        for _ in range(3):
            assert client.do_get(b"ints").read_all().equals(TABLES["ints"])
            restartable.stop()
            restartable.start()
        assert client.do_get(b"ints").read_all().equals(TABLES["ints"])


# --- calls while the server is down -------------------------------------------------------------
#
# The harder case: a call made while the server is away fails (UNAVAILABLE, as it must), and
# grpc then backs off before reconnecting (by default 1 s, growing to 120 s) and fails every
# call at once meanwhile. The first call after the server is back must still succeed.


@pytest.mark.parametrize("failed_calls", [1, 3])
def test_async_first_call_after_restart_succeeds(
    restartable: Restartable, failed_calls: int
) -> None:
    async def main() -> None:
        async with AsyncFlightClient(restartable.location, timeout=10) as client:
            assert (await client.do_get(b"numbers").read_all()).equals(EXPECTED)
            restartable.stop()
            for _ in range(failed_calls):
                with pytest.raises(flightnb.FlightUnavailableError):
                    await client.do_get(b"numbers").read_all()
                await asyncio.sleep(0.2)
            restartable.start()
            assert (await client.do_get(b"numbers").read_all()).equals(EXPECTED)

    asyncio.run(main())


def test_sync_first_call_after_restart_succeeds(restartable: Restartable) -> None:
    with FlightClient(restartable.location, timeout=10) as client:
        assert client.do_get(b"numbers").read_all().equals(EXPECTED)
        restartable.stop()
        with pytest.raises(flightnb.FlightUnavailableError):
            client.do_get(b"numbers").read_all()
        with pytest.raises(flightnb.FlightUnavailableError):
            client.get_flight_info(FlightDescriptor.for_path("numbers"))
        restartable.start()
        info = client.get_flight_info(FlightDescriptor.for_path("numbers"))
        assert info.total_records == EXPECTED.num_rows
        assert client.read_flight(FlightDescriptor.for_path("numbers")).equals(EXPECTED)


def test_read_flight_with_a_client_after_restart(restartable: Restartable) -> None:
    with FlightClient(restartable.location, timeout=10) as client:
        assert flightnb.read_flight(client, ticket="numbers", progress=False).equals(EXPECTED)
        restartable.stop()
        with pytest.raises(flightnb.FlightUnavailableError):
            flightnb.read_flight(client, path="numbers", progress=False)
        restartable.start()
        got = flightnb.read_flight(client, path="numbers", progress=False)
        assert got.equals(EXPECTED)


def test_server_that_stays_down_still_fails_promptly(restartable: Restartable) -> None:
    """The wait for a reconnect is bounded: a dead server is UNAVAILABLE, well before the
    call's own deadline (which would be DEADLINE_EXCEEDED)."""
    with FlightClient(restartable.location, timeout=10) as client:
        assert client.do_get(b"ints").read_all().equals(TABLES["ints"])
        restartable.stop()
        for _ in range(2):
            with pytest.raises(flightnb.FlightUnavailableError):
                client.do_get(b"ints").read_all()


def test_client_that_never_connected_fails_fast() -> None:
    """Nothing listening and never was: no reconnect wait, every call fails at once."""
    location = f"grpc://127.0.0.1:{_free_port()}"
    with FlightClient(location) as client:
        for _ in range(3):
            with pytest.raises(flightnb.FlightUnavailableError):
                client.do_get(b"ints").read_all()
        # Only a channel that was connected once waits for its server to come back.
        assert not client.async_client._calls.channels._reconnectable


def test_new_table_after_restart(restartable: Restartable) -> None:
    """It really is a new server: data registered only on the new one is served."""
    with FlightClient(restartable.location, timeout=10) as client:
        client.do_get(b"ints").read_all()
        restartable.stop()
        restartable.start()
        assert restartable.server is not None
        fresh = pa.table({"x": [1, 2, 3]})
        restartable.server.add_table("fresh", fresh)
        assert client.do_get(b"fresh").read_all().equals(fresh)

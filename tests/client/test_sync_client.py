"""The blocking facade: plain calls, calls from inside a running event loop, Ctrl-C."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time
from typing import Any

import pyarrow as pa
import pytest

import flightnb
from flightnb import FlightClient, FlightDescriptor


def test_sync_methods(flight_server: Any) -> None:
    with FlightClient(flight_server.location) as client:
        assert client.do_get(b"numbers").read_all().equals(flight_server.table("numbers"))
        chunks = list(client.do_get(b"app_metadata"))
        assert [c.app_metadata for c in chunks] == [b"first", b"second", b"third"]
        assert client.do_get(b"ints").schema.equals(flight_server.table("ints").schema)
        info = client.get_flight_info(FlightDescriptor.for_path("numbers"))
        assert info.endpoints[0].ticket.ticket == b"numbers"
        assert client.get_schema(FlightDescriptor.for_path("numbers")).names == ["n", "s"]
        assert any(f.descriptor.path == ("numbers",) for f in client.list_flights())
        assert [r.body for r in client.do_action("echo", "x")] == [b"x"]
        assert "echo" in {a.type for a in client.list_actions()}
        table = flight_server.table("numbers").slice(0, 10)
        with client.do_put(FlightDescriptor.for_path("sync_tests", "put"), table.schema) as w:
            w.write_table(table)
        assert flight_server.uploads["sync_tests/put"].equals(table)
        with client.do_exchange(FlightDescriptor.for_path("echo")) as exchange:
            exchange.write_table(table)
            exchange.done_writing()
            assert exchange.read_all().equals(table)
        whole = client.read_flight(FlightDescriptor.for_path("multi", "ordered"))
        assert whole.num_rows == 300


def test_sync_client_inside_a_running_event_loop(flight_server: Any) -> None:
    """A Jupyter kernel's loop is running while cells call blocking code."""

    async def cell() -> pa.Table:
        with FlightClient(flight_server.location) as client:
            return client.do_get(b"numbers").read_all()

    assert asyncio.run(cell()).equals(flight_server.table("numbers"))


def test_keyboard_interrupt_cancels_the_call_promptly(flight_server: Any) -> None:
    # "slow" takes about five seconds to stream; the interrupt comes after 0.3 s.
    with FlightClient(flight_server.location) as client:
        timer = threading.Timer(0.3, _thread.interrupt_main)
        started = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            client.do_get(b"slow").read_all()
        elapsed = time.monotonic() - started
        timer.join()
        assert elapsed < 2.5
        # The client is still usable afterwards.
        assert client.do_get(b"ints").read_all().equals(flight_server.table("ints"))


def test_repr_names_location_not_credentials(flight_server: Any) -> None:
    with FlightClient(flight_server.location, token="canary-token-123") as client:
        assert "canary-token-123" not in repr(client)
        assert flight_server.location in repr(client)


def test_blocking_call_from_flightnb_loop_is_refused() -> None:
    from flightnb.client.loop_thread import shared_loop_thread

    portal = shared_loop_thread()

    async def nested() -> None:
        portal.run(asyncio.sleep(0))

    with pytest.raises(RuntimeError, match="own loop"):
        portal.run(nested())
    assert isinstance(flightnb.FlightClient, type)

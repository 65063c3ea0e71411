"""The blocking facade: plain calls, calls from inside a running event loop, Ctrl-C."""

from __future__ import annotations

import _thread
import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from flight_servers import FlightTestServer

import flightnb
from flightnb import FlightClient, FlightDescriptor

# Far longer than a cancelled stream takes to end, far shorter than the stream itself.
STOP_WITHIN = 30.0


@pytest.fixture
def client(flight_server: Any) -> Iterator[FlightClient]:
    with FlightClient(flight_server.location) as client:
        yield client


def test_do_get_reads_the_whole_stream(client: FlightClient, flight_server: Any) -> None:
    assert client.do_get(b"numbers").read_all().equals(flight_server.table("numbers"))


def test_do_get_iterates_chunks_with_their_app_metadata(client: FlightClient) -> None:
    chunks = list(client.do_get(b"app_metadata"))
    assert [c.app_metadata for c in chunks] == [b"first", b"second", b"third"]


def test_a_readers_schema_waits_for_the_schema_message(
    client: FlightClient, flight_server: Any
) -> None:
    assert client.do_get(b"ints").schema.equals(flight_server.table("ints").schema)


def test_get_flight_info(client: FlightClient) -> None:
    info = client.get_flight_info(FlightDescriptor.for_path("numbers"))
    assert info.endpoints[0].ticket.ticket == b"numbers"


def test_get_schema(client: FlightClient) -> None:
    assert client.get_schema(FlightDescriptor.for_path("numbers")).names == ["n", "s"]


def test_list_flights(client: FlightClient) -> None:
    assert any(f.descriptor.path == ("numbers",) for f in client.list_flights())


def test_do_action(client: FlightClient) -> None:
    assert [r.body for r in client.do_action("echo", "x")] == [b"x"]


def test_list_actions(client: FlightClient) -> None:
    assert "echo" in {a.type for a in client.list_actions()}


def test_do_put_uploads_a_table(client: FlightClient, flight_server: Any) -> None:
    table = flight_server.table("numbers").slice(0, 10)
    with client.do_put(FlightDescriptor.for_path("sync_tests", "put"), table.schema) as w:
        w.write_table(table)
    assert flight_server.uploads["sync_tests/put"].equals(table)


def test_do_exchange_reads_back_what_it_wrote(client: FlightClient, flight_server: Any) -> None:
    table = flight_server.table("numbers").slice(0, 10)
    with client.do_exchange(FlightDescriptor.for_path("echo")) as exchange:
        exchange.write_table(table)
        exchange.done_writing()
        assert exchange.read_all().equals(table)


def test_read_flight_reads_every_endpoint(client: FlightClient) -> None:
    whole = client.read_flight(FlightDescriptor.for_path("multi", "ordered"))
    assert whole.num_rows == 300


def test_sync_client_inside_a_running_event_loop(flight_server: Any) -> None:
    """A Jupyter kernel's loop is running while cells call blocking code."""

    async def cell() -> pa.Table:
        with FlightClient(flight_server.location) as client:
            return client.do_get(b"numbers").read_all()

    assert asyncio.run(cell()).equals(flight_server.table("numbers"))


def test_keyboard_interrupt_cancels_the_call_promptly() -> None:
    # 3000 batches with 50 ms before each: 150 s to stream. Ctrl-C comes once the server has
    # sent three batches (the client is reading by then); the call must end part way, which
    # the server sees as its producer ending with most of the stream unsent.
    with FlightTestServer() as server, FlightClient(server.location) as client:
        table = pa.table({"n": pa.array(range(3000), pa.int64())})
        server.add_table("endless", table, max_chunksize=1, delay=0.05)
        server.add_table("ints", table.slice(0, 10))
        watch = server.watch("endless")

        def interrupt_while_streaming() -> None:
            if watch.wait_sent(3, STOP_WITHIN):
                _thread.interrupt_main()

        interrupter = threading.Thread(target=interrupt_while_streaming)
        interrupter.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                client.do_get(b"endless").read_all()
        finally:
            interrupter.join()
        assert watch.ended.wait(STOP_WITHIN), f"the server still sends, {watch.sent} so far"
        assert watch.sent < table.num_rows, watch.sent
        # The client is still usable afterwards.
        assert client.do_get(b"ints").read_all().equals(table.slice(0, 10))


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

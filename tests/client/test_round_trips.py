"""What a read costs before its data flows, counted through a proxy rather than timed.

Over a long link every TCP connection, TLS handshake and call before the first batch is a
round trip. A counting proxy between the client and a real server counts the connections it
accepts and the HTTP/2 requests (gRPC calls) it sees, so these tests pin the exchanges
themselves: a whole-flight read of a flight served by the server it asked costs one
connection and two calls (GetFlightInfo, DoGet), as pyarrow.flight's, and nothing of ours
(no readiness wait, no GetSchema, no handshake) is added.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from certificates import issue, make_ca
from counting_proxy import CountingProxy
from flight_servers import Endpoint, FlightTestServer

import flightnb
from flightnb.client.loop_thread import shared_loop_thread

TABLE = pa.table({"n": pa.array(range(10_000), pa.int64())})
#: Large enough that a reader holding its first batch stops the server by flow control long
#: before the end (the buffers between them hold a few tens of MiB at most).
BIG = pa.table({"n": pa.array([0] * (12 << 20), pa.int64())})  # 96 MiB
REUSE = "arrow-flight-reuse-connection://?"
WAIT = 30.0  # bound on waiting for an event that should come at once


@pytest.fixture(scope="module")
def server() -> Iterator[FlightTestServer]:
    server = FlightTestServer()
    server.add_table("rt/table", TABLE)
    server.add_table("rt/big", BIG, max_chunksize=8192)
    server.add_flight("rt/no_location", [Endpoint(b"rt/table")], schema=TABLE.schema)
    server.add_flight("rt/reuse", [Endpoint(b"rt/table", (REUSE,))], schema=TABLE.schema)
    yield server
    server.shutdown()


@pytest.fixture
def proxy(server: FlightTestServer) -> Iterator[CountingProxy]:
    with CountingProxy(f"127.0.0.1:{server.port}") as proxy:
        yield proxy


def _own_location_flight(server: FlightTestServer, proxy: CountingProxy) -> str:
    """A flight whose endpoint names the location the client connected to (the proxy)."""
    name = f"rt/own/{proxy.port}"
    server.add_flight(name, [Endpoint(b"rt/table", (proxy.uri(),))], schema=TABLE.schema)
    return name


def _pyarrow_read(uri: str, path: str, **options: Any) -> pa.Table:
    """The plain pyarrow.flight way: connect, GetFlightInfo, DoGet on the same client."""
    with paflight.connect(uri, **options) as client:
        info = client.get_flight_info(paflight.FlightDescriptor.for_path(path))
        return pa.concat_tables(
            client.do_get(endpoint.ticket).read_all() for endpoint in info.endpoints
        )


@pytest.mark.parametrize("where", ["no_location", "reuse", "own"])
def test_whole_flight_on_the_same_server_is_one_connection_and_two_calls(
    server: FlightTestServer, proxy: CountingProxy, where: str
) -> None:
    path = _own_location_flight(server, proxy) if where == "own" else f"rt/{where}"
    table = flightnb.read_flight(proxy.uri(), path=path, progress=False)
    assert table.equals(TABLE)
    assert proxy.counts() == (1, 2)  # one connection: GetFlightInfo, DoGet


def test_pyarrow_flight_pays_the_same(server: FlightTestServer, proxy: CountingProxy) -> None:
    # The reference the counts above are held to: no fewer exchanges are possible.
    assert _pyarrow_read(proxy.uri(), "rt/no_location").equals(TABLE)
    assert proxy.counts() == (1, 2)


def test_streaming_read_and_ticket_read_add_nothing(
    server: FlightTestServer, proxy: CountingProxy
) -> None:
    with flightnb.open_flight(proxy.uri(), path="rt/reuse", progress=False) as reader:
        assert reader.read_all().equals(TABLE)
    assert proxy.counts() == (1, 2)
    proxy.reset()
    table = flightnb.read_flight(proxy.uri(), ticket=b"rt/table", progress=False)
    assert table.equals(TABLE)
    assert proxy.counts() == (1, 1)


def test_a_kept_client_reuses_its_connection_across_reads(
    server: FlightTestServer, proxy: CountingProxy
) -> None:
    with flightnb.FlightClient(proxy.uri()) as client:
        for _ in range(3):
            table = flightnb.read_flight(client, path="rt/no_location", progress=False)
            assert table.equals(TABLE)
    assert proxy.counts() == (1, 6)


def test_endpoints_elsewhere_are_connected_before_their_turn(server: FlightTestServer) -> None:
    """An endpoint queued behind max_concurrency finds its connection already up."""
    other = FlightTestServer()
    try:
        other.add_table("rt/table", TABLE)
        with (
            CountingProxy(f"127.0.0.1:{server.port}") as here,
            CountingProxy(f"127.0.0.1:{other.port}") as there,
        ):
            name = f"rt/two_places/{there.port}"
            server.add_flight(
                name,
                [Endpoint(b"rt/big"), Endpoint(b"rt/table", (there.uri(),))],
                schema=TABLE.schema,
                ordered=True,
            )
            with flightnb.open_flight(
                here.uri(),
                path=name,
                max_concurrency=1,
                max_buffer_bytes=1 << 20,
                progress=False,
            ) as reader:
                next(reader)  # the first endpoint runs, held back by this reader
                assert there.wait_connections(1, WAIT)
                # Connected, and no call yet: the second endpoint's DoGet waits its turn.
                assert there.counts() == (1, 0)
            assert here.counts()[0] == 1
    finally:
        other.shutdown()


def test_two_locations_read_in_full_with_one_connection_each(server: FlightTestServer) -> None:
    other = FlightTestServer()
    try:
        other.add_table("rt/table", TABLE)
        with (
            CountingProxy(f"127.0.0.1:{server.port}") as here,
            CountingProxy(f"127.0.0.1:{other.port}") as there,
        ):
            name = f"rt/both/{there.port}"
            endpoints = [Endpoint(b"rt/table"), Endpoint(b"rt/table", (there.uri(),))] * 2
            server.add_flight(name, endpoints, schema=TABLE.schema, ordered=True)
            with flightnb.open_flight(
                here.uri(), path=name, max_concurrency=1, progress=False
            ) as reader:
                table = reader.read_all()
            assert table.equals(pa.concat_tables([TABLE] * 4))
            assert here.counts() == (1, 3)  # GetFlightInfo and two DoGets
            assert there.counts() == (1, 2)
    finally:
        other.shutdown()


class _HeldPlanServer(FlightTestServer):
    """Answers GetFlightInfo only once ``release`` is set: the plan is "in flight" till then."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.release.set()

    def get_flight_info(self, context: Any, descriptor: paflight.FlightDescriptor) -> Any:
        self.release.wait(WAIT)
        return super().get_flight_info(context, descriptor)


async def _until_idle(channel: Any) -> None:
    state = channel.get_state()
    while state is not grpc.ChannelConnectivity.IDLE:
        await channel.wait_for_state_change(state)
        state = channel.get_state()


def test_a_kept_client_reconnects_to_other_locations_while_planning() -> None:
    """Connections the servers dropped come back during GetFlightInfo, not after it."""
    planner, other = _HeldPlanServer(), FlightTestServer()
    try:
        planner.add_table("rt/table", TABLE)
        other.add_table("rt/table", TABLE)
        with (
            CountingProxy(f"127.0.0.1:{planner.port}") as here,
            CountingProxy(f"127.0.0.1:{other.port}") as there,
            flightnb.FlightClient(here.uri()) as client,
        ):
            endpoints = [Endpoint(b"rt/table"), Endpoint(b"rt/table", (there.uri(),))]
            planner.add_flight("rt/held", endpoints, schema=TABLE.schema, ordered=True)
            expected = pa.concat_tables([TABLE, TABLE])
            assert flightnb.read_flight(client, path="rt/held", progress=False).equals(expected)
            assert there.counts() == (1, 1)
            # The servers drop the idle connections; the client's channel to the other
            # location goes idle and would reconnect only when a call needs it.
            here.cut()
            there.cut()
            channel = client.async_client._calls.channels._channels[f"127.0.0.1:{there.port}"]
            shared_loop_thread().run(asyncio.wait_for(_until_idle(channel), WAIT))
            planner.release.clear()
            results: list[pa.Table] = []
            reading = threading.Thread(
                target=lambda: results.append(
                    flightnb.read_flight(client, path="rt/held", progress=False)
                )
            )
            reading.start()
            try:
                # GetFlightInfo is held by the server, and the other location is connected.
                assert there.wait_connections(2, WAIT)
                assert there.counts() == (2, 1)
            finally:
                planner.release.set()
                reading.join(WAIT)
            assert results[0].equals(expected)
            assert there.counts() == (2, 2)
    finally:
        planner.shutdown()
        other.shutdown()


# --- TLS ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> Iterator[tuple[FlightTestServer, bytes]]:
    ca, ca_cert, ca_key = make_ca()
    pair = issue(ca_cert, ca_key, "localhost", dns=("localhost",), ips=("127.0.0.1",))
    server = FlightTestServer(
        "grpc+tls://127.0.0.1:0",
        tls_certificates=[paflight.CertKeyPair(cert=pair.certificate, key=pair.private_key)],
    )
    server.add_table("rt/table", TABLE)
    server.add_flight("rt/reuse", [Endpoint(b"rt/table", (REUSE,))], schema=TABLE.schema)
    yield server, ca.certificate
    server.shutdown()


def test_tls_whole_flight_is_one_connection_like_pyarrow(
    tls: tuple[FlightTestServer, bytes],
) -> None:
    server, roots = tls
    with CountingProxy(f"127.0.0.1:{server.port}", http2=False) as proxy:
        uri = proxy.uri("grpc+tls")
        table = flightnb.read_flight(uri, path="rt/reuse", tls_root_certs=roots, progress=False)
        assert table.equals(TABLE)
        ours = proxy.counts()[0]
        proxy.reset()
        assert _pyarrow_read(uri, "rt/table", tls_root_certs=roots).equals(TABLE)
        assert ours == proxy.counts()[0] == 1


def test_unverified_tls_costs_one_connection_more(tls: tuple[FlightTestServer, bytes]) -> None:
    """disable_server_verification fetches the certificate on a connection of its own.

    gRPC's Python API cannot skip verification, so flightnb trusts the chain the server
    presents, fetched first: one TCP and TLS handshake more than pyarrow.flight, whose C++
    client skips the check in the handshake itself. Pinned so that the cost stays known.
    """
    server, _ = tls
    with CountingProxy(f"127.0.0.1:{server.port}", http2=False) as proxy:
        table = flightnb.read_flight(
            proxy.uri("grpc+tls"),
            path="rt/reuse",
            disable_server_verification=True,
            progress=False,
        )
        assert table.equals(TABLE)
        assert proxy.counts()[0] == 2

"""Every FlightService RPC through AsyncFlightClient against real pyarrow.flight servers."""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from corpus import CASES
from flight_servers import TEST_USERS

import flightnb
from flightnb import AsyncFlightClient, FlightDescriptor


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _do_get(location: str, ticket: Any, **options: Any) -> pa.Table:
    async with AsyncFlightClient(location, **options) as client:
        return await client.do_get(ticket).read_all()


def _reference(location: str, ticket: bytes) -> pa.Table:
    client = paflight.connect(location)
    try:
        return client.do_get(paflight.Ticket(ticket)).read_all()
    finally:
        client.close()


@pytest.mark.parametrize(("name", "table"), CASES, ids=[name for name, _ in CASES])
def test_do_get_corpus_matches_pyarrow_flight(
    flight_server: Any, name: str, table: pa.Table
) -> None:
    ticket = f"corpus/{name}".encode()
    ours = run(_do_get(flight_server.location, ticket))
    reference = _reference(flight_server.location, ticket)
    assert ours.equals(reference, check_metadata=True)
    assert ours.schema.equals(table.schema, check_metadata=True)


@pytest.mark.parametrize("server_fixture", ["flight_server", "unix_flight_server"])
def test_do_get_dictionary_replacements_tcp_and_unix(
    request: pytest.FixtureRequest, server_fixture: str
) -> None:
    server = request.getfixturevalue(server_fixture)
    ours = run(_do_get(server.location, b"dictionary"))
    assert ours.equals(_reference(server.location, b"dictionary"), check_metadata=True)
    assert ours.equals(server.table("dictionary"))


def test_do_get_accepts_str_bytes_and_pyarrow_tickets(flight_server: Any) -> None:
    expected = flight_server.table("numbers")
    for ticket in ("numbers", b"numbers", paflight.Ticket(b"numbers"), flightnb.Ticket(b"numbers")):
        assert run(_do_get(flight_server.location, ticket)).equals(expected)


def test_do_get_accepts_pyarrow_location(flight_server: Any) -> None:
    location = paflight.Location.for_grpc_tcp("127.0.0.1", flight_server.port)
    assert run(_do_get(location, b"ints")).equals(flight_server.table("ints"))


def test_app_metadata_travels_with_batches(flight_server: Any) -> None:
    async def chunks() -> list[Any]:
        async with AsyncFlightClient(flight_server.location) as client:
            return [chunk async for chunk in client.do_get(b"app_metadata")]

    got = run(chunks())
    assert [c.app_metadata for c in got] == [b"first", b"second", b"third"]
    assert sum(c.data.num_rows for c in got) == 30


def test_empty_stream_keeps_schema(flight_server: Any) -> None:
    table = run(_do_get(flight_server.location, b"empty"))
    assert table.num_rows == 0
    assert table.schema.equals(flight_server.table("empty").schema)


def test_batch_over_16_mib_with_default_options(flight_server: Any) -> None:
    rows = 3_000_000  # 24 MB of int64 in one batch, over grpcio's 4 MiB default limit
    big = pa.table({"x": pa.array(range(rows), pa.int64())})
    flight_server.add_table("client_tests/big", big, max_chunksize=rows)
    got = run(_do_get(flight_server.location, b"client_tests/big"))
    assert got.equals(big)
    assert got.column(0).chunks[0].buffers()[1].address % 64 == 0


def test_reader_stats_and_schema(flight_server: Any) -> None:
    async def read() -> tuple[Any, pa.Schema]:
        async with AsyncFlightClient(flight_server.location) as client:
            reader = client.do_get(b"batches_of_1000")
            schema = await reader.get_schema()
            await reader.read_all()
            return reader.stats, schema

    stats, schema = run(read())
    assert schema.equals(flight_server.table("numbers").schema)
    assert (stats.rows, stats.batches) == (10_000, 10)
    assert stats.bytes > 10_000 * 8


def test_list_flights_get_flight_info_and_schema(flight_server: Any) -> None:
    async def calls() -> tuple[Any, ...]:
        async with AsyncFlightClient(flight_server.location) as client:
            flights = [info async for info in client.list_flights()]
            info = await client.get_flight_info(FlightDescriptor.for_path("multi", "ordered"))
            schema = await client.get_schema(paflight.FlightDescriptor.for_path("numbers"))
            return flights, info, schema

    flights, info, schema = run(calls())
    paths = {"/".join(f.descriptor.path) for f in flights}
    assert {"numbers", "dictionary", "multi/ordered"} <= paths
    assert info.ordered and info.total_records == 300
    assert [e.ticket.ticket for e in info.endpoints] == [b"parts/0", b"parts/1", b"parts/2"]
    assert [str(loc) for loc in info.endpoints[0].locations] == [flight_server.location]
    assert schema.equals(flight_server.table("numbers").schema)


def test_actions(flight_server: Any) -> None:
    async def calls() -> tuple[Any, ...]:
        async with AsyncFlightClient(flight_server.location) as client:
            actions = await client.list_actions()
            echoed = [r.body async for r in client.do_action("echo", b"hello")]
            via_pyarrow = [
                r.body async for r in client.do_action(paflight.Action("echo", b"pyarrow"))
            ]
            return actions, echoed, via_pyarrow

    actions, echoed, via_pyarrow = run(calls())
    assert "echo" in {a.type for a in actions}
    assert echoed == [b"hello"]
    assert via_pyarrow == [b"pyarrow"]


def test_do_put_streams_batches_and_reads_put_results(flight_server: Any) -> None:
    table = flight_server.table("dictionary")

    async def upload() -> list[bytes]:
        async with AsyncFlightClient(flight_server.location) as client:
            descriptor = FlightDescriptor.for_path("client_tests", "upload")
            async with await client.do_put(descriptor, table.schema) as writer:
                for i, batch in enumerate(table.to_batches()):
                    await writer.write_batch(batch, app_metadata=f"m{i}".encode())
            return writer.results

    results = run(upload())
    assert results == [b"m0", b"m1", b"m2"]
    assert flight_server.uploads["client_tests/upload"].equals(table, check_metadata=True)


def test_do_exchange_round_trip_with_metadata(flight_server: Any) -> None:
    table = flight_server.table("numbers").slice(0, 2000)

    async def exchange() -> list[Any]:
        async with AsyncFlightClient(flight_server.location) as client:
            async with await client.do_exchange(FlightDescriptor.for_path("echo")) as stream:
                await stream.begin(table.schema)
                await stream.write_batch(table.to_batches()[0], app_metadata=b"one")
                await stream.write_metadata(b"only-metadata")
                await stream.done_writing()
                return [chunk async for chunk in stream]

    chunks = run(exchange())
    assert [c.app_metadata for c in chunks] == [b"one", b"only-metadata"]
    assert chunks[0].data.equals(table.to_batches()[0])
    assert chunks[1].data is None


def test_handshake_basic_auth_to_bearer_token(auth_flight_server: Any) -> None:
    username, password = next(iter(TEST_USERS.items()))

    async def login_and_read() -> pa.Table:
        async with AsyncFlightClient(auth_flight_server.location) as client:
            await client.handshake(username, password)
            assert "Secret" not in repr(client) and password not in repr(client)
            return await client.do_get(b"numbers").read_all()

    assert run(login_and_read()).equals(auth_flight_server.table("numbers"))


def test_missing_and_wrong_credentials(auth_flight_server: Any) -> None:
    with pytest.raises(flightnb.FlightUnauthenticatedError):
        run(_do_get(auth_flight_server.location, b"numbers"))

    async def bad_login() -> None:
        async with AsyncFlightClient(auth_flight_server.location) as client:
            await client.handshake("alice", "not-the-password")

    with pytest.raises(flightnb.FlightUnauthenticatedError) as excinfo:
        run(bad_login())
    assert "not-the-password" not in str(excinfo.value)


def test_closed_client_refuses_calls(flight_server: Any) -> None:
    async def use_after_close() -> None:
        client = AsyncFlightClient(flight_server.location)
        await client.close()
        await client.get_flight_info(FlightDescriptor.for_path("numbers"))

    with pytest.raises(flightnb.FlightClientClosedError):
        run(use_after_close())


def test_metadata_first_upload_carries_the_descriptor(flight_server: Any) -> None:
    table = flight_server.table("numbers").slice(0, 100)

    async def upload() -> list[bytes]:
        async with AsyncFlightClient(flight_server.location) as client:
            writer = await client.do_put(FlightDescriptor.for_path("client_tests", "meta_first"))
            async with writer:
                await writer.write_metadata(b"hello")
                await writer.write_table(table)
            return writer.results

    # Before the descriptor rode on the first message, pyarrow's server refused this upload
    # ("Descriptor missing on first message"). It drops the first message's app_metadata.
    run(upload())
    assert flight_server.uploads["client_tests/meta_first"].equals(table)


def test_pyarrow_flight_info_and_endpoint_are_accepted() -> None:
    import datetime as dt

    from flightnb.types import as_endpoint, as_info

    expires = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    endpoint = paflight.FlightEndpoint(
        b"t",
        ["grpc://127.0.0.1:1"],
        expiration_time=pa.scalar(expires, pa.timestamp("ns", tz="UTC")),
        app_metadata=b"meta",
    )
    ours = as_endpoint(endpoint)
    assert ours.ticket.ticket == b"t" and ours.expiration_time == expires
    assert [str(loc) for loc in ours.locations] == ["grpc://127.0.0.1:1"]
    schema = pa.schema([("x", pa.int64())])
    info = paflight.FlightInfo(schema, paflight.FlightDescriptor.for_path("p"), [endpoint], 5, 6)
    converted = as_info(info)
    assert converted.schema.equals(schema) and converted.total_records == 5
    assert converted.endpoints[0] == ours

"""The test servers themselves behave as documented (checked with pyarrow's own client)."""

from __future__ import annotations

import base64

import grpc
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from flight_servers import ERRORS, TEST_USERS, FlightTestServer, standard_tables

from flightnb._proto import Flight_pb2 as pb
from flightnb._proto import Flight_pb2_grpc as pb_grpc


def test_do_get_and_flight_info(
    pyarrow_flight_client: flight.FlightClient, flight_server: FlightTestServer
) -> None:
    expected = standard_tables()["dictionary"]
    info = pyarrow_flight_client.get_flight_info(flight.FlightDescriptor.for_path("dictionary"))
    assert info.schema == expected.schema
    assert info.total_records == expected.num_rows
    assert [e.ticket.ticket for e in info.endpoints] == [b"dictionary"]
    table = pyarrow_flight_client.do_get(info.endpoints[0].ticket).read_all()
    assert table.equals(expected, check_metadata=True)
    schema = pyarrow_flight_client.get_schema(flight.FlightDescriptor.for_path("dictionary"))
    assert schema.schema == expected.schema
    listed = {tuple(i.descriptor.path) for i in pyarrow_flight_client.list_flights(b"parts/")}
    assert listed == {(b"parts", b"0"), (b"parts", b"1"), (b"parts", b"2")}


def test_app_metadata_and_multi_endpoint(
    pyarrow_flight_client: flight.FlightClient,
    flight_server: FlightTestServer,
    other_flight_server: FlightTestServer,
) -> None:
    reader = pyarrow_flight_client.do_get(flight.Ticket(b"app_metadata"))
    metadata = []
    while True:
        try:
            chunk = reader.read_chunk()
        except StopIteration:
            break
        metadata.append(chunk.app_metadata.to_pybytes())
    assert metadata == [b"first", b"second", b"third"]

    info = pyarrow_flight_client.get_flight_info(
        flight.FlightDescriptor.for_path("multi", "other_server")
    )
    assert info.ordered
    locations = [[loc.uri.decode() for loc in e.locations] for e in info.endpoints]
    assert locations == [
        [flight_server.location],
        [other_flight_server.location],
        [other_flight_server.location, flight_server.location],
    ]
    unordered = pyarrow_flight_client.get_flight_info(
        flight.FlightDescriptor.for_path("multi", "unordered")
    )
    assert not unordered.ordered
    assert all(not e.locations for e in unordered.endpoints)


def test_put_exchange_actions(
    pyarrow_flight_client: flight.FlightClient, flight_server: FlightTestServer
) -> None:
    table = standard_tables()["dictionary"]
    descriptor = flight.FlightDescriptor.for_path("test_servers", "put")
    writer, results = pyarrow_flight_client.do_put(descriptor, table.schema)
    for i, batch in enumerate(table.to_batches()):
        writer.write_with_metadata(batch, pa.py_buffer(b"m%d" % i))
        assert results.read().to_pybytes() == b"m%d" % i
    writer.close()
    assert flight_server.table("test_servers/put").equals(table, check_metadata=True)
    assert flight_server.put_metadata["test_servers/put"] == [b"m0", b"m1", b"m2"]

    writer, reader = pyarrow_flight_client.do_exchange(flight.FlightDescriptor.for_path("exchange"))
    writer.write_metadata(pa.py_buffer(b"hello"))
    assert reader.read_chunk().app_metadata.to_pybytes() == b"hello"
    writer.begin(table.schema)
    writer.write_with_metadata(table.to_batches()[0], pa.py_buffer(b"b0"))
    chunk = reader.read_chunk()
    assert chunk.data.equals(table.to_batches()[0])
    assert chunk.app_metadata.to_pybytes() == b"b0"
    writer.close()

    echo = list(pyarrow_flight_client.do_action(flight.Action("echo", b"ping")))
    assert [r.body.to_pybytes() for r in echo] == [b"ping"]
    names = {a.type for a in pyarrow_flight_client.list_actions()}
    assert {"echo", "tables", "drop"} <= names


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_error_paths_have_the_documented_status(grpc_target: str, kind: str) -> None:
    with grpc.insecure_channel(grpc_target) as channel:
        stub = pb_grpc.FlightServiceStub(channel)
        for call in (
            lambda: list(stub.DoGet(pb.Ticket(ticket=f"error/{kind}".encode()))),
            lambda: list(stub.DoGet(pb.Ticket(ticket=f"error_after/{kind}".encode()))),
            lambda: stub.GetFlightInfo(pb.FlightDescriptor(type=1, path=["error", kind])),
            lambda: list(stub.DoAction(pb.Action(type=f"error/{kind}"))),
        ):
            with pytest.raises(grpc.RpcError) as info:
                call()
            assert info.value.code() == ERRORS[kind].code
            assert f"{kind} raised on purpose" in info.value.details()


def test_unix_socket_server(unix_flight_server: FlightTestServer) -> None:
    assert unix_flight_server.location.startswith("grpc+unix://")
    with grpc.insecure_channel(f"unix:{unix_flight_server.socket_path}") as channel:
        stub = pb_grpc.FlightServiceStub(channel)
        messages = list(stub.DoGet(pb.Ticket(ticket=b"ints")))
    assert len(messages) == 2  # schema, one batch


def test_auth_both_handshakes(auth_flight_server: FlightTestServer) -> None:
    user, password = next(iter(TEST_USERS.items()))
    target = auth_flight_server.location.removeprefix("grpc://")
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.FlightServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            list(stub.DoGet(pb.Ticket(ticket=b"ints")))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED

        basic = pb.BasicAuth(username=user, password=password).SerializeToString()
        (response,) = stub.Handshake(iter([pb.HandshakeRequest(payload=basic)]))
        token = response.payload.decode()
        assert (
            len(
                list(
                    stub.DoGet(
                        pb.Ticket(ticket=b"ints"), metadata=[("authorization", f"Bearer {token}")]
                    )
                )
            )
            == 2
        )

        wrong = pb.BasicAuth(username=user, password="nope").SerializeToString()
        with pytest.raises(grpc.RpcError) as info:
            list(stub.Handshake(iter([pb.HandshakeRequest(payload=wrong)])))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED

        header = base64.b64encode(f"{user}:{password}".encode()).decode()
        call = stub.Handshake(iter([]), metadata=[("authorization", f"Basic {header}")])
        assert list(call) == []
        bearer = dict(call.initial_metadata())["authorization"]
        assert bearer.startswith("Bearer ")
        assert (
            len(list(stub.DoGet(pb.Ticket(ticket=b"ints"), metadata=[("authorization", bearer)])))
            == 2
        )

    client = flight.connect(auth_flight_server.location)
    try:
        header_pair = client.authenticate_basic_token(user, password)
        options = flight.FlightCallOptions(headers=[header_pair])
        table = client.do_get(flight.Ticket(b"ints"), options).read_all()
        assert table.num_rows == standard_tables()["ints"].num_rows
    finally:
        client.close()

"""The Flight gRPC service alone: listening, raw and hostile requests, plain Flight backends."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import flightnb
from flightnb._proto import Flight_pb2
from flightnb.codec.encoder import FlightDataEncoder
from flightnb.codec.wire import encode_flight_data
from flightnb.functions.write import write_flight
from flightnb.server.calls import BatchStream, ServerCall, Upload
from flightnb.server.errors import already_exists
from flightnb.server.service import FlightServer, parse_listen_location

_METHOD = "/arrow.flight.protocol.FlightService/"


class _Store(FlightServer):
    """A plain Flight backend: tables by name, uploads create them once."""

    def __init__(self, location: str = "grpc://127.0.0.1:0") -> None:
        self.tables: dict[str, pa.Table] = {}
        self.callers: list[tuple[str, str | bytes | None]] = []
        super().__init__(location)

    def do_get(self, call: ServerCall, ticket: bytes) -> BatchStream:
        self.callers.append((call.peer(), call.headers.get("x-caller")))
        return BatchStream.of_table(self.tables[ticket.decode()])

    def do_put(
        self, call: ServerCall, descriptor: flight.FlightDescriptor, upload: Upload
    ) -> bytes | None:
        name = descriptor.path[0].decode()
        if name in self.tables:
            raise already_exists(f"table {name} already exists")
        self.tables[name] = upload.read_all()
        return str(self.tables[name].num_rows).encode()

    def list_flights(self, call: ServerCall, criteria: bytes) -> Iterable[flight.FlightInfo]:
        for name, table in self.tables.items():
            descriptor = flight.FlightDescriptor.for_path(name)
            endpoint = flight.FlightEndpoint(name.encode(), [])
            yield flight.FlightInfo(table.schema, descriptor, [endpoint], table.num_rows, -1)


@pytest.fixture
def store() -> Iterator[_Store]:
    server = _Store()
    try:
        yield server
    finally:
        server.shutdown()


def _channel(server: FlightServer) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{server.port}")


def store_location(server: FlightServer) -> str:
    return f"grpc://127.0.0.1:{server.port}"


def _dictionary_batches() -> pa.Table:
    # Two batches whose dictionaries differ: the second needs a replacement dictionary.
    first = pa.record_batch({"city": pa.array(["Oslo", "Lima", "Oslo"]).dictionary_encode()})
    second = pa.record_batch({"city": pa.array(["Pune", "Pune"]).dictionary_encode()})
    return pa.Table.from_batches([first, second])


def test_locations_it_listens_on() -> None:
    plain = parse_listen_location("grpc://127.0.0.1:0")
    assert (plain.target, plain.tls, plain.port, plain.socket_path) == (
        "127.0.0.1:0",
        False,
        0,
        None,
    )
    tls = parse_listen_location("grpc+tls://[::1]:443")
    assert (tls.target, tls.tls, tls.port) == ("[::1]:443", True, 443)
    for socket in ("grpc+unix:///tmp/s.sock", "unix:///tmp/s.sock"):
        listen = parse_listen_location(socket)
        assert (listen.target, listen.socket_path, listen.port) == (
            "unix:/tmp/s.sock",
            "/tmp/s.sock",
            None,
        )
    for bad in ("127.0.0.1:8815", "http://h:1", "grpc://h", "grpc://:1", "grpc+unix://"):
        with pytest.raises(ValueError):
            parse_listen_location(bad)
    with pytest.raises(ValueError, match="tls_certificates"):
        FlightServer("grpc+tls://127.0.0.1:0")


def test_a_port_in_use_is_refused_not_shared(store: _Store) -> None:
    with pytest.raises(OSError, match="in use"):
        FlightServer(f"grpc://127.0.0.1:{store.port}")


def test_a_unix_socket_is_removed_on_shutdown() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "flight.sock"
        server = _Store(f"grpc+unix://{path}")
        server.tables["t"] = pa.table({"x": [1, 2]})
        assert server.port == -1 and path.exists()
        assert (
            flightnb.read_flight(f"grpc+unix://{path}", ticket=b"t", progress=False).num_rows == 2
        )
        server.shutdown()
        server.shutdown()  # twice is harmless
        assert not path.exists()


def test_dictionaries_and_their_replacements_travel_both_ways(store: _Store) -> None:
    table = _dictionary_batches()
    client = flight.connect(f"grpc://127.0.0.1:{store.port}")
    try:
        writer, reader = client.do_put(flight.FlightDescriptor.for_path("cities"), table.schema)
        for batch in table.to_batches():
            writer.write_batch(batch)
        writer.done_writing()
        assert reader.read().to_pybytes() == b"5"
        writer.close()
        assert store.tables["cities"].column("city").to_pylist() == table["city"].to_pylist()
        back = client.do_get(flight.Ticket(b"cities")).read_all()
    finally:
        client.close()
    assert back.column("city").to_pylist() == ["Oslo", "Lima", "Oslo", "Pune", "Pune"]
    ours = flightnb.read_flight(store_location(store), ticket=b"cities", progress=False)
    assert ours.equals(back)


def test_already_exists_reaches_every_client_as_such(store: _Store) -> None:
    store.tables["t"] = pa.table({"x": [1]})
    with pytest.raises(flightnb.FlightAlreadyExistsError) as info:
        write_flight(store_location(store), pa.table({"x": [2]}), path="t", progress=False)
    assert info.value.code == "ALREADY_EXISTS"
    assert info.value.message == "table t already exists"
    client = flight.connect(store_location(store))
    try:
        with pytest.raises(pa.ArrowException) as refused:
            writer, _ = client.do_put(flight.FlightDescriptor.for_path("t"), pa.schema([]))
            writer.close()
        text = str(refused.value)
        assert "already exists error, with message: table t already exists." in text
        assert "Traceback" not in text
    finally:
        client.close()
    assert store.tables["t"].column("x").to_pylist() == [1]


def test_hostile_uploads_get_invalid_argument_and_the_server_stays_up(store: _Store) -> None:
    descriptor = Flight_pb2.FlightDescriptor(type=Flight_pb2.FlightDescriptor.PATH, path=["bad"])
    encoder = FlightDataEncoder(pa.schema([("x", pa.int64())]))
    bad_streams: list[list[bytes]] = [
        [],  # nothing at all
        [encoder.schema_message()],  # no descriptor
        [encode_flight_data(descriptor=descriptor.SerializeToString(), data_header=b"\x00" * 9)],
        [
            encoder.schema_message(descriptor=descriptor.SerializeToString()),
            encode_flight_data(data_header=b"", data_body=b"12345678"),
        ],
        [b"\xff\xff\xff"],  # not protobuf
    ]
    with _channel(store) as channel:
        do_put = channel.stream_stream(_METHOD + "DoPut")
        for messages in bad_streams:
            with pytest.raises(grpc.RpcError) as info:
                list(do_put(iter(messages), timeout=10))
            assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT, messages
            assert "Traceback" not in (info.value.details() or "")
    assert "bad" not in store.tables
    store.tables["t"] = pa.table({"x": [1, 2, 3]})
    assert flightnb.read_flight(store_location(store), ticket=b"t", progress=False).num_rows == 3


def test_calls_it_does_not_serve(store: _Store) -> None:
    with _channel(store) as channel:
        for name, kind in (("PollFlightInfo", "unary"), ("DoExchange", "bidi")):
            with pytest.raises(grpc.RpcError) as info:
                if kind == "unary":
                    channel.unary_unary(_METHOD + name)(b"", timeout=10)
                else:
                    list(channel.stream_stream(_METHOD + name)(iter([b""]), timeout=10))
            assert info.value.code() is grpc.StatusCode.UNIMPLEMENTED
            assert info.value.details() == f"{name} is not supported by this server"
        assert list(channel.stream_stream(_METHOD + "Handshake")(iter([]), timeout=10)) == []
    with flightnb.FlightClient(store_location(store)) as client:
        with pytest.raises(flightnb.FlightNotImplementedError, match="GetFlightInfo"):
            client.get_flight_info(flightnb.FlightDescriptor.for_path("t"))
        with pytest.raises(flightnb.FlightNotFoundError):
            client.do_get(b"missing").read_all()


def test_a_bug_of_a_backend_is_internal_with_its_class(store: _Store) -> None:
    class Broken(_Store):
        def list_flights(self, call: ServerCall, criteria: bytes) -> Any:
            raise ZeroDivisionError("division by zero")

    server = Broken()
    try:
        with flightnb.FlightClient(store_location(server)) as client:
            with pytest.raises(flightnb.FlightInternalError) as info:
                list(client.list_flights())
        assert info.value.message == "internal server error: ZeroDivisionError: division by zero"
    finally:
        server.shutdown()


def test_a_handler_sees_who_calls_and_their_headers(store: _Store) -> None:
    store.tables["t"] = pa.table({"x": [1]})
    with flightnb.FlightClient(store_location(store), headers={"x-caller": "notebook"}) as client:
        client.do_get(b"t").read_all()
    ((peer, caller),) = store.callers
    assert peer.startswith("ipv4:127.0.0.1:") and caller == "notebook"

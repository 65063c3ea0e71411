"""The most common user setup: their own Flight stubs, flightnb only for decoding.

Users generate ``Flight_pb2`` from ``Flight.proto`` with ``grpc_tools.protoc`` into protobuf's
default descriptor pool, call ``DoGet`` with plain gRPC and hand the call to flightnb. flightnb's
own generated modules live in a private pool, so both load in one process without a
"duplicate symbol" clash; the stubs are imported here in the same process as flightnb.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from flight_servers import FlightTestServer

import flightnb._proto.Flight_pb2 as flightnb_pb
from flightnb.codec import aiter_batches, read_table, read_table_async

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "protos" / "Flight.proto"
DO_GET = "/arrow.flight.protocol.FlightService/DoGet"


def _generate(out: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO.parent}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            str(PROTO),
        ],
        check=True,
    )


@pytest.fixture(scope="module")
def user_stubs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[types.ModuleType, types.ModuleType]]:
    """``Flight_pb2`` and ``Flight_pb2_grpc`` generated and imported the way users do it."""
    out = tmp_path_factory.mktemp("user_stubs")
    _generate(out)
    sys.path.insert(0, str(out))
    try:
        pb2 = importlib.import_module("Flight_pb2")
        pb2_grpc = importlib.import_module("Flight_pb2_grpc")
    finally:
        sys.path.remove(str(out))
    # Both sets of messages exist side by side, in different pools.
    assert pb2.DESCRIPTOR.pool is not flightnb_pb.DESCRIPTOR.pool
    assert pb2.FlightData.DESCRIPTOR.full_name == flightnb_pb.FlightData.DESCRIPTOR.full_name
    yield pb2, pb2_grpc


@pytest.fixture(scope="module")
def expected(unix_flight_server: FlightTestServer) -> pa.Table:
    """What pyarrow.flight's own client reads for the ``dictionary`` ticket."""
    client = flight.connect(unix_flight_server.location)
    try:
        table = client.do_get(flight.Ticket(b"dictionary")).read_all()
    finally:
        client.close()
    assert pa.types.is_dictionary(table.schema.field("color").type)
    assert table.column("color").num_chunks == 3
    return table


def _target(server: FlightTestServer) -> str:
    assert server.socket_path is not None
    return "unix:" + str(server.socket_path)


def test_async_read_table(
    user_stubs: tuple[types.ModuleType, types.ModuleType],
    unix_flight_server: FlightTestServer,
    expected: pa.Table,
) -> None:
    pb2, pb2_grpc = user_stubs

    async def main() -> tuple[pa.Table, pa.Table]:
        async with grpc.aio.insecure_channel(_target(unix_flight_server)) as channel:
            stub = pb2_grpc.FlightServiceStub(channel)
            table = await read_table_async(stub.DoGet(pb2.Ticket(ticket=b"dictionary")))
            batches = [
                batch async for batch in aiter_batches(stub.DoGet(pb2.Ticket(ticket=b"dictionary")))
            ]
        return table, pa.Table.from_batches(batches, schema=expected.schema)

    table, from_batches = asyncio.run(main())
    assert table.equals(expected, check_metadata=True)
    assert from_batches.equals(expected, check_metadata=True)


def test_async_raw_bytes(
    user_stubs: tuple[types.ModuleType, types.ModuleType],
    unix_flight_server: FlightTestServer,
    expected: pa.Table,
) -> None:
    """Without a response deserializer the call yields bytes, which the decoder reads too."""
    pb2, _ = user_stubs

    async def main() -> pa.Table:
        async with grpc.aio.insecure_channel(_target(unix_flight_server)) as channel:
            do_get = channel.unary_stream(DO_GET, request_serializer=pb2.Ticket.SerializeToString)
            return await read_table_async(do_get(pb2.Ticket(ticket=b"dictionary")))

    assert asyncio.run(main()).equals(expected, check_metadata=True)


def test_sync_read_table(
    user_stubs: tuple[types.ModuleType, types.ModuleType],
    unix_flight_server: FlightTestServer,
    expected: pa.Table,
) -> None:
    pb2, pb2_grpc = user_stubs
    with grpc.insecure_channel(_target(unix_flight_server)) as channel:
        stub = pb2_grpc.FlightServiceStub(channel)
        table = read_table(stub.DoGet(pb2.Ticket(ticket=b"dictionary")))
    assert table.equals(expected, check_metadata=True)


_IMPORT_BOTH = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    if sys.argv[2] == "user-first":
        import Flight_pb2, Flight_pb2_grpc
        import flightnb._proto.Flight_pb2_grpc as ours
    else:
        import flightnb._proto.Flight_pb2_grpc as ours
        import Flight_pb2, Flight_pb2_grpc
    from google.protobuf import descriptor_pool
    assert descriptor_pool.Default().FindMessageTypeByName("arrow.flight.protocol.FlightData")
    assert ours.Flight__pb2.FlightData is not Flight_pb2.FlightData
    print("ok")
""")


@pytest.mark.parametrize("order", ["user-first", "flightnb-first"])
def test_import_order_does_not_matter(tmp_path: Path, order: str) -> None:
    _generate(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", _IMPORT_BOTH, str(tmp_path), order],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

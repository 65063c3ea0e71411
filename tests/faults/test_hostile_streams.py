"""Hostile answers on the bidirectional calls: DoExchange, DoPut and Handshake."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import grpc
import pyarrow as pa
import pytest
from fault_server import FaultServer, Send, Status

import flightnb
from flightnb import AsyncFlightClient, FlightDescriptor
from flightnb._proto import Flight_pb2 as pb
from flightnb.codec import FlightDataEncoder, encode_flight_data

TABLE = pa.table({"n": pa.array(range(300), pa.int64())})
ENCODER = FlightDataEncoder(TABLE.schema)
MESSAGES = [ENCODER.schema_message(), *ENCODER.encode_table(TABLE, max_chunksize=100)]
GARBAGE_HEADER = encode_flight_data(data_header=b"\x13" * 40, data_body=b"\x00" * 64)
NOT_A_PROTOBUF = b"\xff\xff\xff\xff garbage"


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as running:
        yield running


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 30))


async def _exchange(location: str) -> pa.Table:
    async with AsyncFlightClient(location) as client:
        async with await client.do_exchange(FlightDescriptor.for_path("x")) as exchange:
            await exchange.begin(TABLE.schema)
            return await exchange.read_all()


def test_exchange_returns_all_rows_of_a_good_answer(server: FaultServer) -> None:
    server.stream_script("DoExchange", [Send(m) for m in MESSAGES])
    assert run(_exchange(server.location)).equals(TABLE)


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        ([Send(MESSAGES[0]), Send(GARBAGE_HEADER)], flightnb.FlightDecodeError),
        ([Send(NOT_A_PROTOBUF)], flightnb.FlightDecodeError),
        ([Send(MESSAGES[1])], flightnb.FlightDecodeError),  # a batch before the schema
        (
            [Send(MESSAGES[0]), Send(MESSAGES[1]), Status(grpc.StatusCode.INTERNAL, "boom")],
            flightnb.FlightInternalError,
        ),
        ([Status(grpc.StatusCode.PERMISSION_DENIED, "no")], flightnb.FlightUnauthorizedError),
    ],
    ids=["garbage_header", "not_protobuf", "batch_first", "error_after_data", "error_first"],
)
def test_exchange_hostile_answers_are_typed(
    server: FaultServer, steps: list[Any], error: type[Exception]
) -> None:
    server.stream_script("DoExchange", steps)
    with pytest.raises(error):
        run(_exchange(server.location))


async def _put(location: str) -> list[bytes]:
    async with AsyncFlightClient(location) as client:
        writer = await client.do_put(FlightDescriptor.for_path("x"), TABLE.schema)
        async with writer:
            pass  # the schema went out with begin(); close() drains the results
        return writer.results


def test_put_results_are_read(server: FaultServer) -> None:
    server.stream_script("DoPut", [Send(pb.PutResult(app_metadata=b"ok").SerializeToString())])
    assert run(_put(server.location)) == [b"ok"]


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        ([Send(NOT_A_PROTOBUF)], flightnb.FlightDecodeError),
        (
            [Status(grpc.StatusCode.ALREADY_EXISTS, "table exists")],
            flightnb.FlightAlreadyExistsError,
        ),
        ([Send(b""), Status(grpc.StatusCode.DATA_LOSS, "disk full")], flightnb.FlightInternalError),
    ],
    ids=["garbage_result", "error_status", "error_after_result"],
)
def test_put_hostile_answers_are_typed(
    server: FaultServer, steps: list[Any], error: type[Exception]
) -> None:
    server.stream_script("DoPut", steps)
    with pytest.raises(error):
        run(_put(server.location))


async def _handshake(location: str) -> None:
    async with AsyncFlightClient(location) as client:
        await client.handshake("user", "password")


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        ([Send(NOT_A_PROTOBUF)], flightnb.FlightDecodeError),
        ([Send(b"")], flightnb.FlightUnauthenticatedError),  # accepted, but no token at all
        (
            [Status(grpc.StatusCode.UNAUTHENTICATED, "bad password")],
            flightnb.FlightUnauthenticatedError,
        ),
    ],
    ids=["garbage_response", "no_token", "rejected"],
)
def test_handshake_hostile_answers_are_typed(
    server: FaultServer, steps: list[Any], error: type[Exception]
) -> None:
    server.stream_script("Handshake", steps)
    with pytest.raises(error) as excinfo:
        run(_handshake(server.location))
    assert "password" not in str(excinfo.value).replace("bad password", "")


def test_handshake_payload_token_is_used(server: FaultServer) -> None:
    server.stream_script(
        "Handshake", [Send(pb.HandshakeResponse(payload=b"token-from-payload").SerializeToString())]
    )

    async def login() -> str:
        async with AsyncFlightClient(server.location) as client:
            await client.handshake("user", "password")
            return repr(client)

    assert "token-from-payload" not in run(login())

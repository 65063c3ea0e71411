"""An abandoned read tells the server: CancelFlightInfo for the FlightInfo it holds.

Sent when a whole-flight read times out, is interrupted, is cancelled or is left early;
best effort, with a short deadline, never in place of the read's own error.
"""

from __future__ import annotations

import _thread
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow.flight as flight
import pytest
from streaming_servers import STOP_WITHIN, PartsServer, numbered

import flightnb
from flightnb._proto import Flight_pb2 as pb

TABLE = numbered(2000)


class CancellingServer(PartsServer):
    """A PartsServer that answers CancelFlightInfo and records the tickets it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled: list[list[bytes]] = []

    def do_action(self, context: Any, action: flight.Action) -> Iterator[bytes]:
        if action.type != "CancelFlightInfo":
            return super().do_action(context, action)
        request = pb.CancelFlightInfoRequest.FromString(action.body.to_pybytes())
        self.cancelled.append([e.ticket.ticket for e in request.info.endpoint])
        result = pb.CancelFlightInfoResult(status=pb.CANCEL_STATUS_CANCELLED)
        return iter([result.SerializeToString()])


def _slow_flight(server: PartsServer) -> None:
    # A batch a row, 50 ms apart: 100 s a part, so only the timeout, the interrupt or the
    # early exit under test can end a read of it.
    for name in ("a", "b"):
        server.add_part(name, TABLE, chunk=1, delay=0.05)
    endpoints = [flight.FlightEndpoint(name.encode(), []) for name in ("a", "b")]
    server.add_flight("slow", endpoints, TABLE.schema)
    server.add_part("fast", TABLE)
    server.add_flight("fast", [flight.FlightEndpoint(b"fast", [])], TABLE.schema)


@pytest.fixture
def server() -> Iterator[CancellingServer]:
    with CancellingServer() as server:
        _slow_flight(server)
        yield server


def test_a_timed_out_read_cancels_the_flight(server: CancellingServer) -> None:
    with pytest.raises(flightnb.FlightTimedOutError):
        flightnb.read_flight(server.location, path="slow", timeout=0.3, progress=False)
    assert server.cancelled == [[b"a", b"b"]]


def test_a_finished_read_cancels_nothing(server: CancellingServer) -> None:
    assert flightnb.read_flight(server.location, path="fast", progress=False).equals(TABLE)
    with flightnb.open_flight(server.location, path="fast", progress=False) as reader:
        assert reader.read_all().num_rows == TABLE.num_rows
    assert server.cancelled == []


def test_leaving_a_stream_early_cancels_the_flight(server: CancellingServer) -> None:
    with flightnb.open_flight(server.location, path="slow", progress=False) as reader:
        next(iter(reader))
    assert server.cancelled == [[b"a", b"b"]]


def test_an_interrupted_read_cancels_the_flight(server: CancellingServer) -> None:
    def interrupt_while_streaming() -> None:
        # Three batches sent: the read is under way (a 100 s one).
        if server.parts["a"].wait_sent(3, STOP_WITHIN):
            _thread.interrupt_main()

    interrupter = threading.Thread(target=interrupt_while_streaming)
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            flightnb.read_flight(server.location, path="slow", progress=False)
    finally:
        interrupter.join()
    assert server.cancelled == [[b"a", b"b"]]


def test_a_server_without_the_action_keeps_the_original_error() -> None:
    with PartsServer() as plain:  # answers CancelFlightInfo with UNIMPLEMENTED
        _slow_flight(plain)
        with pytest.raises(flightnb.FlightTimedOutError):
            flightnb.read_flight(plain.location, path="slow", timeout=0.3, progress=False)

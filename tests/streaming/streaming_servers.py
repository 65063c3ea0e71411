"""Servers for the streaming tests: several endpoints, slow scans, counting producers.

Every server is a real ``pyarrow.flight`` server on 127.0.0.1 port 0.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from flightnb._proto import Flight_pb2 as pb

__all__ = ["PartsServer", "dead_location", "numbered"]


def numbered(rows: int, start: int = 0, *, payload: int = 0) -> pa.Table:
    """``n`` = start..start+rows; ``payload`` adds a binary column of that many bytes a row."""
    columns: dict[str, Any] = {"n": pa.array(range(start, start + rows), pa.int64())}
    if payload:
        columns["blob"] = pa.array([b"x" * payload] * rows, pa.binary())
    return pa.table(columns)


class _Part:
    def __init__(
        self, table: pa.Table, chunk: int, delay: float, first_delay: float, fail_after: int | None
    ) -> None:
        self.table = table
        self.fail_after = fail_after
        self.chunk = chunk
        self.delay = delay
        self.first_delay = first_delay
        self.sent = 0  # batches handed to gRPC so far (the last DoGet)
        self.cancelled = threading.Event()


class PartsServer(flight.FlightServerBase):
    """Serves tickets ``b"<name>"`` (parts) and flights made of parts, possibly elsewhere.

    A part may sleep ``delay`` seconds before each batch and ``first_delay`` before the
    first, and fail with INTERNAL after ``fail_after`` batches; ``sent`` counts the batches
    its generator has produced, so tests can see how far the server got while the client
    held back. Handles ``RenewFlightEndpoint`` (extends the expiration by ``renew_by``) and
    records the tickets it renewed in ``renewed``.
    """

    def __init__(self, *, renew_by: float | None = 60.0) -> None:
        super().__init__("grpc://127.0.0.1:0")
        self.location = f"grpc://127.0.0.1:{self.port}"
        self.parts: dict[str, _Part] = {}
        self.flights: dict[str, flight.FlightInfo] = {}
        self.renewed: list[bytes] = []
        self.renew_by = renew_by
        self.gets: list[bytes] = []

    def add_part(
        self,
        name: str,
        table: pa.Table,
        *,
        chunk: int = 1000,
        delay: float = 0.0,
        first_delay: float = 0.0,
        fail_after: int | None = None,
    ) -> None:
        self.parts[name] = _Part(table, chunk, delay, first_delay, fail_after)

    def add_flight(
        self,
        name: str,
        endpoints: list[flight.FlightEndpoint],
        schema: pa.Schema,
        *,
        ordered: bool = False,
    ) -> None:
        descriptor = flight.FlightDescriptor.for_path(name)
        self.flights[name] = flight.FlightInfo(schema, descriptor, endpoints, -1, -1, ordered)

    def get_flight_info(self, context: Any, descriptor: flight.FlightDescriptor) -> Any:
        name = "/".join(p.decode() for p in descriptor.path)
        if name not in self.flights:
            raise KeyError(name)
        return self.flights[name]

    def do_get(self, context: Any, ticket: flight.Ticket) -> flight.FlightDataStream:
        name = ticket.ticket.decode()
        self.gets.append(ticket.ticket)
        part = self.parts[name]
        part.sent = 0

        def generate() -> Iterator[pa.RecordBatch]:
            if part.first_delay:
                time.sleep(part.first_delay)
            for batch in part.table.to_batches(max_chunksize=part.chunk):
                if context.is_cancelled():
                    part.cancelled.set()
                    return
                if part.delay:
                    time.sleep(part.delay)
                if part.fail_after is not None and part.sent >= part.fail_after:
                    raise flight.FlightInternalError("failing on purpose")
                part.sent += 1
                yield batch

        return flight.GeneratorStream(part.table.schema, generate())

    def do_action(self, context: Any, action: flight.Action) -> Iterator[bytes]:
        if action.type != "RenewFlightEndpoint" or self.renew_by is None:
            raise pa.ArrowNotImplementedError(f"no action {action.type!r}")
        request = pb.RenewFlightEndpointRequest.FromString(action.body.to_pybytes())
        endpoint = request.endpoint
        self.renewed.append(endpoint.ticket.ticket)
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=self.renew_by)
        endpoint.expiration_time.FromDatetime(later)
        return iter([endpoint.SerializeToString()])


def dead_location() -> str:
    """A loopback address nothing listens on (a server started and stopped)."""
    server = flight.FlightServerBase("grpc://127.0.0.1:0")
    port = server.port
    server.shutdown()
    return f"grpc://127.0.0.1:{port}"

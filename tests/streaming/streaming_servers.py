"""Servers for the streaming tests: several endpoints, slow scans, counting producers.

Every server is a real ``pyarrow.flight`` server on 127.0.0.1 port 0.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from flightnb._proto import Flight_pb2 as pb

__all__ = ["STOP_WITHIN", "PartsServer", "dead_location", "numbered", "released_by"]

# How long a cancelled producer may take to stop: far above the few milliseconds it takes,
# even on a loaded machine; a producer that was not cancelled runs for much longer.
STOP_WITHIN = 30.0


def numbered(rows: int, start: int = 0, *, payload: int = 0) -> pa.Table:
    """``n`` = start..start+rows; ``payload`` adds a binary column of that many bytes a row."""
    columns: dict[str, Any] = {"n": pa.array(range(start, start + rows), pa.int64())}
    if payload:
        columns["blob"] = pa.array([b"x" * payload] * rows, pa.binary())
    return pa.table(columns)


class _Part:
    def __init__(
        self,
        table: pa.Table,
        chunk: int,
        delay: float,
        first_delay: float,
        fail_after: int | None,
        repeat: int,
        gate: Callable[[], object] | None,
    ) -> None:
        self.table = table
        self.fail_after = fail_after
        self.chunk = chunk
        self.delay = delay
        self.first_delay = first_delay
        self.repeat = repeat
        self.gate = gate
        self.sent = 0  # batches handed to gRPC so far (the last DoGet)
        self.cancelled = threading.Event()
        self.finished = threading.Event()  # the last DoGet's producer ended, for any reason
        self._progress = threading.Condition()

    @property
    def batches(self) -> int:
        """Batches a whole DoGet of this part sends."""
        return len(self.table.to_batches(max_chunksize=self.chunk)) * self.repeat

    def count_one(self) -> None:
        with self._progress:
            self.sent += 1
            self._progress.notify_all()

    def wait_sent(self, count: int, timeout: float) -> bool:
        """Block until ``count`` batches were sent (True) or ``timeout`` seconds passed."""
        with self._progress:
            return self._progress.wait_for(lambda: self.sent >= count, timeout)

    def wait_stopped(self, timeout: float = STOP_WITHIN) -> bool:
        """Block until the last DoGet's producer ended; False if it still runs after ``timeout``."""
        return self.finished.wait(timeout)


class PartsServer(flight.FlightServerBase):
    """Serves tickets ``b"<name>"`` (parts) and flights made of parts, possibly elsewhere.

    A part may call ``gate`` (a function that blocks until the test lets it go on) and sleep
    ``first_delay`` seconds before its first batch, sleep ``delay`` before each batch, send its
    table ``repeat`` times, and fail with INTERNAL after ``fail_after`` batches. ``sent``
    counts the batches its generator has produced (``wait_sent`` waits for a count), so tests
    can see how far the server got while the client held back; ``finished`` is set when the
    producer ended, by running out, failing or being dropped after a cancelled call.
    Handles ``RenewFlightEndpoint`` (extends the expiration by ``renew_by``) and
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
        repeat: int = 1,
        gate: Callable[[], object] | None = None,
    ) -> None:
        self.parts[name] = _Part(table, chunk, delay, first_delay, fail_after, repeat, gate)

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
        part.finished.clear()

        def generate() -> Iterator[pa.RecordBatch]:
            # pyarrow stops pulling when a write to a cancelled call fails and then drops the
            # generator, which closes it: ``finally`` runs however the producer ends.
            try:
                if part.gate is not None:
                    part.gate()
                if part.first_delay:
                    time.sleep(part.first_delay)
                for _ in range(part.repeat):
                    for batch in part.table.to_batches(max_chunksize=part.chunk):
                        if context.is_cancelled():
                            part.cancelled.set()
                            return
                        if part.delay:
                            time.sleep(part.delay)
                        if part.fail_after is not None and part.sent >= part.fail_after:
                            raise flight.FlightInternalError("failing on purpose")
                        part.count_one()
                        yield batch
            finally:
                part.finished.set()

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


def released_by(event: threading.Event, within: float = STOP_WITHIN) -> Callable[[], None]:
    """A part's ``gate`` that waits for ``event``; past ``within`` seconds it fails the DoGet.

    The limit only turns a client that never lets the part go on into an error, not a hang.
    """

    def gate() -> None:
        if not event.wait(within):
            raise flight.FlightInternalError(f"the gate stayed shut for {within} s")

    return gate


def dead_location() -> str:
    """A loopback address nothing listens on (a server started and stopped)."""
    server = flight.FlightServerBase("grpc://127.0.0.1:0")
    port = server.port
    server.shutdown()
    return f"grpc://127.0.0.1:{port}"

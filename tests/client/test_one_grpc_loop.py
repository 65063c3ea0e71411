"""One-call helpers given a location do their gRPC work on flightnb's loop thread.

So a notebook that awaits ``read_flight_async`` and also makes blocking calls polls gRPC from
one event loop, not two (a second grpc.aio loop makes reads on both hand events over).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pyarrow as pa

import flightnb
from flightnb.functions.write import write_flight_async


class _Threads:
    """A progress observer that records the thread each event arrives on."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def started(self, **_: Any) -> None:
        self.seen.add(threading.current_thread().name)

    def polled(self, *_: Any, **__: Any) -> None:
        self.seen.add(threading.current_thread().name)

    def progressed(self, *_: Any) -> None:
        self.seen.add(threading.current_thread().name)

    def finished(self, error: BaseException | None) -> None:
        self.seen.add(threading.current_thread().name)


def test_read_and_write_async_with_a_location_run_on_the_loop_thread(flight_server: Any) -> None:
    reads, writes = _Threads(), _Threads()

    async def cell() -> pa.Table:
        table = await flightnb.read_flight_async(
            flight_server.location, ticket=b"numbers", progress=reads
        )
        await write_flight_async(
            flight_server.location, table.slice(0, 10), path="one_loop/put", progress=writes
        )
        return table

    table = asyncio.run(cell())
    assert table.equals(flight_server.table("numbers"))
    assert reads.seen == {"flightnb-loop"} and writes.seen == {"flightnb-loop"}
    assert flight_server.uploads["one_loop/put"].num_rows == 10


def test_an_async_client_keeps_its_own_loop(flight_server: Any) -> None:
    seen = _Threads()

    async def cell() -> pa.Table:
        async with flightnb.AsyncFlightClient(flight_server.location) as client:
            return await flightnb.read_flight_async(client, ticket=b"numbers", progress=seen)

    assert asyncio.run(cell()).num_rows == flight_server.table("numbers").num_rows
    assert seen.seen == {threading.current_thread().name}

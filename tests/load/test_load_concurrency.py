"""Many streams at once from one AsyncFlightClient: every one completes with the right data."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pyarrow as pa
import pytest

from flightnb import AsyncFlightClient, FlightDescriptor

pytestmark = pytest.mark.timeout(60)

STREAMS = 64
# A mix of shapes: one big batch, many batches, a dictionary column whose dictionary is
# replaced between batches, nested types, an empty stream, batches with app_metadata.
TICKETS = [
    "numbers",
    "batches_of_1000",
    "dictionary",
    "ints",
    "corpus/structs_and_maps",
    "corpus/dictionaries",
    "corpus/lists",
    "empty",
    "app_metadata",
]


def test_64_concurrent_do_gets_from_one_client(
    flight_server: Any, other_flight_server: Any
) -> None:
    """64 DoGets over two channels (two servers) at once, each equal to what was served."""
    servers = [flight_server, other_flight_server]
    plan = list(itertools.islice(itertools.cycle(TICKETS), STREAMS))

    async def main() -> list[tuple[int, str, pa.Table]]:
        async with AsyncFlightClient(flight_server.location, timeout=30) as client:

            async def one(i: int, ticket: str) -> tuple[int, str, pa.Table]:
                # Every other stream goes to the second server through ``location=``, so the
                # one client multiplexes streams on two channels.
                location = None if i % 2 == 0 else other_flight_server.location
                table = await client.do_get(ticket.encode(), location=location).read_all()
                return i, ticket, table

            results = await asyncio.gather(*(one(i, t) for i, t in enumerate(plan)))
            assert len(client._calls.channels) == 2
            assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            return results

    results = asyncio.run(main())  # a hang fails at the module's timeout
    assert len(results) == STREAMS
    for i, ticket, table in results:
        expected = servers[i % 2].table(ticket)
        assert table.equals(expected), (i, ticket)


def test_64_concurrent_whole_flights_and_infos(flight_server: Any) -> None:
    """GetFlightInfo + multi-endpoint reads, 64 at once: the unary path under load too."""

    async def main() -> list[pa.Table]:
        from flightnb.client.flights import read_descriptor

        async with AsyncFlightClient(flight_server.location, timeout=30) as client:
            descriptor = FlightDescriptor.for_path("multi", "ordered")
            return await asyncio.gather(
                *(read_descriptor(client, descriptor) for _ in range(STREAMS))
            )

    expected = pa.concat_tables([flight_server.table(f"parts/{i}") for i in range(3)])
    tables = asyncio.run(main())
    assert len(tables) == STREAMS
    assert all(t.equals(expected) for t in tables)


def test_64_concurrent_streams_in_lock_step(flight_server: Any) -> None:
    """64 readers open at once, read chunk by chunk, round-robin: no stream starves another."""

    async def main() -> list[pa.Table]:
        async with AsyncFlightClient(flight_server.location, timeout=30) as client:
            readers = [client.do_get(b"batches_of_1000") for _ in range(STREAMS)]
            parts: list[list[pa.RecordBatch]] = [[] for _ in readers]
            open_readers = set(range(STREAMS))
            while open_readers:
                chunks = await asyncio.gather(*(readers[i].read_chunk() for i in open_readers))
                for i, chunk in zip(list(open_readers), chunks, strict=True):
                    if chunk is None:
                        open_readers.discard(i)
                    elif chunk.data is not None:
                        parts[i].append(chunk.data)
            return [
                pa.Table.from_batches(p, schema=r.schema)
                for p, r in zip(parts, readers, strict=True)
            ]

    expected = flight_server.table("batches_of_1000")
    tables = asyncio.run(main())
    assert all(t.equals(expected) for t in tables)

"""``python -m flightnb demo``: serve sample data on loopback and read it back with flightnb."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pyarrow as pa
import pyarrow.flight as paflight

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.flights import read_descriptor
from flightnb.types import FlightDescriptor


def sample_table(rows: int = 2_000_000, seed: int = 7) -> pa.Table:
    """Generated trips: ints, floats, timestamps with a time zone, a dictionary column."""
    import numpy as np

    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-01-01T00:00:00", "us")
    zones = pa.array(["north", "south", "east", "west", "centre"]).dictionary_encode()
    return pa.table(
        {
            "trip_id": pa.array(np.arange(rows, dtype=np.int64)),
            "pickup_at": pa.array(
                start + rng.integers(0, 365 * 86_400 * 10**6, rows),
                pa.timestamp("us", tz="Europe/Berlin"),
            ),
            "distance_km": pa.array(rng.gamma(2.0, 3.0, rows)),
            "fare_eur": pa.array(np.round(rng.gamma(3.0, 6.0, rows), 2)),
            "passengers": pa.array(rng.integers(1, 7, rows, dtype=np.int8)),
            "zone": pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, len(zones.dictionary), rows, dtype=np.int32)),
                zones.dictionary,
            ),
        }
    )


class _SampleServer(paflight.FlightServerBase):
    """Serves one table under the path ``trips``, split over several endpoints."""

    def __init__(self, table: pa.Table, parts: int = 4) -> None:
        super().__init__("grpc://127.0.0.1:0")
        self._table = table
        self._parts = parts

    def _slice(self, index: int) -> pa.Table:
        size = -(-self._table.num_rows // self._parts)
        return self._table.slice(index * size, size)

    def get_flight_info(self, context: Any, descriptor: Any) -> paflight.FlightInfo:
        endpoints = [paflight.FlightEndpoint(str(i).encode(), []) for i in range(self._parts)]
        return paflight.FlightInfo(
            self._table.schema, descriptor, endpoints, self._table.num_rows, self._table.nbytes
        )

    def do_get(self, context: Any, ticket: Any) -> paflight.RecordBatchStream:
        part = self._slice(int(ticket.ticket))
        batches = part.to_batches(max_chunksize=65_536)
        return paflight.RecordBatchStream(pa.Table.from_batches(batches, schema=part.schema))


async def _read(uri: str) -> tuple[pa.Table, float]:
    async with AsyncFlightClient(uri) as client:
        started = time.perf_counter()
        table = await read_descriptor(client, FlightDescriptor.for_path("trips"))
        return table, time.perf_counter() - started


def run_demo(rows: int = 2_000_000) -> None:
    """Start the sample server, read the whole flight, print what was read."""
    print(f"generating {rows:,} sample rows ...")
    server = _SampleServer(sample_table(rows))
    threading.Thread(target=server.serve, daemon=True).start()
    uri = f"grpc://127.0.0.1:{server.port}"
    try:
        print(f"serving on {uri}; reading path 'trips' with flightnb.AsyncFlightClient")
        table, seconds = asyncio.run(_read(uri))
    finally:
        server.shutdown()
    mib = table.nbytes / 2**20
    print(f"rows        {table.num_rows:,}")
    print(f"columns     {table.num_columns}: {', '.join(table.column_names)}")
    print(f"bytes       {mib:,.1f} MiB")
    print(f"time        {seconds:.3f} s")
    print(f"throughput  {mib / seconds:,.0f} MiB/s, {table.num_rows / seconds:,.0f} rows/s")
    print("preview:")
    preview = table.slice(0, 5)
    try:
        print(preview.to_pandas().to_string(index=False))
    except ImportError:
        print(preview.to_string(preview_cols=5))

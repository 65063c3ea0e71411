"""``python -m flightnb demo``: the embedded Flight SQL server, read back with flightnb.

Starts the DuckDB-backed server on 127.0.0.1 with generated sample data (nothing is
downloaded), then walks through what a notebook user does: a whole-table read with the async
client, a Flight SQL query with bound parameters, and a metadata call, printing rows, bytes,
time and throughput for each.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pyarrow as pa

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.flights import read_descriptor
from flightnb.progress.state import format_bytes
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.types import FlightDescriptor

DEFAULT_ROWS = 1_000_000

_QUERY = """
SELECT s.city, t.rider_type, count(*) AS trips, round(avg(t.fare), 2) AS avg_fare_eur
FROM trips t JOIN stations s ON s.station_id = t.start_station_id
WHERE t.distance_km > ? AND t.bike_type = ?
GROUP BY ALL ORDER BY trips DESC LIMIT 8
"""


def _preview(table: pa.Table, rows: int = 5, columns: int = 7) -> str:
    head = table.slice(0, rows).select(table.column_names[:columns])
    try:
        return str(head.to_pandas().to_string(index=False))
    except ImportError:
        return str(head.to_string(preview_cols=8))


def _report(title: str, table: pa.Table, seconds: float) -> None:
    print(f"\n== {title}")
    print(f"rows        {table.num_rows:,}")
    print(f"columns     {table.num_columns}: {', '.join(table.column_names)}")
    print(f"bytes       {format_bytes(table.nbytes)}")
    print(f"time        {seconds:.3f} s")
    if seconds > 0:
        rate = f"{format_bytes(table.nbytes / seconds)}/s, {table.num_rows / seconds:,.0f} rows/s"
        print(f"throughput  {rate}")
    print(_preview(table))


async def _tour(uri: str) -> None:
    async with AsyncFlightClient(uri) as client:
        started = time.perf_counter()
        trips = await read_descriptor(client, FlightDescriptor.for_path("trips"))
        _report(
            "DoGet of the whole 'trips' table (AsyncFlightClient)",
            trips,
            time.perf_counter() - started,
        )

        sql = AsyncFlightSqlClient(client)
        started = time.perf_counter()
        busiest = await sql.query(_QUERY, [5.0, "electric"])
        _report(
            "Flight SQL query with parameters (5.0 km, 'electric') bound as Arrow values",
            busiest,
            time.perf_counter() - started,
        )

        tables: Any = await sql.get_tables()
        print("\n== Flight SQL metadata: tables")
        print(", ".join(tables.column("table_name").to_pylist()))


def run_demo(rows: int = DEFAULT_ROWS) -> None:
    """Start the embedded server, run the tour, stop the server."""
    from flightnb.server import serve

    print(f"starting the embedded Flight SQL server with {rows:,} generated trips ...")
    started = time.perf_counter()
    server = serve(sample_size=rows, block=False)
    try:
        print(f"serving on {server.location} (ready in {time.perf_counter() - started:.1f} s)")
        asyncio.run(_tour(server.location))
    finally:
        server.shutdown()
    print(
        "\nnext: `python -m flightnb serve` keeps a server running on grpc://127.0.0.1:8815;"
        " the notebooks/ use it when FLIGHTNB_URI=grpc://localhost:8815 is set"
    )

"""Whole-flight reads: GetFlightInfo, then DoGet every endpoint concurrently."""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.observer import TransferObserver, notify, observed_transfer
from flightnb.errors import FlightDecodeError, FlightUnavailableError
from flightnb.transport.locations import is_reuse_connection
from flightnb.types import FlightDescriptor, FlightEndpoint, FlightInfo, Location

__all__ = ["read_descriptor", "read_flight_info"]

DEFAULT_MAX_CONCURRENCY = 4


def _locations_to_try(endpoint: FlightEndpoint) -> list[Location | None]:
    """Endpoint locations in order, then the original connection (None) if not listed."""
    tried: list[Location | None] = []
    for location in endpoint.locations:
        entry = None if is_reuse_connection(location) else location
        if entry not in tried:
            tried.append(entry)
    if None not in tried:
        tried.append(None)
    return tried


async def _read_endpoint(
    client: AsyncFlightClient,
    endpoint: FlightEndpoint,
    index: int,
    schema: pa.Schema | None,
    observer: TransferObserver | None,
    timeout: float | None,
) -> tuple[list[pa.RecordBatch], pa.Schema | None]:
    last_error: FlightUnavailableError | None = None
    for location in _locations_to_try(endpoint):
        reader = client.do_get(endpoint.ticket, location=location, schema=schema, timeout=timeout)
        if observer is not None:
            reader.on_progress = lambda stats: notify(observer, "progressed", index, stats)
        batches: list[pa.RecordBatch] = []
        try:
            async with reader:
                while (chunk := await reader.read_chunk()) is not None:
                    if chunk.data is not None:
                        batches.append(chunk.data)
        except FlightUnavailableError as exc:
            # Only an endpoint that gave us nothing can be retried elsewhere without
            # duplicating rows.
            if reader.stats.messages:
                raise
            last_error = exc
            continue
        return batches, reader.schema
    assert last_error is not None
    raise last_error


async def read_flight_info(
    client: AsyncFlightClient,
    info: FlightInfo,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    observer: TransferObserver | None = None,
    timeout: float | None = None,
) -> pa.Table:
    """Read every endpoint of ``info`` into one Table, in endpoint order.

    Endpoints are fetched concurrently (at most ``max_concurrency`` at once). Each endpoint
    tries its locations in order and falls back to the server that returned ``info``.
    Results are always assembled in endpoint order, which is what ``info.ordered`` asks for.
    """
    semaphore = asyncio.Semaphore(max(1, max_concurrency))

    async def bounded(index: int, endpoint: FlightEndpoint) -> Any:
        async with semaphore:
            return await _read_endpoint(client, endpoint, index, info.schema, observer, timeout)

    async with observed_transfer(observer, info=info, parts=len(info.endpoints)):
        tasks = [asyncio.ensure_future(bounded(i, e)) for i, e in enumerate(info.endpoints)]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        schema = (
            info.schema
            if info.schema is not None
            else next((s for _, s in results if s is not None), None)
        )
        if schema is None:
            raise FlightDecodeError("neither FlightInfo nor any endpoint stream carried a schema")
        return pa.Table.from_batches(
            [b for batches, _ in results for b in batches], schema=_stream_schema(schema, results)
        )


def _stream_schema(
    planned: pa.Schema, results: list[tuple[list[pa.RecordBatch], pa.Schema | None]]
) -> pa.Schema:
    """The streams' own schema wins over FlightInfo's (it is what the batches have)."""
    for batches, schema in results:
        if schema is not None and batches:
            return schema
    return next((s for _, s in results if s is not None), planned)


async def read_descriptor(
    client: AsyncFlightClient,
    descriptor: FlightDescriptor,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    observer: TransferObserver | None = None,
    timeout: float | None = None,
) -> pa.Table:
    """GetFlightInfo for ``descriptor``, then :func:`read_flight_info`."""
    info = await client.get_flight_info(descriptor, timeout=timeout)
    return await read_flight_info(
        client, info, max_concurrency=max_concurrency, observer=observer, timeout=timeout
    )

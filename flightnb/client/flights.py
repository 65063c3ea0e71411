"""Whole-flight reads: GetFlightInfo, then DoGet every endpoint concurrently."""

from __future__ import annotations

import pyarrow as pa

from flightnb.client.batch_stream import open_stream
from flightnb.client.observer import TransferObserver
from flightnb.client.rpcs import FlightRpcs
from flightnb.types import FlightDescriptor, FlightInfo, Ticket

__all__ = ["read_descriptor", "read_flight_info", "read_ticket"]

#: What Flight SQL's ``query(max_concurrency=...)`` defaults to; whole-flight reads without
#: an explicit value adapt instead (see :func:`~flightnb.client.batch_stream.default_concurrency`).
DEFAULT_MAX_CONCURRENCY = 4


async def read_flight_info(
    client: FlightRpcs,
    info: FlightInfo,
    *,
    max_concurrency: int | None = None,
    observer: TransferObserver | None = None,
    timeout: float | None = None,
) -> pa.Table:
    """Read every endpoint of ``info`` into one Table, in endpoint order.

    A drain of the stream :func:`flightnb.open_flight` returns: endpoints are fetched
    concurrently (``max_concurrency`` at once; default one per endpoint, up to 16), each
    trying its locations in order and falling back to the server that returned ``info``;
    batches are taken as they arrive and assembled in endpoint order, which is what
    ``info.ordered`` asks for.
    """
    return await _drain(client, info, max_concurrency, observer, timeout)


async def read_ticket(
    client: FlightRpcs,
    ticket: Ticket,
    *,
    observer: TransferObserver | None = None,
    timeout: float | None = None,
) -> pa.Table:
    """One DoGet into a Table (the same stream as a whole-flight read, of one endpoint)."""
    return await _drain(client, ticket, None, observer, timeout)


async def _drain(
    client: FlightRpcs,
    what: FlightInfo | Ticket,
    max_concurrency: int | None,
    observer: TransferObserver | None,
    timeout: float | None,
) -> pa.Table:
    stream = await open_stream(
        client,
        what,
        max_concurrency=max_concurrency,
        preserve_order=False,
        observer=observer,
        timeout=timeout,
        wait_schema=False,
    )
    try:
        return await stream.read_table()
    finally:
        await stream.aclose()  # cancels every call if the read failed or was cancelled


async def read_descriptor(
    client: FlightRpcs,
    descriptor: FlightDescriptor,
    *,
    max_concurrency: int | None = None,
    observer: TransferObserver | None = None,
    timeout: float | None = None,
) -> pa.Table:
    """GetFlightInfo for ``descriptor``, then :func:`read_flight_info`."""
    info = await client.get_flight_info(descriptor, timeout=timeout)
    return await read_flight_info(
        client, info, max_concurrency=max_concurrency, observer=observer, timeout=timeout
    )

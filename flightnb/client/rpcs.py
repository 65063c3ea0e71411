"""The Flight calls the layers above the client make: a protocol, so they need not import it.

The batch stream, whole-flight reads and Flight SQL polling call a handful of
:class:`~flightnb.client.aio.AsyncFlightClient` methods. Typing them against this protocol
instead of the class keeps those modules below the client, which builds its one-call
operations (:mod:`flightnb.client.operations`) on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from flightnb.client.streams import FlightStreamReader
    from flightnb.transport.auth import Headers
    from flightnb.types import (
        CancelStatus,
        FlightDescriptor,
        FlightEndpoint,
        FlightInfo,
        Location,
        PollInfo,
        TicketLike,
    )

__all__ = ["FlightRpcs"]


class FlightRpcs(Protocol):
    """The calls of an :class:`~flightnb.client.aio.AsyncFlightClient` that reads build on."""

    async def get_flight_info(
        self, descriptor: FlightDescriptor, *, timeout: float | None = ..., headers: Headers = ...
    ) -> FlightInfo: ...

    async def poll_flight_info(
        self, descriptor: FlightDescriptor, *, timeout: float | None = ..., headers: Headers = ...
    ) -> PollInfo: ...

    def do_get(
        self,
        ticket: TicketLike,
        *,
        location: Location | str | None = ...,
        schema: pa.Schema | None = ...,
        timeout: float | None = ...,
    ) -> FlightStreamReader: ...

    async def renew_flight_endpoint(
        self, endpoint: FlightEndpoint, *, timeout: float | None = ..., headers: Headers = ...
    ) -> FlightEndpoint: ...

    async def cancel_flight_info(
        self, info: FlightInfo, *, timeout: float | None = ..., headers: Headers = ...
    ) -> CancelStatus: ...

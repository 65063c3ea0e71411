"""The Flight calls the layers above the client make: a protocol, so they need not import it.

The batch stream, whole-flight reads and Flight SQL polling call a handful of
:class:`~flightnb.client.aio.AsyncFlightClient` methods. Typing them against this protocol
instead of the class keeps those modules below the client, which builds its one-call
operations (:mod:`flightnb.client.operations`) on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from flightnb.client.observer import TransferObserver
    from flightnb.client.streams import (
        AsyncFlightExchange,
        AsyncFlightPutWriter,
        AsyncFlightStreamReader,
    )
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

__all__ = ["FlightRpcs", "SqlPlanner"]


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
    ) -> AsyncFlightStreamReader: ...

    async def renew_flight_endpoint(
        self, endpoint: FlightEndpoint, *, timeout: float | None = ..., headers: Headers = ...
    ) -> FlightEndpoint: ...

    async def do_put(
        self,
        descriptor: FlightDescriptor,
        schema: pa.Schema | None = ...,
        *,
        timeout: float | None = ...,
        headers: Headers = ...,
    ) -> AsyncFlightPutWriter: ...

    async def do_exchange(
        self, descriptor: FlightDescriptor, *, timeout: float | None = ..., headers: Headers = ...
    ) -> AsyncFlightExchange: ...

    async def cancel_flight_info(
        self, info: FlightInfo, *, timeout: float | None = ..., headers: Headers = ...
    ) -> CancelStatus: ...

    async def _connect_ahead(self, location: Location | str | None) -> None: ...


class SqlPlanner(Protocol):
    """What a read of ``sql=`` asks of a Flight SQL client: plan or run one query, then close.

    Closing ends the statements prepared for the query's parameters.
    """

    async def execute(
        self, query: str, parameters: Any = ..., *, timeout: float | None = ...
    ) -> FlightInfo: ...

    async def query(
        self,
        query: str,
        parameters: Any = ...,
        *,
        max_concurrency: int = ...,
        observer: TransferObserver | None = ...,
        timeout: float | None = ...,
    ) -> pa.Table: ...

    async def close(self) -> None: ...

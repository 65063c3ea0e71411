"""flightnb: Arrow Flight and Flight SQL for notebooks, on grpc.aio."""

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.streams import FlightStreamChunk, FlightStreamReader
from flightnb.client.sync import FlightClient
from flightnb.errors import (
    FlightAlreadyExistsError,
    FlightCancelledError,
    FlightClientClosedError,
    FlightDecodeError,
    FlightError,
    FlightInternalError,
    FlightInvalidArgumentError,
    FlightNotFoundError,
    FlightNotImplementedError,
    FlightResourceExhaustedError,
    FlightServerError,
    FlightTimedOutError,
    FlightUnauthenticatedError,
    FlightUnauthorizedError,
    FlightUnavailableError,
)
from flightnb.read import read_flight, read_flight_async
from flightnb.sql import AsyncFlightSqlClient, FlightSqlClient
from flightnb.types import (
    Action,
    ActionType,
    CancelStatus,
    DescriptorType,
    FlightDescriptor,
    FlightEndpoint,
    FlightInfo,
    Location,
    PollInfo,
    Result,
    Ticket,
)

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ActionType",
    "AsyncFlightClient",
    "AsyncFlightSqlClient",
    "CancelStatus",
    "DescriptorType",
    "FlightAlreadyExistsError",
    "FlightCancelledError",
    "FlightClient",
    "FlightClientClosedError",
    "FlightDecodeError",
    "FlightDescriptor",
    "FlightEndpoint",
    "FlightError",
    "FlightInfo",
    "FlightInternalError",
    "FlightInvalidArgumentError",
    "FlightNotFoundError",
    "FlightNotImplementedError",
    "FlightResourceExhaustedError",
    "FlightServerError",
    "FlightSqlClient",
    "FlightStreamChunk",
    "FlightStreamReader",
    "FlightTimedOutError",
    "FlightUnauthenticatedError",
    "FlightUnauthorizedError",
    "FlightUnavailableError",
    "Location",
    "PollInfo",
    "Result",
    "Ticket",
    "__version__",
    "read_flight",
    "read_flight_async",
]


def load_ipython_extension(ipython: object) -> None:
    """Support ``%load_ext flightnb``; IPython is imported only here."""
    from flightnb.notebook import load_ipython_extension as load

    load(ipython)

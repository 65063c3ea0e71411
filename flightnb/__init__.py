"""flightnb: Arrow Flight and Flight SQL for notebooks, on grpc.aio."""

# First, before anything imports grpc: in a Jupyter kernel, keep gRPC core's log lines out
# of the cells (gRPC reads GRPC_VERBOSITY once, at import).
from flightnb import _before_grpc  # noqa: F401
from flightnb.client.aio import AsyncFlightClient
from flightnb.client.batch_reader import AsyncFlightBatchReader, FlightBatchReader
from flightnb.client.streams import (
    AsyncFlightExchange,
    AsyncFlightPutWriter,
    AsyncFlightStreamReader,
    FlightStreamChunk,
)
from flightnb.client.sync import FlightClient, FlightExchange, FlightPutWriter, FlightStreamReader
from flightnb.errors import (
    FlightAlreadyExistsError,
    FlightArgumentError,
    FlightArgumentTypeError,
    FlightCancelledError,
    FlightCapabilityError,
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
    FlightUsageError,
)
from flightnb.read import read_flight, read_flight_async
from flightnb.sinks import FlightSinkError, WriteSummary, write_dataset, write_ipc, write_parquet
from flightnb.sql import AsyncFlightSqlClient, FlightSqlClient
from flightnb.streaming import open_flight, open_flight_async
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
from flightnb.write import PutSummary, write_flight, write_flight_async

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ActionType",
    "AsyncFlightBatchReader",
    "AsyncFlightClient",
    "AsyncFlightExchange",
    "AsyncFlightPutWriter",
    "AsyncFlightSqlClient",
    "AsyncFlightStreamReader",
    "CancelStatus",
    "DescriptorType",
    "FlightAlreadyExistsError",
    "FlightArgumentError",
    "FlightArgumentTypeError",
    "FlightBatchReader",
    "FlightCancelledError",
    "FlightCapabilityError",
    "FlightClient",
    "FlightClientClosedError",
    "FlightDecodeError",
    "FlightDescriptor",
    "FlightEndpoint",
    "FlightError",
    "FlightExchange",
    "FlightInfo",
    "FlightInternalError",
    "FlightInvalidArgumentError",
    "FlightNotFoundError",
    "FlightNotImplementedError",
    "FlightPutWriter",
    "FlightResourceExhaustedError",
    "FlightServerError",
    "FlightSinkError",
    "FlightSqlClient",
    "FlightStreamChunk",
    "FlightStreamReader",
    "FlightTimedOutError",
    "FlightUnauthenticatedError",
    "FlightUnauthorizedError",
    "FlightUnavailableError",
    "FlightUsageError",
    "Location",
    "PollInfo",
    "PutSummary",
    "Result",
    "Ticket",
    "WriteSummary",
    "__version__",
    "open_flight",
    "open_flight_async",
    "read_flight",
    "read_flight_async",
    "write_dataset",
    "write_flight",
    "write_flight_async",
    "write_ipc",
    "write_parquet",
]


def load_ipython_extension(ipython: object) -> None:
    """Support ``%load_ext flightnb``; IPython is imported only here."""
    from flightnb.notebook import load_ipython_extension as load

    load(ipython)

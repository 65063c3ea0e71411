"""flightnb: Arrow Flight and Flight SQL for notebooks, on grpc.aio.

The clients, readers and one-call functions are imported on first use (PEP 562), so that
``import flightnb.server`` or ``import flightnb.codec`` loads neither the client nor
``grpc.aio``; the errors and value types, which both sides use, are imported at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# First, before anything imports grpc: in a Jupyter kernel, keep gRPC core's log lines out
# of the cells (gRPC reads GRPC_VERBOSITY once, at import).
from flightnb import _before_grpc  # noqa: F401
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

if TYPE_CHECKING:
    from flightnb.client.aio import AsyncFlightClient
    from flightnb.client.batch_reader import AsyncFlightBatchReader, FlightBatchReader
    from flightnb.client.operations import PutSummary
    from flightnb.client.streams import (
        AsyncFlightExchange,
        AsyncFlightPutWriter,
        AsyncFlightStreamReader,
        FlightStreamChunk,
    )
    from flightnb.client.sync import (
        FlightClient,
        FlightExchange,
        FlightPutWriter,
        FlightStreamReader,
    )
    from flightnb.functions import (
        open_flight,
        open_flight_async,
        read_flight,
        read_flight_async,
        write_dataset,
        write_flight,
        write_flight_async,
        write_ipc,
        write_parquet,
    )
    from flightnb.sink_files import FlightSinkError, WriteSummary
    from flightnb.sql import AsyncFlightSqlClient, FlightSqlClient

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

#: Where each name that needs the client lives: imported when first asked for.
_LAZY = {
    "AsyncFlightBatchReader": "flightnb.client.batch_reader",
    "AsyncFlightClient": "flightnb.client.aio",
    "AsyncFlightExchange": "flightnb.client.streams",
    "AsyncFlightPutWriter": "flightnb.client.streams",
    "AsyncFlightSqlClient": "flightnb.sql",
    "AsyncFlightStreamReader": "flightnb.client.streams",
    "FlightBatchReader": "flightnb.client.batch_reader",
    "FlightClient": "flightnb.client.sync",
    "FlightExchange": "flightnb.client.sync",
    "FlightPutWriter": "flightnb.client.sync",
    "FlightSinkError": "flightnb.sink_files",
    "FlightSqlClient": "flightnb.sql",
    "FlightStreamChunk": "flightnb.client.streams",
    "FlightStreamReader": "flightnb.client.sync",
    "PutSummary": "flightnb.client.operations",
    "WriteSummary": "flightnb.sink_files",
    "open_flight": "flightnb.functions",
    "open_flight_async": "flightnb.functions",
    "read_flight": "flightnb.functions",
    "read_flight_async": "flightnb.functions",
    "write_dataset": "flightnb.functions",
    "write_flight": "flightnb.functions",
    "write_flight_async": "flightnb.functions",
    "write_ipc": "flightnb.functions",
    "write_parquet": "flightnb.functions",
}


#: Submodules that ``import flightnb`` loaded when it imported the client at once, and the
#: one-call package; code that reaches them as attributes (``flightnb.functions.write``)
#: finds them on first use. ``read``, ``sinks``, ``streaming`` and ``write`` moved into
#: ``functions``: their old modules answer, each name with a DeprecationWarning, for one
#: more release.
_SUBMODULES = frozenset(
    {
        "client",
        "codec",
        "convert",
        "functions",
        "narrowing",
        "progress",
        "read",
        "requests",
        "runtime_files",
        "sinks",
        "sql",
        "streaming",
        "transport",
        "write",
    }
)


if not TYPE_CHECKING:
    # Hidden from type checkers, which see the names through the imports above and so still
    # flag a misspelt one.

    def __getattr__(name: str) -> object:
        if name in _SUBMODULES:
            return importlib.import_module(f"{__name__}.{name}")  # sets the attribute too
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # asked once: later lookups find it without this hook
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})


def load_ipython_extension(ipython: object) -> None:
    """Support ``%load_ext flightnb``; IPython is imported only here."""
    from flightnb.notebook import load_ipython_extension as load

    load(ipython)

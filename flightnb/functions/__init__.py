"""The one-call functions: read, stream, upload, exchange or save a flight in one call.

Each function opens a client for a location URI, or uses the client given (and never closes
it), and calls the client method of the same name
(:class:`~flightnb.client.operations.AsyncFlightOperations`): ``read_flight(uri, ...)`` is
``FlightSqlClient(uri).read_flight(...)``. A client it opened closes when the call ends, or,
for a stream, when the stream does. The functions have nothing of their own: every option
and every behaviour is the method's, so the functions and the methods cannot drift apart.

The package is the one-call layer, one module per job:

- :mod:`flightnb.functions.sources`: which client a function calls, and on which loop;
- :mod:`flightnb.functions.read`: ``read_flight`` and ``read_flight_async``;
- :mod:`flightnb.functions.streaming`: ``open_flight`` and ``open_flight_async`` (and the
  stream planning the polars scan and the Dask and Ray workers share);
- :mod:`flightnb.functions.write`: ``write_flight``, ``exchange_flight`` and their async
  twins;
- :mod:`flightnb.functions.sinks`: ``write_parquet``, ``write_ipc`` and ``write_dataset``.

The most used of them are exported by :mod:`flightnb` itself (``flightnb.read_flight``).
Importing this package loads the client; ``import flightnb`` alone does not.
"""

from flightnb.functions.read import read_flight, read_flight_async
from flightnb.functions.sinks import write_dataset, write_ipc, write_parquet
from flightnb.functions.streaming import open_flight, open_flight_async
from flightnb.functions.write import (
    exchange_flight,
    exchange_flight_async,
    write_flight,
    write_flight_async,
)

__all__ = [
    "exchange_flight",
    "exchange_flight_async",
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

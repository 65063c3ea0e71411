"""The blocking Flight client: twins of the async client and its streams (see ``blocking``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from flightnb._deprecated import renamed_names
from flightnb.client.aio import AsyncFlightClient
from flightnb.client.blocking import (
    BlockingContext,
    blocking,
    blocking_close,
    blocking_iter,
    blocking_property,
    blocking_to,
    direct,
    mirror,
    on_loop,
    same_parameters,
)
from flightnb.client.flights import read_descriptor
from flightnb.client.streams import (
    AsyncFlightExchange,
    AsyncFlightPutWriter,
    AsyncFlightStreamReader,
    FlightStreamChunk,
)
from flightnb.types import as_descriptor

if TYPE_CHECKING:
    from flightnb.types import DescriptorLike

__all__ = ["FlightClient", "FlightExchange", "FlightPutWriter", "FlightStreamReader"]


class FlightStreamReader(BlockingContext[AsyncFlightStreamReader]):
    """Blocking twin of :class:`AsyncFlightStreamReader`: iterate, or ``read_all()``.

    ``schema`` waits for the schema message (as pyarrow.flight's reader does).

    Notes
    -----
    Named like :class:`FlightClient`: the blocking reader has the plain name, the async one
    the ``Async`` prefix. Until this release ``FlightStreamReader`` named the async reader
    (now :class:`AsyncFlightStreamReader`) and this class was ``FlightStreamReaderSync``, a
    name :mod:`flightnb.client.sync` still serves, with a DeprecationWarning, for one release.
    """

    schema = blocking_property(AsyncFlightStreamReader.get_schema, "The stream's schema (waits).")
    stats = mirror("stats", doc="Rows, batches and bytes received so far.")
    on_progress = mirror("on_progress", settable=True, doc="Called with ``stats`` per message.")
    get_schema = blocking(AsyncFlightStreamReader.get_schema)
    read_chunk = blocking(AsyncFlightStreamReader.read_chunk)
    read_all = blocking(AsyncFlightStreamReader.read_all)
    read_pandas = blocking(AsyncFlightStreamReader.read_pandas)  # type: ignore[arg-type]
    cancel = on_loop(AsyncFlightStreamReader.cancel)

    def __iter__(self) -> Iterator[FlightStreamChunk]:
        while (chunk := self.read_chunk()) is not None:
            yield chunk


class FlightPutWriter(BlockingContext[AsyncFlightPutWriter]):
    """Blocking twin of :class:`AsyncFlightPutWriter`: ``with client.do_put(...) as writer:``.

    Formerly ``FlightPutWriterSync`` (deprecated alias), when ``FlightPutWriter`` named the
    async writer.
    """

    stats = mirror("stats", doc="Rows, batches and bytes sent so far.")
    on_progress = mirror("on_progress", settable=True, doc="Called with ``stats`` per batch.")
    results = mirror("results", doc="The ``app_metadata`` of every PutResult read so far.")
    begin = blocking(AsyncFlightPutWriter.begin)
    write_batch = blocking(AsyncFlightPutWriter.write_batch)
    write_table = blocking(AsyncFlightPutWriter.write_table)
    write_metadata = blocking(AsyncFlightPutWriter.write_metadata)
    done_writing = blocking(AsyncFlightPutWriter.done_writing)
    read_result = blocking(AsyncFlightPutWriter.read_result)
    close = blocking(AsyncFlightPutWriter.close)
    cancel = on_loop(AsyncFlightPutWriter.cancel)


class FlightExchange(BlockingContext[AsyncFlightExchange]):
    """Blocking twin of :class:`AsyncFlightExchange`: write with ``write_*``, read as a stream.

    Formerly ``FlightExchangeSync`` (deprecated alias), when ``FlightExchange`` named the
    async exchange.
    """

    stats = mirror("stats", doc="Rows, batches and bytes sent so far.")
    on_progress = mirror("on_progress", settable=True, doc="Called with ``stats`` per batch.")
    begin = blocking(AsyncFlightExchange.begin)
    write_batch = blocking(AsyncFlightExchange.write_batch)
    write_table = blocking(AsyncFlightExchange.write_table)
    write_metadata = blocking(AsyncFlightExchange.write_metadata)
    done_writing = blocking(AsyncFlightExchange.done_writing)
    read_chunk = blocking(AsyncFlightExchange.read_chunk)
    read_all = blocking(AsyncFlightExchange.read_all)
    cancel = on_loop(AsyncFlightExchange.cancel)

    @property
    def reader(self) -> FlightStreamReader:
        """The reading half, as a blocking reader."""
        return FlightStreamReader.wrap(self._async.reader, self._portal)

    def __iter__(self) -> Iterator[FlightStreamChunk]:
        return iter(self.reader)


class FlightClient(BlockingContext[AsyncFlightClient]):
    """A blocking Arrow Flight client with the same methods as :class:`AsyncFlightClient`.

    Calls run on flightnb's private event-loop thread, so this works in scripts, IPython and
    running Jupyter kernels alike. Ctrl-C (or a kernel interrupt) cancels the call in flight.
    Takes the same arguments as :class:`AsyncFlightClient`; streams stay streams
    (``list_flights`` and ``do_action`` return iterators, ``do_get`` a blocking reader).

    Examples
    --------
    >>> with FlightClient("grpc://127.0.0.1:8815") as client:
    ...     table = client.do_get(b"trips").read_all()
    >>> table.column_names[:2]
    ['trip_id', 'started_at']
    """

    @same_parameters(AsyncFlightClient.__init__)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(AsyncFlightClient(*args, **kwargs))

    @property
    def async_client(self) -> AsyncFlightClient:
        """The underlying async client (its coroutines run on flightnb's loop thread)."""
        return self._async

    location = mirror("location", doc="Where the server is.")
    closed = mirror("closed", doc="True once the client was closed; it never reopens.")
    state = mirror("state", doc="Unopened, opened or closed.")
    timeout = mirror("timeout", settable=True, doc="Default per-call timeout in seconds.")
    issued_credential = mirror(
        "issued_credential", doc="Whether the server issued the credential calls carry now."
    )

    adopt_credentials = direct(AsyncFlightClient.adopt_credentials)
    close = blocking_close(AsyncFlightClient.close)
    handshake = blocking(AsyncFlightClient.handshake)
    list_flights = blocking_iter(AsyncFlightClient.list_flights)
    get_flight_info = blocking(AsyncFlightClient.get_flight_info)
    poll_flight_info = blocking(AsyncFlightClient.poll_flight_info)
    get_schema = blocking(AsyncFlightClient.get_schema)
    do_get = blocking_to(FlightStreamReader)(AsyncFlightClient.do_get)
    do_put = blocking_to(FlightPutWriter)(AsyncFlightClient.do_put)
    do_exchange = blocking_to(FlightExchange)(AsyncFlightClient.do_exchange)
    do_action = blocking_iter(AsyncFlightClient.do_action)
    list_actions = blocking(AsyncFlightClient.list_actions)
    cancel_flight_info = blocking(AsyncFlightClient.cancel_flight_info)
    renew_flight_endpoint = blocking(AsyncFlightClient.renew_flight_endpoint)
    set_session_options = blocking(AsyncFlightClient.set_session_options)
    get_session_options = blocking(AsyncFlightClient.get_session_options)
    close_session = blocking(AsyncFlightClient.close_session)

    def __exit__(self, *exc_info: Any) -> None:
        self.close()  # a no-op at interpreter exit, once flightnb's loop has shut down

    def read_flight(self, descriptor: DescriptorLike, **options: Any) -> pa.Table:
        """GetFlightInfo, then every endpoint concurrently, as one Table.

        Takes :func:`flightnb.client.flights.read_descriptor`'s options
        (``max_concurrency=``, ``observer=``, ``timeout=``).
        """
        return self._portal.run(read_descriptor(self._async, as_descriptor(descriptor), **options))


# The blocking twins were named FlightStreamReaderSync, ...; they now have the plain names,
# the async classes the Async prefix, like the clients.
if TYPE_CHECKING:
    FlightExchangeSync = FlightExchange
    FlightPutWriterSync = FlightPutWriter
    FlightStreamReaderSync = FlightStreamReader
else:
    __getattr__ = renamed_names(
        __name__,
        globals(),
        {
            f"Flight{kind}Sync": (f"Flight{kind}", f"use flightnb.Flight{kind}, the same class")
            for kind in ("Exchange", "PutWriter", "StreamReader")
        },
    )

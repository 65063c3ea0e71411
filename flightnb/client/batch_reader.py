"""The streaming readers users hold: ``FlightBatchReader`` and ``AsyncFlightBatchReader``.

``async for`` / ``for`` over ``pyarrow.RecordBatch``, ``read_all()``, ``to_reader()``,
``__arrow_c_stream__``, ``cancel()``, context managers. They drive a
:class:`~flightnb.client.batch_stream.FlightBatchStream` from the caller's loop, or from any
thread through flightnb's loop thread. The one-call entry points
(:func:`flightnb.open_flight`) are in :mod:`flightnb.functions.streaming`.
"""

from __future__ import annotations

import concurrent.futures
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from flightnb.client.batch_stream import (
    FlightBatchStream,
    FlightReadStats,
    StreamItem,
)
from flightnb.client.frame_reads import AsyncFrameReads, FrameReads
from flightnb.client.loop_thread import LoopPortal, LoopThread
from flightnb.errors import (
    FlightArgumentError,
    FlightCancelledError,
)
from flightnb.types import FlightInfo

if TYPE_CHECKING:
    pass

__all__ = ["AsyncFlightBatchReader", "FlightBatchReader"]


class _Front:
    """What both readers share: metadata, cancellation, and the blocking Arrow views."""

    def __init__(self, stream: FlightBatchStream, thread: LoopThread | LoopPortal | None) -> None:
        self._stream = stream
        self._thread = thread  # None: the stream runs on the caller's own loop
        self._ready: deque[pa.RecordBatch] = deque()
        self._exhausted = False
        self._budget = self._lent_budget = stream.max_buffer_bytes
        self._take_bytes = max(1, stream.max_buffer_bytes // 16)
        # An abandoned reader must not keep its calls (and servers) waiting forever.
        self._finalizer = weakref.finalize(self, stream.cancel_threadsafe)

    @property
    def schema(self) -> pa.Schema:
        """The schema of the batches (known when the reader is returned)."""
        schema = self._stream.schema
        assert schema is not None
        return schema

    @property
    def info(self) -> FlightInfo | None:
        """The FlightInfo that was read, or None for a single ticket."""
        return self._stream.info

    @property
    def stats(self) -> FlightReadStats:
        """Counters over every endpoint (rows, batches, bytes, buffered bytes, elapsed)."""
        return self._stream.stats

    def lend_buffer_bytes(self, held: int) -> None:
        """The consumer holds ``held`` bytes of its own (say, rows gathered for a Parquet row
        group): shrink the stream's budget by that much, to no less than a quarter of it."""
        budget = self._budget
        wanted = max(budget // 4, budget - held)
        # Small changes are not worth a hop to the loop thread.
        if abs(wanted - self._lent_budget) >= budget // 32 or (
            wanted == budget and self._lent_budget != budget
        ):
            self._lent_budget = wanted
            self._stream.set_buffer_bytes_threadsafe(wanted)

    def _close_with(self, close: Callable[[], Awaitable[None]]) -> None:
        """Await ``close`` once the stream has ended: a one-call helper's client goes with it."""
        stream = self._stream
        if self._thread is None or stream.on_own_loop():
            stream.close_also(close)
            return

        async def register() -> None:
            stream.close_also(close)

        self._thread.run(register())

    def cancel(self) -> None:
        """Cancel every call; safe from any thread. Later reads raise FlightCancelledError."""
        self._ready.clear()
        self._stream.cancel_threadsafe()

    def _run_blocking(self, coroutine: Any) -> Any:
        if self._thread is None:
            coroutine.close()
            self._refuse_blocking()
        assert self._thread is not None
        return self._thread.run(coroutine)

    def _refuse_blocking(self) -> None:
        if self._thread is None:
            raise FlightArgumentError(
                "this reader runs on your event loop (it was opened from an "
                "AsyncFlightClient), so a blocking view would deadlock it: use 'async for', "
                "or open the flight from a URI or a FlightClient"
            )

    def _blocking_items(self) -> Iterator[StreamItem]:
        while not self._exhausted:
            items = self._run_blocking(self._stream.next_items(self._take_bytes))
            if not items:
                self._exhausted = True
            yield from items

    def _blocking_batches(self) -> Iterator[pa.RecordBatch]:
        while self._ready:
            yield self._ready.popleft()
        for item in self._blocking_items():
            if item.batch is not None:
                yield item.batch

    def to_reader(self) -> pa.RecordBatchReader:
        """The rest of the stream as a ``pyarrow.RecordBatchReader`` (nothing materialized).

        Each read of the returned reader blocks until the next batch arrives.
        """
        self._refuse_blocking()
        return pa.RecordBatchReader.from_batches(self.schema, self._blocking_batches())

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The Arrow C stream interface: polars, DuckDB and pyarrow.dataset read it directly."""
        return self.to_reader().__arrow_c_stream__(requested_schema)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.stats!r})"


class FlightBatchReader(FrameReads, _Front):
    """A whole flight, batch by batch, from blocking code (see :func:`flightnb.open_flight`).

    Iterate for ``pyarrow.RecordBatch`` objects; ``read_all()`` collects the rest into a
    Table; ``to_reader()`` and ``__arrow_c_stream__`` hand the stream to Arrow consumers
    without materializing it. Leaving the ``with`` block (or :meth:`close`) cancels every
    call still running.

    Examples
    --------
    >>> import flightnb
    >>> total = 0
    >>> with flightnb.open_flight("grpc://127.0.0.1:8815", path="trips") as reader:
    ...     for batch in reader:
    ...         total += batch.num_rows
    >>> total == reader.info.total_records
    True
    """

    def __init__(self, stream: FlightBatchStream, thread: LoopThread | LoopPortal) -> None:
        super().__init__(stream, thread)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self

    def __next__(self) -> pa.RecordBatch:
        while not self._ready:
            if self._exhausted:
                raise StopIteration
            items = self._run_blocking(self._stream.next_items(self._take_bytes))
            if not items:
                self._exhausted = True
            self._ready.extend(i.batch for i in items if i.batch is not None)
        return self._ready.popleft()

    def read_next_batch(self) -> pa.RecordBatch:
        """The next batch; StopIteration at the end (as ``pyarrow.RecordBatchReader``)."""
        return next(self)

    def read_all(self) -> pa.Table:
        """The rest of the stream as one ``pyarrow.Table`` (in endpoint order when ordered)."""
        if not self._ready and not self._exhausted:
            self._exhausted = True
            table: pa.Table = self._run_blocking(self._stream.read_table())
            return table
        return pa.Table.from_batches(list(self), schema=self.schema)

    def items(self) -> Iterator[StreamItem]:
        """Batches with the index of their endpoint, and an end marker per endpoint.

        For a reader not iterated yet (batches already taken have lost their index).
        """
        if self._ready:
            raise FlightArgumentError("items() must come before any other iteration")
        yield from self._blocking_items()

    def close(self) -> None:
        """Cancel what still runs and wait until every call has ended."""
        assert self._thread is not None
        self._ready.clear()
        self._thread.run(self._stream.aclose())
        self._finalizer.detach()  # closed: nothing is left for garbage collection to cancel

    def __enter__(self) -> FlightBatchReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncFlightBatchReader(AsyncFrameReads, _Front):
    """A whole flight, batch by batch, for ``async`` code (see :func:`flightnb.open_flight_async`).

    ``async for batch in reader``, ``await reader.read_all()``, ``async with``; ``to_reader()``
    and ``__arrow_c_stream__`` block (they work when the flight was opened from a URI or a
    FlightClient, whose calls run on flightnb's loop thread).
    """

    def __init__(self, stream: FlightBatchStream, thread: LoopThread | LoopPortal | None) -> None:
        super().__init__(stream, thread)

    async def _call(self, coroutine: Any) -> Any:
        if self._thread is None:
            return await coroutine
        try:
            return await self._thread.run_async(coroutine)
        except concurrent.futures.CancelledError:
            raise FlightCancelledError("the read was cancelled", code="CANCELLED") from None

    def __aiter__(self) -> AsyncIterator[pa.RecordBatch]:
        return self

    async def __anext__(self) -> pa.RecordBatch:
        while not self._ready:
            if self._exhausted:
                raise StopAsyncIteration
            items = await self._call(self._stream.next_items(self._take_bytes))
            if not items:
                self._exhausted = True
            self._ready.extend(i.batch for i in items if i.batch is not None)
        return self._ready.popleft()

    async def read_all(self) -> pa.Table:
        """The rest of the stream as one ``pyarrow.Table`` (in endpoint order when ordered)."""
        if not self._ready and not self._exhausted:
            self._exhausted = True
            table: pa.Table = await self._call(self._stream.read_table())
            return table
        return pa.Table.from_batches([b async for b in self], schema=self.schema)

    def _to_blocking(self, portal: LoopThread | LoopPortal) -> FlightBatchReader:
        """This reader's stream as a blocking reader, driven through ``portal``.

        For the blocking client, whose async twin opened the stream on ``portal``'s loop.
        This reader must not be used afterwards.
        """
        self._finalizer.detach()  # the blocking reader takes over the stream's life
        return FlightBatchReader(self._stream, portal)

    async def aclose(self) -> None:
        """Cancel what still runs and wait until every call has ended."""
        self._ready.clear()
        await self._call(self._stream.aclose())
        self._finalizer.detach()  # closed: nothing is left for garbage collection to cancel

    async def __aenter__(self) -> AsyncFlightBatchReader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

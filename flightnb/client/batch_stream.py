"""The engine of streaming reads: every endpoint at once, memory bounded, batch by batch.

``FlightBatchStream`` lives on one event loop. One producer task per endpoint (at most
``max_concurrency`` at once) reads its DoGet through :meth:`AsyncFlightClient.do_get`, with
location failover, ``stall_timeout`` and endpoint renewal, into a buffer shared by all
endpoints. Once ``max_buffer_bytes`` of received, unconsumed messages are buffered, producers
stop calling ``read()`` on their gRPC calls, so HTTP/2 flow control slows the servers down.
The one consumer takes batches in endpoint order (``ordered``) or in arrival order.
:func:`open_stream` plans a read (a ticket, a FlightInfo) on a client and starts its stream.
The readers users hold are in :mod:`flightnb.client.batch_reader`.

Memory bound: the buffer holds at most ``max_buffer_bytes`` plus one message per running
stream (a producer checks for room before it reads, and a message's size is known only
after). In ordered mode the stream the consumer waits for may always read one message when
nothing of it is buffered, so a full buffer of later endpoints never deadlocks the read.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from flightnb.client.observer import TransferObserver, TransferStats, notify
from flightnb.client.rpcs import FlightRpcs
from flightnb.client.streams import AsyncFlightStreamReader, FlightStreamChunk
from flightnb.errors import (
    FlightArgumentError,
    FlightCancelledError,
    FlightDecodeError,
    FlightError,
    FlightTimedOutError,
    FlightUnavailableError,
)
from flightnb.transport.channels import STREAM_WINDOW_BYTES
from flightnb.transport.locations import is_reuse_connection
from flightnb.types import FlightEndpoint, FlightInfo, Location, Ticket

__all__ = [
    "DEFAULT_MAX_BUFFER_BYTES",
    "MAX_DEFAULT_CONCURRENCY",
    "FlightBatchStream",
    "FlightReadStats",
    "StreamItem",
    "default_concurrency",
    "locations_to_try",
    "open_stream",
]

_log = logging.getLogger("flightnb.client")

DEFAULT_MAX_BUFFER_BYTES = 256 << 20
#: The default concurrency is one stream per endpoint up to this many.
MAX_DEFAULT_CONCURRENCY = 16
#: What one open stream may hold outside our buffer: gRPC's receive window (fixed by the
#: channels, see flightnb.transport.channels), and about as much again in grpc's and the
#: sockets' buffers (a stalled 16 MiB-window stream let a server send 27 MiB past a full
#: buffer, a 64 MiB one 118 MiB: benchmarks/latency.py held); the default concurrency keeps
#: that within the memory budget.
_BYTES_PER_STREAM = 2 * STREAM_WINDOW_BYTES
#: Renew an endpoint this long before it expires.
_RENEW_MARGIN = dt.timedelta(seconds=5)
#: How long the best-effort CancelFlightInfo of an abandoned read may take.
CANCEL_DEADLINE_SECONDS = 1.0
#: Bound on renewals of one endpoint during one read.
_MAX_RENEWALS = 1000
#: One hop of a front takes at most this many items (fewer when they are large), so that
#: batches held by the front and not counted in the buffer stay few.
_TAKE_MAX_ITEMS = 256


def default_concurrency(endpoints: int, max_buffer_bytes: int) -> int:
    """One stream per endpoint, at most :data:`MAX_DEFAULT_CONCURRENCY`, within the budget."""
    within_budget = max(1, max_buffer_bytes // _BYTES_PER_STREAM)
    return max(1, min(endpoints, MAX_DEFAULT_CONCURRENCY, within_budget))


def locations_to_try(endpoint: FlightEndpoint) -> list[Location | None]:
    """Endpoint locations in order, then the original connection (None) if not listed."""
    tried: list[Location | None] = []
    for location in endpoint.locations:
        entry = None if is_reuse_connection(location) else location
        if entry not in tried:
            tried.append(entry)
    if None not in tried:
        tried.append(None)
    return tried


class FlightReadStats(TransferStats):
    """Counters of a whole-flight read, over every endpoint.

    Besides ``rows``, ``batches``, ``bytes`` (received from the wire), ``messages`` and
    ``elapsed``: ``endpoints`` (planned), ``endpoints_done``, ``buffered_bytes`` (received and
    not yet consumed, now) and ``peak_buffered_bytes``.
    """

    __slots__ = ("buffered_bytes", "endpoints", "endpoints_done", "peak_buffered_bytes")

    def __init__(self, endpoints: int = 0) -> None:
        super().__init__()
        self.endpoints = endpoints
        self.endpoints_done = 0
        self.buffered_bytes = 0
        self.peak_buffered_bytes = 0

    def __repr__(self) -> str:
        return (
            f"FlightReadStats(rows={self.rows}, batches={self.batches}, bytes={self.bytes}, "
            f"endpoints={self.endpoints_done}/{self.endpoints}, "
            f"peak_buffered_bytes={self.peak_buffered_bytes}, elapsed={self.elapsed:.3f}s)"
        )


@dataclass(frozen=True)
class StreamItem:
    """What the consumer takes: a batch of endpoint ``index``, or (``batch`` None) its end."""

    index: int
    batch: pa.RecordBatch | None
    nbytes: int = 0


class FlightBatchStream:
    """The batches of several endpoints, read concurrently into a bounded buffer.

    Create it on the loop that owns ``client`` (see :func:`open_stream`); every method runs
    there, except :meth:`cancel_threadsafe`.

    Parameters
    ----------
    client : AsyncFlightClient
    endpoints : sequence of (int, FlightEndpoint)
        The endpoints to read, in order, each with the index items report.
    info : FlightInfo or None
    schema : pyarrow.Schema, optional
        Fallback schema for streams that send none (FlightInfo's).
    ordered : bool
        Hand out batches in endpoint order (else in arrival order).
    max_concurrency : int
    max_buffer_bytes : int
    stall_timeout, timeout : float, optional
        Longest wait for one message; deadline of each DoGet.
    observer : TransferObserver, optional
    on_close : coroutine function, optional
        Called once when the stream ends, fails or is cancelled (closes an owned client).
    """

    def __init__(
        self,
        client: FlightRpcs,
        endpoints: Sequence[tuple[int, FlightEndpoint]],
        *,
        info: FlightInfo | None,
        schema: pa.Schema | None,
        ordered: bool,
        max_concurrency: int,
        max_buffer_bytes: int,
        stall_timeout: float | None = None,
        timeout: float | None = None,
        observer: TransferObserver | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if max_buffer_bytes <= 0:
            raise FlightArgumentError("max_buffer_bytes must be positive")
        if max_concurrency <= 0:
            raise FlightArgumentError("max_concurrency must be positive")
        if stall_timeout is not None and stall_timeout <= 0:
            raise FlightArgumentError("stall_timeout must be positive")
        self.loop = asyncio.get_running_loop()
        self.client = client
        self.info = info
        self.endpoints = list(endpoints)
        self.ordered = ordered
        self.max_concurrency = max_concurrency
        self.max_buffer_bytes = max_buffer_bytes
        self.stats = FlightReadStats(len(self.endpoints))
        self._fallback_schema = schema
        self._schema: pa.Schema | None = None
        self._stall = stall_timeout
        self._timeout = timeout
        self._observer = observer
        self._on_close = on_close
        self._closers: set[asyncio.Task[None]] = set()
        count = len(self.endpoints)
        self._queues: list[deque[StreamItem]] = [deque() for _ in range(count if ordered else 1)]
        self._ended = [False] * count
        self._head = 0  # ordered: the slot the consumer takes from
        self._next_start = 0
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._data_ready = asyncio.Event()
        self._room_ready = asyncio.Event()
        self._error: BaseException | None = None
        self._closing: asyncio.Task[None] | None = None
        self._closed = False
        self._renew_supported = True
        self._draining = False  # read_table: take from every endpoint, not the head only

    # --- life ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the first streams (and the progress display)."""
        notify(
            self._observer,
            "started",
            info=self.info,
            parts=len(self.endpoints),
            kind="read",
            cancel=self._cancel_from_display,
        )
        self._launch()
        if not self.endpoints:
            self._data_ready.set()
        waiting = [endpoint for _, endpoint in self.endpoints[self._next_start :]]
        if waiting:
            task = self.loop.create_task(self._connect_ahead(waiting))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _connect_ahead(self, endpoints: Sequence[FlightEndpoint]) -> None:
        """Connect to the locations of endpoints that wait for a free stream, right away.

        Their DoGets then find the connection (and TLS) up instead of paying its round trips
        when their turn comes. Only each endpoint's first location, the one that will be
        tried: a fallback location is connected to only if it is needed. A location that
        cannot be reached is left for its DoGet to report.
        """
        seen: set[str] = set()
        for endpoint in endpoints:
            location = locations_to_try(endpoint)[0]
            if location is None or location.uri in seen:
                continue
            seen.add(location.uri)
            try:
                await self.client._connect_ahead(location)
            except FlightError as exc:
                _log.debug("connecting ahead to %s failed: %s", location.uri, exc)

    def _launch(self) -> None:
        while (
            self._error is None
            and self._running < self.max_concurrency
            and self._next_start < len(self.endpoints)
        ):
            slot = self._next_start
            self._next_start += 1
            self._running += 1
            task = self.loop.create_task(self._produce(slot))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _fail(self, error: BaseException) -> None:
        """The first error wins; every other stream is cancelled, the consumer woken."""
        if self._error is None:
            self._error = error
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        self._data_ready.set()
        self._room_ready.set()

    def set_buffer_bytes(self, max_buffer_bytes: int) -> None:
        """Change the budget while the stream runs (a sink lends part of it to its rows)."""
        self.max_buffer_bytes = max(1, max_buffer_bytes)
        self._room_ready.set()

    def set_buffer_bytes_threadsafe(self, max_buffer_bytes: int) -> None:
        """:meth:`set_buffer_bytes` from any thread."""
        if _on_loop(self.loop):
            self.set_buffer_bytes(max_buffer_bytes)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed (interpreter exit)
                self.loop.call_soon_threadsafe(self.set_buffer_bytes, max_buffer_bytes)

    def _cancel_from_display(self) -> None:
        # A widget's Cancel button calls this from any thread.
        self.cancel_threadsafe(
            FlightCancelledError("cancelled from the progress display", code="CANCELLED")
        )

    def cancel(self, error: BaseException | None = None) -> None:
        """Cancel every call; a later read raises ``error`` (FlightCancelledError)."""
        if self._closed:
            return
        self._fail(error or FlightCancelledError("the read was cancelled", code="CANCELLED"))
        if self._closing is None:
            self._closing = self.loop.create_task(self._close(self._error))

    def cancel_threadsafe(self, error: BaseException | None = None) -> None:
        """:meth:`cancel` from any thread (a finalizer, a display, another loop)."""
        if self.loop.is_closed():
            return
        if _on_loop(self.loop):
            self.cancel(error)
        else:
            # RuntimeError: the loop closed meanwhile (interpreter exit).
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.cancel, error)

    def on_own_loop(self) -> bool:
        """Whether the caller runs on the stream's loop."""
        return _on_loop(self.loop)

    def close_also(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await ``callback`` too when the stream ends (a one-call helper's own client).

        Runs on the stream's loop; a stream that has ended already calls it at once.
        """
        first = self._on_close

        async def both() -> None:
            try:
                if first is not None:
                    await first()
            finally:
                await callback()

        if self._closed:
            task = asyncio.ensure_future(callback())
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)
        else:
            self._on_close = both

    async def aclose(self) -> None:
        """Cancel what still runs and wait until every call has ended."""
        if not self._closed:
            self.cancel()
        if self._closing is not None:
            await asyncio.shield(self._closing)

    async def _close(self, error: BaseException | None) -> None:
        if self._closed:
            return
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._clear()
        if error is not None:
            await self._cancel_on_server()
        if self.stats.finished is None:
            self.stats.finished = time.monotonic()
        try:
            if self._on_close is not None:
                await self._on_close()
        finally:
            notify(self._observer, "finished", error)

    async def _cancel_on_server(self) -> None:
        """Tell the server an unfinished flight is abandoned, so it can stop the query.

        Sent when a read that holds the whole FlightInfo is cancelled, times out, is
        interrupted or fails: CancelFlightInfo, with a deadline of
        :data:`CANCEL_DEADLINE_SECONDS`. Best effort: a server without the action, or one that
        is gone, is ignored, and the read's own error is what the caller sees. A read of only
        some endpoints (one Dask partition) leaves the others' flight alone.
        """
        info = self.info
        if info is None or self._all_ended() or len(self.endpoints) != len(info.endpoints):
            return
        try:
            await self.client.cancel_flight_info(info, timeout=CANCEL_DEADLINE_SECONDS)
        except (FlightError, asyncio.TimeoutError) as exc:
            _log.debug("CancelFlightInfo after an abandoned read failed: %s", exc)

    def _clear(self) -> None:
        for queue in self._queues:
            queue.clear()
        self.stats.buffered_bytes = 0

    # --- producers -----------------------------------------------------------------------

    async def _produce(self, slot: int) -> None:
        index, endpoint = self.endpoints[slot]
        keeper: asyncio.Task[None] | None = None
        try:
            endpoint = await self._renew_if_due(endpoint)
            if endpoint.expiration_time is not None:
                keeper = self.loop.create_task(self._keep_alive(endpoint))
            await self._read_endpoint(slot, index, endpoint)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._fail(exc)
        finally:
            if keeper is not None:
                keeper.cancel()
            self._running -= 1
            self._launch()

    async def _read_endpoint(self, slot: int, index: int, endpoint: FlightEndpoint) -> None:
        last_error: FlightUnavailableError | None = None
        observer = self._observer
        for location in locations_to_try(endpoint):
            reader = self.client.do_get(
                endpoint.ticket,
                location=location,
                schema=self._fallback_schema,
                timeout=self._timeout,
            )
            if observer is not None:
                reader.on_progress = lambda stats: notify(observer, "progressed", index, stats)
            try:
                async with reader:
                    await self._pump(slot, index, reader)
            except FlightUnavailableError as exc:
                # Only an endpoint that gave us nothing can be retried elsewhere without
                # duplicating rows.
                if reader.stats.messages:
                    raise
                last_error = exc
                continue
            return
        assert last_error is not None
        raise last_error

    async def _pump(self, slot: int, index: int, reader: AsyncFlightStreamReader) -> None:
        counted_bytes = counted_messages = 0
        while True:
            await self._wait_for_room(slot)
            chunk = await self._next_chunk(reader, index)
            nbytes = reader.stats.bytes - counted_bytes
            self.stats.bytes += nbytes
            self.stats.messages += reader.stats.messages - counted_messages
            counted_bytes, counted_messages = reader.stats.bytes, reader.stats.messages
            if self._schema is None and reader.schema is not None:
                self._schema = reader.schema
                self._data_ready.set()
            if chunk is None:
                break
            if chunk.data is not None:
                self._put(slot, StreamItem(index, chunk.data, nbytes))
        self._ended[slot] = True
        self.stats.endpoints_done += 1
        self._put(slot, StreamItem(index, None, 0))

    async def _next_chunk(
        self, reader: AsyncFlightStreamReader, index: int
    ) -> FlightStreamChunk | None:
        if self._stall is None:
            return await reader.read_chunk()
        try:
            return await asyncio.wait_for(reader.read_chunk(), self._stall)
        except asyncio.TimeoutError:
            # wait_for cancelled the read, and the reader cancelled its call on the wire.
            raise FlightTimedOutError(
                f"endpoint {index} sent nothing for {self._stall} s (stall_timeout)",
                code="DEADLINE_EXCEEDED",
            ) from None

    def _has_room(self, slot: int) -> bool:
        if self._error is not None:
            return True  # let the producer run into its cancellation
        if self.stats.buffered_bytes < self.max_buffer_bytes:
            return True
        # The stream the consumer waits for may read when nothing of it is buffered.
        return self.ordered and slot == self._head and not self._queues[slot]

    async def _wait_for_room(self, slot: int) -> None:
        while not self._has_room(slot):
            self._room_ready.clear()
            await self._room_ready.wait()

    def _put(self, slot: int, item: StreamItem) -> None:
        self._queues[slot if self.ordered else 0].append(item)
        if item.batch is not None:
            self.stats.rows += item.batch.num_rows
            self.stats.batches += 1
            self.stats.buffered_bytes += item.nbytes
            self.stats.peak_buffered_bytes = max(
                self.stats.peak_buffered_bytes, self.stats.buffered_bytes
            )
        self._data_ready.set()

    # --- expiration ----------------------------------------------------------------------

    async def _renew(self, endpoint: FlightEndpoint) -> FlightEndpoint | None:
        if not self._renew_supported:
            return None
        try:
            return await self.client.renew_flight_endpoint(endpoint, timeout=self._timeout)
        except FlightError as exc:
            # The read may still succeed (the server may not enforce the time); it fails
            # with the server's own error if not.
            if exc.code == "UNIMPLEMENTED":
                self._renew_supported = False
            _log.debug("RenewFlightEndpoint failed: %s", exc)
            return None

    async def _renew_if_due(self, endpoint: FlightEndpoint) -> FlightEndpoint:
        expires = endpoint.expiration_time
        if expires is None or expires - _utcnow() > _RENEW_MARGIN:
            return endpoint
        return await self._renew(endpoint) or endpoint

    async def _keep_alive(self, endpoint: FlightEndpoint) -> None:
        """Renew the endpoint shortly before it expires, for as long as its read runs."""
        for _ in range(_MAX_RENEWALS):
            expires = endpoint.expiration_time
            if expires is None:
                return
            await asyncio.sleep(max(0.0, (expires - _utcnow() - _RENEW_MARGIN).total_seconds()))
            renewed = await self._renew(endpoint)
            if renewed is None or renewed.expiration_time is None:
                return
            if renewed.expiration_time <= expires:
                return  # the server will not extend it: renewing again would spin
            endpoint = renewed

    # --- the consumer --------------------------------------------------------------------

    @property
    def schema(self) -> pa.Schema | None:
        """The first stream's schema (it is what the batches have), else FlightInfo's."""
        return self._schema if self._schema is not None else self._fallback_schema

    def _all_ended(self) -> bool:
        return all(self._ended)

    async def wait_schema(self) -> pa.Schema:
        """Wait until a stream has sent its schema (or every stream ended)."""
        while self._schema is None and self._error is None and not self._all_ended():
            self._data_ready.clear()
            await self._data_ready.wait()
        if self._error is not None:
            await self._raise_error()
        schema = self.schema
        if schema is None:
            raise FlightDecodeError("neither FlightInfo nor any endpoint stream carried a schema")
        return schema

    async def _raise_error(self) -> None:
        error = self._error
        assert error is not None
        if self._closing is None:
            self._closing = self.loop.create_task(self._close(error))
        await asyncio.shield(self._closing)
        raise error

    def _take(self, max_bytes: int) -> list[StreamItem]:
        if self._draining:
            return self._take_everything()
        taken: list[StreamItem] = []
        size = 0
        while len(taken) < _TAKE_MAX_ITEMS and (not taken or size < max_bytes):
            if self.ordered:
                if self._head >= len(self._queues):
                    break
                queue = self._queues[self._head]
                if not queue:
                    break
                item = queue.popleft()
                if item.batch is None:
                    self._head += 1
                    self._room_ready.set()  # a new head may read past a full buffer
            else:
                if not self._queues[0]:
                    break
                item = self._queues[0].popleft()
            taken.append(item)
            size += item.nbytes
        if size:
            self.stats.buffered_bytes -= size
            self._room_ready.set()
        return taken

    def _take_everything(self) -> list[StreamItem]:
        """Everything buffered, from every endpoint (a drain sorts by endpoint itself)."""
        taken = [item for queue in self._queues for item in queue]
        for queue in self._queues:
            queue.clear()
        if self.ordered:
            self._head = sum(self._ended)  # no end marker is left to advance it
        if taken:
            self.stats.buffered_bytes = 0
            self._room_ready.set()
        return taken

    async def next_items(self, max_bytes: int = 1) -> list[StreamItem]:
        """The next buffered items (at least one), or ``[]`` when every endpoint is done.

        Raises the first error of any stream (after cancelling the others), or
        FlightCancelledError once the stream was cancelled.
        """
        while True:
            if self._error is not None:
                await self._raise_error()
            items = self._take(max_bytes)
            if items:
                return items
            if self._all_ended() and not any(self._queues):
                if self._closing is None:
                    self._closing = self.loop.create_task(self._close(None))
                await asyncio.shield(self._closing)
                return []
            self._data_ready.clear()
            await self._data_ready.wait()

    async def read_table(self) -> pa.Table:
        """Drain everything into one Table, in endpoint order whatever the arrival order.

        Every endpoint's batches are taken as they come (an ordered stream stops holding
        later endpoints back), and put in endpoint order at the end.
        """
        self._draining = True
        by_slot: dict[int, list[pa.RecordBatch]] = {}
        slot_of = {index: slot for slot, (index, _) in enumerate(self.endpoints)}
        while items := await self.next_items(self.max_buffer_bytes):
            for item in items:
                if item.batch is not None:
                    by_slot.setdefault(slot_of[item.index], []).append(item.batch)
        batches = [b for slot in sorted(by_slot) for b in by_slot[slot]]
        schema = batches[0].schema if batches else self.schema
        if schema is None:
            raise FlightDecodeError("neither FlightInfo nor any endpoint stream carried a schema")
        return pa.Table.from_batches(batches, schema=schema)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


async def open_stream(
    client: FlightRpcs,
    what: FlightInfo | Ticket,
    *,
    max_concurrency: int | None = None,
    preserve_order: bool | None = None,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    stall_timeout: float | None = None,
    timeout: float | None = None,
    observer: TransferObserver | None = None,
    on_close: Callable[[], Awaitable[None]] | None = None,
    endpoints: Sequence[int] | None = None,
    wait_schema: bool = True,
) -> FlightBatchStream:
    """Start reading a FlightInfo's endpoints (or one ticket) and return the stream.

    ``endpoints`` picks which of ``info.endpoints`` to read (by index; default all). With
    ``wait_schema`` the call returns once the schema is known, so ``schema`` is set.
    """
    if isinstance(what, FlightInfo):
        info: FlightInfo | None = what
        chosen = range(len(what.endpoints)) if endpoints is None else endpoints
        pairs = [(i, what.endpoints[i]) for i in chosen]
        ordered = what.ordered if preserve_order is None else preserve_order
        schema = what.schema
    else:
        info, pairs, ordered, schema = None, [(0, FlightEndpoint(what))], True, None
    concurrency = (
        default_concurrency(len(pairs), max_buffer_bytes)
        if max_concurrency is None
        else max_concurrency
    )
    stream = FlightBatchStream(
        client,
        pairs,
        info=info,
        schema=schema,
        ordered=ordered,
        max_concurrency=concurrency,
        max_buffer_bytes=max_buffer_bytes,
        stall_timeout=stall_timeout,
        timeout=timeout,
        observer=observer,
        on_close=on_close,
    )
    stream.start()
    if wait_schema:
        try:
            await stream.wait_schema()
        except BaseException:
            await stream.aclose()
            raise
    return stream

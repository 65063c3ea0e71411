"""What a Flight handler receives and returns, independent of gRPC.

* :class:`ServerCall`: the call being answered (is it still wanted? who asked? with which
  headers?).
* :class:`BatchStream`: what DoGet answers with, a schema and the record batches to stream.
* :class:`Upload`: what DoPut hands a handler, the record batches the client sends, decoded
  as the handler reads them, so a large upload is never held whole unless the handler asks.

The Flight service (:mod:`flightnb.server.service`) builds these around each gRPC call.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import grpc
import pyarrow as pa

from flightnb.codec.decoder import FlightDataDecoder
from flightnb.codec.events import BatchReceived

__all__ = ["BatchStream", "ServerCall", "Upload"]


class ServerCall:
    """The gRPC call a handler answers.

    Parameters
    ----------
    context : grpc.ServicerContext
        gRPC's context of the call.
    """

    def __init__(self, context: grpc.ServicerContext) -> None:
        self._context = context

    def is_cancelled(self) -> bool:
        """True once the client has gone: it cancelled, timed out or disconnected."""
        return not self._context.is_active()

    def cancel(self) -> None:
        """End the call now (the client sees CANCELLED); frees a thread blocked sending."""
        self._context.cancel()

    def peer(self) -> str:
        """The client's address, as gRPC names it (``ipv4:127.0.0.1:5432``, ``unix:...``)."""
        return str(self._context.peer())

    @property
    def headers(self) -> dict[str, str | bytes]:
        """The call's request headers (metadata), lower-case names; the last value wins."""
        return {key: value for key, value in self._context.invocation_metadata() or ()}


@dataclass
class BatchStream:
    """A DoGet answer: every batch has ``schema``; ``batches`` is iterated as the client reads.

    ``batches`` may be a generator: it is closed when the call ends early, so its ``finally``
    blocks release what it holds.
    """

    schema: pa.Schema
    batches: Iterable[pa.RecordBatch]

    @classmethod
    def of_table(cls, table: pa.Table, *, max_rows: int | None = None) -> BatchStream:
        """The batches of a table, as chunked, each cut to at most ``max_rows`` rows.

        A table built elsewhere may hold chunks of a million rows or more; cut, each FlightData
        message stays within what clients accept by default (often 4 to 16 MiB).
        """
        return cls(table.schema, table.to_batches(max_chunksize=max_rows))


class Upload:
    """The record batches of a DoPut, decoded from the call's messages as they are read.

    Parameters
    ----------
    decoder : FlightDataDecoder
        The decoder that has seen the call's first message.
    first_events : list
        The events that first message produced (usually the schema).
    messages : iterator of bytes
        The rest of the call's serialized FlightData messages.
    """

    def __init__(
        self, decoder: FlightDataDecoder, first_events: list[object], messages: Iterator[bytes]
    ) -> None:
        self._decoder = decoder
        self._pending: collections.deque[pa.RecordBatch] = collections.deque(
            event.batch for event in first_events if isinstance(event, BatchReceived)
        )
        self._messages = messages
        self._done = False

    @property
    def schema(self) -> pa.Schema:
        """The upload's schema; an empty schema when the client sent none."""
        while self._decoder.schema is None and self._receive():
            pass
        schema = self._decoder.schema
        return schema if schema is not None else pa.schema([])

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            while self._pending:
                yield self._pending.popleft()
            if not self._receive():
                return

    def read_all(self) -> pa.Table:
        """Every remaining batch as one table."""
        return pa.Table.from_batches(list(self), schema=self.schema)

    def to_reader(self) -> pa.RecordBatchReader:
        """The remaining batches as a ``pyarrow.RecordBatchReader``."""
        return pa.RecordBatchReader.from_batches(self.schema, iter(self))

    def _receive(self) -> bool:
        """Decode the next message; False once the client has sent everything."""
        if self._done:
            return False
        message = next(self._messages, None)
        if message is None:
            self._done = True
            self._decoder.end()
            return False
        for event in self._decoder.receive(message):
            if isinstance(event, BatchReceived):
                self._pending.append(event.batch)
        return True

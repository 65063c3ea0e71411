"""The floor of a DoGet read in Python: a bare ``grpc.aio`` call that only receives.

No Flight client can hand a table to Python faster than grpc.aio hands it the messages, so
this is the yardstick ``benchmarks/run.py`` measures flightnb against (``efficiency = floor
time / flightnb time``). The floor does no protobuf parsing, no Arrow decoding, no error
mapping and no bookkeeping: it calls ``unary_stream`` DoGet with a raw-bytes response
(``response_deserializer=None``) and awaits ``call.read()`` until EOF.

To compare like with like, it runs the way flightnb's blocking ``FlightClient`` does: on an
event loop running on a daemon thread, with its channel created on that loop (and kept for
every read), the same message-size and metadata limits, and each read submitted from the
calling thread with ``run_coroutine_threadsafe`` and waited for in short waits.

By default that loop is flightnb's own loop thread, not a second one. grpc.aio has one
completion queue per process, polled by one thread that wakes *every* event loop holding a
grpc.aio channel; the loop that wakes first runs the events of its own calls and forwards the
others with ``call_soon_threadsafe`` (grpcio ``PollerCompletionQueue._handle_events``). A
second loop thread would therefore slow both readers down, by a varying amount. ``loop=None``
makes a private loop thread anyway, to show that effect.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import grpc
import grpc.aio

from flightnb._proto import Flight_pb2 as pb

__all__ = ["DOGET", "GrpcFloor"]

T = TypeVar("T")

DOGET = "/arrow.flight.protocol.FlightService/DoGet"
# The limits flightnb's channels set (flightnb/transport/channels.py): unlimited message
# sizes (a 64k-row int64 batch is 4 MiB, grpc's default limit) and 1 MiB of metadata.
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    ("grpc.max_metadata_size", 1 << 20),
    ("grpc.absolute_max_metadata_size", 1 << 20),
]
# flightnb's loop thread waits for a result in waits this long (so Ctrl-C is seen).
_WAIT_SECONDS = 0.1
_CLOSE_SECONDS = 5.0


class GrpcFloor:
    """A bare grpc.aio DoGet reader on its own event-loop thread.

    Parameters
    ----------
    target : str
        ``host:port`` of the Flight server (plaintext).
    timeout : float
        Deadline of each call, and the longest a read is waited for.
    loop : asyncio.AbstractEventLoop, optional
        A loop already running on another thread (flightnb's), to run on; it stays running
        after :meth:`close`. Without one, the floor starts and stops a loop thread of its own.
    """

    def __init__(
        self, target: str, timeout: float, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        self._timeout = timeout
        self._thread: threading.Thread | None = None
        if loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name="floor-loop", daemon=True)
            self._thread.start()
        self._loop = loop
        self._closed = False
        self._channel: grpc.aio.Channel = self._run(self._open(target))

    @property
    def own_loop(self) -> bool:
        """Whether this floor runs on a loop thread of its own."""
        return self._thread is not None

    async def _open(self, target: str) -> grpc.aio.Channel:
        # A grpc.aio channel belongs to the loop it is created on: create it there.
        return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        deadline = time.monotonic() + self._timeout + _CLOSE_SECONDS
        while True:
            try:
                return future.result(timeout=_WAIT_SECONDS)
            except concurrent.futures.TimeoutError:
                if future.done():
                    raise
                if time.monotonic() > deadline:
                    future.cancel()
                    raise TimeoutError("the floor read did not finish in time") from None

    async def _receive(self, ticket: bytes, copy: bool, keep: bool) -> list[bytes] | int:
        call = self._channel.unary_stream(
            DOGET,
            request_serializer=pb.Ticket.SerializeToString,
            response_deserializer=None,
        )(pb.Ticket(ticket=ticket), timeout=self._timeout)
        if keep:
            kept: list[bytes] = []
            while (message := await call.read()) is not grpc.aio.EOF:
                kept.append(bytes(memoryview(message)))  # one copy, kept as a table would be
            return kept
        count = 0
        while (message := await call.read()) is not grpc.aio.EOF:
            if copy:
                bytes(memoryview(message))  # one copy, dropped at once
            count += 1
        return count

    def receive(self, ticket: bytes) -> int:
        """Read the stream and drop every message; returns the message count."""
        result = self._run(self._receive(ticket, copy=False, keep=False))
        assert isinstance(result, int)
        return result

    def receive_copied(self, ticket: bytes) -> int:
        """Read the stream, copy each message once and drop the copy; the message count."""
        result = self._run(self._receive(ticket, copy=True, keep=False))
        assert isinstance(result, int)
        return result

    def receive_kept(self, ticket: bytes) -> list[bytes]:
        """Read the stream, copying each message once into a list that is returned."""
        result = self._run(self._receive(ticket, copy=True, keep=True))
        assert isinstance(result, list)
        return result

    def close(self) -> None:
        """Close the channel; stop and join an own loop thread (bounded)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._run(self._channel.close())
        finally:
            if self._thread is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=_CLOSE_SECONDS)
                if not self._thread.is_alive():
                    self._loop.close()

"""A Flight server written directly on grpc.aio with our generated stubs.

pyarrow.flight's server has no PollFlightInfo, no session options and cannot send arbitrary
bytes. This server runs on its own event loop thread on 127.0.0.1 and lets a test supply
handlers for exactly the RPCs it needs; any other RPC answers UNIMPLEMENTED.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio

from flightnb._proto import Flight_pb2_grpc

Handler = Callable[..., Any]


class _Servicer(Flight_pb2_grpc.FlightServiceServicer):
    def __init__(self, handlers: dict[str, Handler]) -> None:
        self._handlers = handlers

    def __getattribute__(self, name: str) -> Any:
        handlers = object.__getattribute__(self, "_handlers")
        if name in handlers:
            return handlers[name]
        return object.__getattribute__(self, name)


class RawFlightServer:
    """Serve ``handlers`` (RPC name -> grpc.aio servicer method) on ``127.0.0.1:<port>``.

    Handlers receive ``(request_or_iterator, context)`` like any grpc.aio servicer method.
    """

    def __init__(self, handlers: dict[str, Handler]) -> None:
        self._handlers = handlers
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: grpc.aio.Server | None = None
        self.port = 0

    @property
    def location(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        self._server = grpc.aio.server()
        Flight_pb2_grpc.add_FlightServiceServicer_to_server(_Servicer(self._handlers), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()

    def __enter__(self) -> RawFlightServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        asyncio.run_coroutine_threadsafe(self._server.stop(None), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

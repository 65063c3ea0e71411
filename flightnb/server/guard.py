"""The door of the server: every call is authenticated and counted before a handler runs.

:class:`CallGuard` is a gRPC server interceptor. For each call it asks
:class:`~flightnb.server.auth.ServerAuth` who is calling (a call without an accepted token is
answered UNAUTHENTICATED and never reaches a handler; Handshake decides for itself), then
takes one of that caller's slots: a caller with ``max_calls_per_client`` calls running gets
RESOURCE_EXHAUSTED for the next, so one client cannot take every worker thread of a server
that others share. The slot is given back when the call ends, however it ends.

A Handshake waits for its first message (a login may come there), so anyone could hold a
thread with one that never sends. One with a Basic or bearer ``authorization`` header is judged
from it at once (refused there when it is wrong); all others share one caller's slots, so
strangers cannot take every thread the owner's calls need.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

import grpc

from flightnb.server.auth import ServerAuth
from flightnb.server.errors import ServerError, exhausted

__all__ = ["CallGuard", "CallSlots"]

_HANDSHAKE = "/arrow.flight.protocol.FlightService/Handshake"
# The caller every Handshake without credentials in its headers is counted as.
_HANDSHAKING = "handshake without credentials"


class CallSlots:
    """Counts the running calls of each caller, refusing one over the limit."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"max_calls_per_client must be at least 1, got {limit}")
        self.limit = limit
        self._running: collections.Counter[str] = collections.Counter()
        self._lock = threading.Condition()

    def take(self, identity: str) -> Callable[[], None]:
        """Take a slot of ``identity``; returns what gives it back (once)."""
        with self._lock:
            if self._running[identity] >= self.limit:
                raise exhausted(
                    f"too many calls at once: this client already has {self.limit} running; "
                    "wait for some to finish"
                )
            self._running[identity] += 1
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._lock:
                self._running[identity] -= 1
                if self._running[identity] <= 0:
                    del self._running[identity]
                self._lock.notify_all()

        return release

    def running(self, identity: str | None = None) -> int:
        """Calls of ``identity`` (default: everyone) running now."""
        with self._lock:
            return self._count(identity)

    def wait_until_at_most(self, calls: int, *, timeout: float) -> bool:
        """Wait until at most ``calls`` calls run in all; False if ``timeout`` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._count(None) <= calls, timeout)

    def _count(self, identity: str | None) -> int:
        return sum(self._running.values()) if identity is None else self._running[identity]


class CallGuard(grpc.ServerInterceptor):  # type: ignore[misc]
    """Authenticates and counts every call (see the module docstring)."""

    def __init__(self, auth: ServerAuth, slots: CallSlots) -> None:
        self.auth = auth
        self.slots = slots

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return handler
        headers = {key: value for key, value in handler_call_details.invocation_metadata or ()}
        if handler_call_details.method == _HANDSHAKE:
            try:
                judged = self.auth.check_headers(headers)
            except ServerError as exc:
                return _refusing(handler, exc)
            return handler if judged else _counted(handler, self.slots, _HANDSHAKING)
        try:
            identity = self.auth.identify(headers)
        except ServerError as exc:
            return _refusing(handler, exc)
        return _counted(handler, self.slots, identity)


def _behavior_field(handler: grpc.RpcMethodHandler) -> str:
    streaming = (handler.request_streaming, handler.response_streaming)
    return {
        (False, False): "unary_unary",
        (False, True): "unary_stream",
        (True, False): "stream_unary",
        (True, True): "stream_stream",
    }[streaming]


def _refusing(handler: grpc.RpcMethodHandler, error: ServerError) -> grpc.RpcMethodHandler:
    """A handler of the same shape answering ``error`` at once."""

    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(error.code, error.message)

    return handler._replace(**{_behavior_field(handler): refuse})


def _counted(
    handler: grpc.RpcMethodHandler, slots: CallSlots, identity: str
) -> grpc.RpcMethodHandler:
    """A handler of the same shape that holds one of ``identity``'s slots while it runs."""
    field = _behavior_field(handler)
    behavior = getattr(handler, field)

    def counted(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            release = slots.take(identity)
        except ServerError as exc:
            context.abort(exc.code, exc.message)
        # Called when the call ends in any way, also for a stream the client abandons.
        if not context.add_callback(release):
            release()
        return behavior(request, context)

    return handler._replace(**{field: counted})

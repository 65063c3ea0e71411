"""Stopping DuckDB work that nobody waits for any more.

Three things end a query early:

* **The call is cancelled**: the client timed out, was interrupted or cancelled its gRPC call.
  A handler can ask its call ``is_cancelled()``, but while
  DuckDB computes, the handler's thread is inside DuckDB and cannot ask, so a watchdog thread
  asks for it, every ``poll_interval`` seconds, and interrupts the connection of each execution
  whose call is gone.
* **CancelFlightInfo** (or Flight SQL's older CancelQuery) names the tickets of a flight:
  executions redeeming those tickets are interrupted, and the tickets are remembered as
  cancelled so a later DoGet of them fails at once.
* **The time limit** (``time_limit``, the server's ``--query-timeout``) passes: the watchdog
  interrupts the work (DEADLINE_EXCEEDED) and, if its call has still not ended a moment later
  (a client that stopped reading holds the stream), cancels the call itself.

An interrupt reaches only the statement DuckDB runs at that moment, so the watchdog repeats it
on every tick until the execution ends, and handlers call :meth:`Execution.check` between
steps.

Examples
--------
>>> import duckdb
>>> registry = CancellationRegistry()
>>> con = duckdb.connect()
>>> with registry.running(con, ticket=b"t") as execution:
...     registry.cancel_ticket(b"t")
...     execution.cancelled
True
>>> registry.close()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from flightnb.server.errors import cancelled, too_slow

__all__ = ["CallContext", "CancellationRegistry", "Execution"]

_log = logging.getLogger(__name__)

# How long a timed-out call may stay after its interrupt before the call itself is cancelled.
_CALL_GRACE_SECONDS = 1.0


class CallContext(Protocol):
    """What the registry needs of a call: :class:`flightnb.server.calls.ServerCall` has it.

    A context with a ``cancel()`` method too can be ended when its time limit passed.
    """

    def is_cancelled(self) -> bool: ...


class Interruptible(Protocol):
    """A DuckDB connection, or anything else whose running work can be interrupted."""

    def interrupt(self) -> Any: ...


@dataclass(eq=False)
class Execution:
    """One piece of DuckDB work: the connection it runs on, its call and its ticket."""

    connection: Interruptible
    context: CallContext | None
    ticket: bytes | None
    cancelled: bool = False
    reason: str = ""
    #: ``time.monotonic()`` past which the work is stopped; None: no limit.
    deadline: float | None = None
    timed_out: bool = False
    #: The call itself was ended (its client stopped reading after the time limit).
    let_go: bool = False

    def check(self) -> None:
        """Raise CANCELLED if the work was cancelled, DEADLINE_EXCEEDED if it ran too long."""
        if self.timed_out:
            raise too_slow(self.reason)
        if self.cancelled:
            raise cancelled(self.reason or "the query was cancelled")


class CancellationRegistry:
    """The running executions, a watchdog that interrupts abandoned ones, cancelled tickets.

    Parameters
    ----------
    poll_interval : float, default 0.05
        Seconds between two looks at the running calls.
    remembered : int, default 1024
        How many cancelled tickets to remember.
    time_limit : float, optional
        Seconds any execution may run, streaming its result included; None: no limit.
    """

    def __init__(
        self, poll_interval: float = 0.05, remembered: int = 1024, time_limit: float | None = None
    ) -> None:
        if time_limit is not None and time_limit <= 0:
            raise ValueError(f"the query time limit must be positive, got {time_limit}")
        self._poll_interval = poll_interval
        self._time_limit = time_limit
        self._remembered = remembered
        self._running: set[Execution] = set()
        self._cancelled: OrderedDict[bytes, None] = OrderedDict()
        # The watchdog calls context.is_cancelled() only while holding this lock, and an
        # execution leaves the registry (under the lock) before its call ends, so the
        # watchdog never touches the context of a finished call.
        self._lock = threading.Condition()
        self._closed = False
        self._watchdog: threading.Thread | None = None

    # ------------------------------------------------------------------ executions

    def start(
        self,
        connection: Interruptible,
        *,
        context: CallContext | None = None,
        ticket: bytes | None = None,
    ) -> Execution:
        """Register work about to run; pair with :meth:`finish`."""
        execution = Execution(connection, context, ticket)
        if self._time_limit is not None:
            execution.deadline = time.monotonic() + self._time_limit
        with self._lock:
            if ticket is not None and ticket in self._cancelled:
                execution.cancelled, execution.reason = True, "the query was cancelled"
            self._running.add(execution)
            if context is not None or execution.deadline is not None:
                self._ensure_watchdog()
                self._lock.notify_all()
        return execution

    def finish(self, execution: Execution) -> None:
        """Forget finished work (idempotent)."""
        with self._lock:
            self._running.discard(execution)
            if not self._running:
                self._lock.notify_all()  # wait_idle(); the watchdog just looks again

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no execution is registered; False if some still are after ``timeout``.

        For tests and diagnostics: work ends on its own thread after its call ends.
        """
        with self._lock:
            return self._lock.wait_for(lambda: not self._running, timeout)

    @contextmanager
    def running(
        self,
        connection: Interruptible,
        *,
        context: CallContext | None = None,
        ticket: bytes | None = None,
    ) -> Iterator[Execution]:
        """Register work for the duration of the block; checks for cancellation on entry."""
        execution = self.start(connection, context=context, ticket=ticket)
        try:
            execution.check()
            yield execution
        finally:
            self.finish(execution)

    @property
    def running_count(self) -> int:
        """How many executions are registered."""
        with self._lock:
            return len(self._running)

    # ------------------------------------------------------------------ tickets

    def cancel_ticket(self, ticket: bytes, *, remember: bool = True) -> None:
        """Cancel the executions redeeming ``ticket`` now and, if ``remember``, later ones."""
        with self._lock:
            if remember:
                self._cancelled[ticket] = None
                while len(self._cancelled) > self._remembered:
                    self._cancelled.popitem(last=False)
            for execution in self._running:
                if execution.ticket == ticket:
                    self._interrupt(execution, "the query was cancelled")
            self._ensure_watchdog()
            self._lock.notify_all()

    def is_ticket_cancelled(self, ticket: bytes) -> bool:
        """Whether CancelFlightInfo named this ticket."""
        with self._lock:
            return ticket in self._cancelled

    # ------------------------------------------------------------------ watchdog

    @staticmethod
    def _interrupt(execution: Execution, reason: str) -> None:
        if not execution.cancelled:
            execution.cancelled, execution.reason = True, reason
        execution.connection.interrupt()

    def _ensure_watchdog(self) -> None:
        if self._watchdog is None and not self._closed:
            self._watchdog = threading.Thread(
                target=self._watch, name="flightnb-server-cancellation", daemon=True
            )
            self._watchdog.start()

    def poll(self) -> int:
        """Interrupt the executions whose call was cancelled; returns how many are cancelled.

        The watchdog calls this on every tick; tests may call it directly.
        """
        with self._lock:
            return self._poll_locked()

    def _poll_locked(self) -> int:
        cancelled = 0
        now = time.monotonic()
        for execution in self._running:
            if execution.deadline is not None and now >= execution.deadline:
                self._time_out(execution, now)
            if not execution.cancelled and execution.context is not None:
                try:
                    gone = execution.context.is_cancelled()
                except Exception:  # a context that cannot answer is not ours to judge
                    gone = False
                if gone:
                    execution.cancelled = True
                    execution.reason = "the client cancelled the call"
            if execution.cancelled:
                # Repeated on every tick: an interrupt reaches only the statement running now.
                execution.connection.interrupt()
                cancelled += 1
        return cancelled

    def _time_out(self, execution: Execution, now: float) -> None:
        assert execution.deadline is not None
        if not execution.timed_out:
            execution.timed_out = True
            execution.cancelled = True
            execution.reason = (
                f"the query ran longer than this server's limit of {self._time_limit:g} s"
            )
        elif now >= execution.deadline + _CALL_GRACE_SECONDS and execution.context is not None:
            # Still registered after the interrupt: the handler is not in DuckDB but blocked
            # sending to a client that does not read. Ending the call frees its thread.
            cancel = getattr(execution.context, "cancel", None)
            if cancel is not None and not execution.let_go:
                execution.let_go = True
                cancel()
                _log.warning(
                    "ended a call past the %g s time limit: its client stopped reading",
                    self._time_limit,
                )

    def _watch(self) -> None:
        with self._lock:
            while not self._closed:
                self._poll_locked()
                if any(
                    e.context is not None or e.cancelled or e.deadline is not None
                    for e in self._running
                ):
                    self._lock.wait(self._poll_interval)
                else:
                    self._lock.wait()

    def close(self) -> None:
        """Stop the watchdog."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.join(timeout=5)

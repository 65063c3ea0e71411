"""What a transfer reports while it runs: counters, and the observer protocol displays implement.

The client counts (``TransferStats``); displays (text bar, notebook widget) implement
``TransferObserver`` and only render. A failing display must never break a transfer, so every
call into an observer goes through :func:`notify`, which swallows the display's errors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from flightnb.errors import FlightCancelledError
from flightnb.types import FlightInfo

__all__ = ["TransferObserver", "TransferStats", "notify", "observed_transfer"]

_log = logging.getLogger("flightnb.progress")


class TransferStats:
    """Counters of one stream (one endpoint of a read, or one upload)."""

    __slots__ = ("batches", "bytes", "finished", "messages", "rows", "started")

    def __init__(self) -> None:
        self.rows = 0
        self.batches = 0
        self.bytes = 0
        self.messages = 0
        self.started = time.monotonic()
        self.finished: float | None = None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def __repr__(self) -> str:
        return (
            f"TransferStats(rows={self.rows}, batches={self.batches}, bytes={self.bytes}, "
            f"elapsed={self.elapsed:.3f}s)"
        )


class TransferObserver(Protocol):
    """Receives the progress of one read or upload.

    ``started`` comes first, with the FlightInfo when there is one (its ``total_records`` and
    ``total_bytes`` allow an ETA), the number of parallel streams (endpoints), the kind
    (``"read"`` or ``"upload"``), and a ``cancel`` callable a Cancel button may call from any
    thread. ``polled`` reports PollFlightInfo progress before data flows. ``progressed``
    comes after every message of stream ``part``. ``finished`` comes last, once.
    """

    def started(
        self,
        *,
        info: FlightInfo | None,
        parts: int,
        kind: str,
        cancel: Callable[[], None] | None,
    ) -> None: ...

    def polled(self, progress: float | None) -> None: ...

    def progressed(self, part: int, stats: TransferStats) -> None: ...

    def finished(self, error: BaseException | None) -> None: ...


def notify(observer: TransferObserver | None, method: str, *args: Any, **kwargs: Any) -> None:
    """Call ``observer.method(...)``; a display's failure is logged, never raised."""
    if observer is None:
        return
    try:
        getattr(observer, method)(*args, **kwargs)
    except Exception:
        _log.debug("progress display failed in %s", method, exc_info=True)


class _CancelHandle:
    """Cancels the task that runs a transfer, from any thread (e.g. a widget callback)."""

    def __init__(self) -> None:
        self.requested = False
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()

    def __call__(self) -> None:
        self.requested = True
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)


@asynccontextmanager
async def observed_transfer(
    observer: TransferObserver | None,
    *,
    info: FlightInfo | None,
    parts: int,
    kind: str = "read",
) -> AsyncIterator[None]:
    """Bracket a transfer with ``started``/``finished`` and turn a user's Cancel click into
    :class:`FlightCancelledError` (not a bare ``CancelledError``)."""
    if observer is None:
        yield
        return
    cancel = _CancelHandle()
    notify(observer, "started", info=info, parts=parts, kind=kind, cancel=cancel)
    try:
        yield
    except asyncio.CancelledError as exc:
        if cancel.requested:
            task = asyncio.current_task()
            if task is not None and hasattr(task, "uncancel"):
                task.uncancel()  # the cancellation is handled: it becomes an error
            error = FlightCancelledError("cancelled from the progress display", code="CANCELLED")
            notify(observer, "finished", error)
            raise error from exc
        notify(observer, "finished", exc)
        raise
    except BaseException as exc:
        notify(observer, "finished", exc)
        raise
    notify(observer, "finished", None)

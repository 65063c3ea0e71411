"""Reads that run while the user keeps working: ``%flight get ... --bg``.

The read runs on flightnb's own loop thread, not on the kernel's event loop: a cell that
computes (``time.sleep``, a pandas groupby) blocks the kernel's loop, never that thread, so
the read and its progress display go on meanwhile. The read's task runs in a copy of the
starting cell's context, so whatever it displays (the progress widget, its summary) lands in
the cell that started it, whichever cell runs when it draws.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import html
from collections.abc import Coroutine, Generator
from typing import Any

from flightnb.client.loop_thread import shared_loop_thread
from flightnb.errors import FlightCancelledError
from flightnb.progress.state import error_text

__all__ = ["BackgroundRead", "start_background"]


class BackgroundRead:
    """Handle of a background read: ``await handle``, ``result(timeout)``, ``cancel()``.

    Attributes
    ----------
    description : str
        What is read (``"read of trips"``).

    Examples
    --------
    >>> handle = %flight get trips --bg  # doctest: +SKIP
    >>> trips = await handle  # doctest: +SKIP
    """

    def __init__(self, future: concurrent.futures.Future[Any], description: str) -> None:
        self._future = future
        self.description = description

    def done(self) -> bool:
        """Finished: with data, with an error, or cancelled."""
        return self._future.done()

    def cancel(self) -> bool:
        """Cancel the read and its gRPC calls; False if it had already finished."""
        return self._future.cancel()

    def cancelled(self) -> bool:
        return self._future.cancelled()

    def _cancelled_error(self) -> FlightCancelledError:
        return FlightCancelledError(f"the {self.description} was cancelled", code="CANCELLED")

    def result(self, timeout: float | None = None) -> Any:
        """The data, waiting up to ``timeout`` seconds (None: until done).

        Raises the read's own error, FlightCancelledError if it was cancelled, and
        TimeoutError if it is still running after ``timeout``.
        """
        try:
            return self._future.result(timeout)
        except concurrent.futures.CancelledError:
            raise self._cancelled_error() from None
        except concurrent.futures.TimeoutError:
            raise TimeoutError(
                f"the {self.description} is still running after {timeout} s"
            ) from None

    async def _wait(self) -> Any:
        # Shielded: interrupting the cell that awaits stops the waiting, not the read.
        waiter = asyncio.wrap_future(self._future)
        try:
            return await asyncio.shield(waiter)
        except asyncio.CancelledError:
            if self._future.cancelled():
                raise self._cancelled_error() from None
            raise

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait().__await__()

    @property
    def status(self) -> str:
        """``running``, ``done``, ``cancelled`` or ``failed: <the error in one line>``."""
        if not self._future.done():
            return "running"
        if self._future.cancelled():
            return "cancelled"
        error = self._future.exception()
        return f"failed: {error_text(error)}" if error else "done"

    def __repr__(self) -> str:
        return f"<BackgroundRead {self.description}: {self.status}>"

    def _repr_html_(self) -> str:
        return f"<code>{html.escape(repr(self))}</code>"


def start_background(coroutine: Coroutine[Any, Any, Any], description: str) -> BackgroundRead:
    """Run ``coroutine`` on flightnb's loop thread, in a copy of the caller's context."""
    loop = shared_loop_thread().loop
    context = contextvars.copy_context()
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def start() -> None:
        if future.cancelled():
            coroutine.close()
            return
        # The task copies the context current when it is created: the caller's.
        task = context.run(loop.create_task, coroutine)

        def finish(done: asyncio.Task[Any]) -> None:
            # The handle stays PENDING (so cancel() works) until the task is over.
            if done.cancelled():
                future.cancel()
            elif future.set_running_or_notify_cancel():
                error = done.exception()
                if error is None:
                    future.set_result(done.result())
                else:
                    future.set_exception(error)

        task.add_done_callback(finish)
        future.add_done_callback(
            lambda f: loop.call_soon_threadsafe(task.cancel) if f.cancelled() else None
        )

    loop.call_soon_threadsafe(start)
    return BackgroundRead(future, description)
